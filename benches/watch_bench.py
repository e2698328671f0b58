#!/usr/bin/env python3
"""The watch window: from the first bad answer a client gets to the old version answering
again, when a new version starts answering 500 during its watch.

Each series has its own history and project (`--container-port 8080 --health-path
/healthz`), deployed v1 first. A run: clients send GET / (a new connection each, every
INTERVAL_MS each) from 300 ms before `temps -o json deploy P --image BAD --watch 60s` until
500 ms after it exited; BAD (the souring fixture) answers / with 200 for SOUR_AFTER
seconds after its container started, then with 500, and its /healthz with 404. The
command must exit 5 with an automatic rollback. Between runs, `temps promote` of what
serves clears the rolled-back state, so the next deploy switches again.

  proxy-warm   proxy mode, `--standby 30m`, SOUR_AFTER=2: the 5xx share fires (few good
               answers in the window before), the rollback takes the warm path.
  proxy-full   the same with SOUR_AFTER=12: a full 10 s window of good answers first, so
               the rule itself needs 5xx for about a tenth of the window (about 1 s at a
               steady rate) before it fires.
  port         port mode (`--publish`), SOUR_AFTER=2: the health check fails 3 times in a
               row (one probe a second), then a cold rollback (start v1 again).

Per run: `first bad` (the first 500 a client received), `back` (the first v1 answer
received to a request sent after that), their difference, the 500s the clients got,
other failures (refused, reset, timeout; none expected beyond what a port-mode swap
drops), and the command's time.

usage: watch_bench.py --temps BIN --work DIR --v1 IMAGE --bad IMAGE --tag TAG [--runs N]
Writes DIR/watch.json; exit 3 when proxy-warm's median misses 1 s.
"""

import argparse
import json
import os
import socket
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from proxy_bench import ProxyProcess, free_port, log, run_temps  # noqa: E402

INTERVAL_MS = 5
CLIENTS = 4
SETTLE_MS = 1000


