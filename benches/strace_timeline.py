#!/usr/bin/env python3
"""Run a command under `strace -f -ttt` and print where its time goes: each HTTP request
it sends (Engine API calls on the unix socket, health probes on TCP), from the request
line's sendto to the first recvfrom of the answer on the same fd, in ms since exec.

usage: strace_timeline.py CMD [ARG...]     (output of the command itself is discarded)
"""

import os
import re
import subprocess
import sys
import tempfile

LINE = re.compile(r"(\d+) +(\d+\.\d+) (\w+)\((\d+)?(.*)")
REQUEST = re.compile(r', "((?:GET|POST|DELETE|PUT|HEAD) [^ ]+)')


def timeline(cmd, trace_file):
    subprocess.run(["strace", "-f", "-ttt", "-s", "100", "-o", trace_file,
                    "-e", "trace=execve,sendto,recvfrom,exit_group", *cmd],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t0 = None
    pending = {}
    rows = []
    with open(trace_file) as fh:
        for raw in fh:
            m = LINE.match(raw)
            if not m:
                continue
            ts, call, fd, rest = float(m.group(2)), m.group(3), m.group(4), m.group(5)
            if call == "execve":
                t0 = ts if t0 is None else t0
                continue
            if t0 is None:
                continue
            req = REQUEST.match(rest)
            if call == "sendto" and req:
                pending[fd] = (ts, req.group(1))
            elif call == "recvfrom" and fd in pending and '"HTTP/1.' in rest:
                start, what = pending.pop(fd)
                rows.append((start, f"{(start - t0) * 1000:7.1f} +{(ts - start) * 1000:6.1f}  {what[:90]}"))
            elif call == "exit_group":
                rows.append((ts, f"{(ts - t0) * 1000:7.1f}           exit"))
    for start, what in pending.values():   # streams left open, like wait?condition=not-running
        rows.append((start, f"{(start - t0) * 1000:7.1f}   (open)  {what[:90]}"))
    return [text for _, text in sorted(rows)]


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    with tempfile.TemporaryDirectory() as tmp:
        print(" ms since exec, +duration, request")
        for line in timeline(sys.argv[1:], os.path.join(tmp, "strace.txt")):
            print(line)