def ask(port):
    """GET / on a new connection, read to the end: (status, body), or (None, why)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: bench.example\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        status = int(head.split(b"\r\n")[0].split()[1])
        return status, body.strip().decode(errors="replace")
    except (OSError, ValueError, IndexError) as err:
        return None, str(err) or type(err).__name__


class Load:
    """CLIENTS clients, one GET / every INTERVAL_MS each. Samples: (sent, received,
    status, body)."""

    def __init__(self, port):
        self.port = port
        self.stopping = threading.Event()
        self.samples, self.lock = [], threading.Lock()
        self.threads = [threading.Thread(target=self._client, daemon=True) for _ in range(CLIENTS)]
        for t in self.threads:
            t.start()

    def _client(self):
        mine, due = [], time.perf_counter()
        while not self.stopping.is_set():
            now = time.perf_counter()
            if now < due:
                time.sleep(due - now)
            due = max(due + INTERVAL_MS / 1000, time.perf_counter())
            sent = time.perf_counter()
            status, body = ask(self.port)
            mine.append((sent, time.perf_counter(), status, body))
        with self.lock:
            self.samples.extend(mine)

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join()
        return sorted(self.samples, key=lambda s: s[0])


def one_run(args, db, project, port):
    load = Load(port)
    time.sleep(0.3)
    took, p = run_temps(args.temps, db, "-o", "json", "deploy", project, "--image", args.bad,
                        "--watch", "60s", check=False)
    time.sleep(0.5)
    samples = load.stop()
    if p.returncode != 5:
        raise RuntimeError(f"the watched deploy exited {p.returncode}, not 5:\n{p.stdout}{p.stderr}")
    watched = json.loads(p.stdout)
    if not (watched.get("error") or "").startswith("automatic:"):
        raise RuntimeError(f"no automatic rollback: {watched}")
    bad = [s for s in samples if s[2] == 500]
    if not bad:
        raise RuntimeError("no client got a 500")
    first_bad = min(s[1] for s in bad)
    back = [s[1] for s in samples if s[0] >= first_bad and s[2] == 200 and s[3] == "v1"]
    if not back:
        raise RuntimeError("v1 never answered again")
    failed = [s for s in samples if s[2] is None]
    return {
        "bad_to_old_ms": (min(back) - first_bad) * 1000,
        "bad_answers": len(bad),
        "failed": len(failed),
        "requests": len(samples),
        "command_ms": took * 1000,
        "error": watched["error"],
    }


def series(args, name, mode, sour_after):
    db = os.path.join(args.work, f"{name}.db")
    project = f"{args.tag}-{name}"
    port = free_port()
    run_temps(args.temps, db, "project", "create", project, "--container-port", "8080",
              "--health-path", "/healthz", "--health-timeout", "10s")
    run_temps(args.temps, db, "env", "set", project, f"SOUR_AFTER={sour_after}")
    proxy = None
    try:
        if mode == "proxy":
            proxy = ProxyProcess(args.temps, db, os.path.join(args.work, f"{name}-proxy.log"))
            run_temps(args.temps, db, "deploy", project, "--image", args.v1, "--proxy",
                      f"127.0.0.1:{port}", "--drain", "2s", "--standby", "30m")
        else:
            run_temps(args.temps, db, "deploy", project, "--image", args.v1, "--publish",
                      f"127.0.0.1:{port}")
        runs = []
        for i in range(args.runs):
            if i > 0:
                _, p = run_temps(args.temps, db, "-o", "json", "status", project)
                current = json.loads(p.stdout)[0]["current"]["id"]
                run_temps(args.temps, db, "--yes", "promote", str(current))
                time.sleep(SETTLE_MS / 1000)
            result = one_run(args, db, project, port)
            log(f"{name} run {i + 1}: {result['bad_to_old_ms']:.0f} ms from the first 500 to v1, "
                f"{result['bad_answers']} 500s, {result['failed']} failed")
            runs.append(result)
        return runs
    finally:
        if proxy is not None:
            proxy.stop()


def summary(runs):
    times = sorted(r["bad_to_old_ms"] for r in runs)
    return {
        "runs": len(runs),
        "median_ms": statistics.median(times),
        "p95_ms": times[max(0, round(0.95 * len(times)) - 1)],
        "min_ms": times[0],
        "max_ms": times[-1],
        "bad_answers_median": statistics.median(r["bad_answers"] for r in runs),
        "failed": sum(r["failed"] for r in runs),
        "requests": sum(r["requests"] for r in runs),
        "command_median_ms": statistics.median(r["command_ms"] for r in runs),
        "signal": runs[-1]["error"],
    }


def main():
    parser = argparse.ArgumentParser()
    for name in ("--temps", "--work", "--v1", "--bad", "--tag"):
        parser.add_argument(name, required=True)
    parser.add_argument("--runs", type=int, default=int(os.environ.get("RUNS", "5")))
    args = parser.parse_args()
    raw = {}
    for name, mode, sour_after in (("proxy-warm", "proxy", 2), ("proxy-full", "proxy", 12),
                                   ("port", "port", 2)):
        raw[name] = series(args, name, mode, sour_after)
    result = {name: summary(runs) for name, runs in raw.items()}
    with open(os.path.join(args.work, "watch.json"), "w") as fh:
        json.dump({"summary": result, "raw": raw}, fh, indent=2)
    print("| series | runs | first 500 to v1: median ms | p95 ms | min … max ms | 500s per run (median) | other failures | command median ms |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, s in result.items():
        print(f"| {name} | {s['runs']} | {s['median_ms']:.0f} | {s['p95_ms']:.0f} | "
              f"{s['min_ms']:.0f} … {s['max_ms']:.0f} | {s['bad_answers_median']:.0f} | "
              f"{s['failed']} of {s['requests']} | {s['command_median_ms']:.0f} |")
    for name, s in result.items():
        print(f"{name}: {s['signal']}")
    if result["proxy-warm"]["median_ms"] >= 1000:
        log("target missed: proxy-warm median is 1 s or more")
        sys.exit(3)


if __name__ == "__main__":
    main()
