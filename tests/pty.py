#!/usr/bin/env python3
"""Drive a command through a pseudo-terminal, the way a person at a keyboard would.

    python3 tests/pty.py [--timeout SECS] [--rows N] [--cols N] [STEP ...] -- COMMAND [ARG ...]

The command runs with a new pty as its controlling terminal and as its stdin, stdout
and stderr. The steps run in order:

    --expect TEXT   wait until TEXT appears in the output (terminal escape sequences and
                    carriage returns removed), after where the previous --expect matched
    --send KEYS     wait until the command reads the terminal key by key (the terminal is
                    no longer in canonical mode, as while a prompt waits), then type KEYS
                    in one write, so an escape sequence arrives whole
    --write KEYS    type KEYS at once, without waiting for anything

KEYS understands the escapes \\r (Enter), \\n, \\t, \\e and \\xNN (ESC [ B is the down
arrow: "\\e[B" or "\\x1b[B"), and \\\\ for a backslash. After the last step the driver
reads until the command exits.

It prints one JSON document on stdout:

    {"exit_code": 0, "signal": null, "text": "...", "output": "...", "error": null}

`output` is everything the command wrote to the terminal; `text` is the same without
escape sequences and carriage returns; `error` says what went wrong (a step that timed
out: the command is then killed). The driver exits 0 when every step was done and the
command exited, 1 otherwise, 2 on a usage error. --timeout (default 60) bounds the whole
session; it only stops a hung session and is not meant as a timing assertion.
"""

import os
import sys

# This file is named like the standard module it uses: keep its own folder off the path,
# so that `import pty` below finds the standard one, not this script.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]
sys.dont_write_bytecode = True

import fcntl  # noqa: E402
import json  # noqa: E402
import pty  # noqa: E402
import re  # noqa: E402
import select  # noqa: E402
import signal  # noqa: E402
import struct  # noqa: E402
import termios  # noqa: E402
import time  # noqa: E402

ANSI = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: cursor movement, erase, colours
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC: window title
    r"|\x1b[@-Z\\-_]"  # two-character escapes
)


def usage(message):
    sys.stderr.write("pty.py: %s\n" % message)
    sys.stderr.write(__doc__.split("\n\n")[1] + "\n")
    sys.exit(2)


def decode_keys(text):
    """Turn the escapes of KEYS into the characters they stand for."""
    out = []
    i = 0
    simple = {"r": "\r", "n": "\n", "t": "\t", "e": "\x1b", "\\": "\\"}
    while i < len(text):
        c = text[i]
        if c != "\\" or i + 1 == len(text):
            out.append(c)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt in simple:
            out.append(simple[nxt])
            i += 2
        elif nxt == "x" and re.fullmatch(r"[0-9a-fA-F]{2}", text[i + 2 : i + 4]):
            out.append(chr(int(text[i + 2 : i + 4], 16)))
            i += 4
        else:
            out.append(c)
            i += 1
    return "".join(out)


def parse(argv):
    timeout, rows, cols, steps = 60.0, 50, 200, []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            command = argv[i + 1 :]
            if not command:
                usage("no command after --")
            return timeout, rows, cols, steps, command
        if i + 1 >= len(argv):
            usage("%s needs a value" % arg)
        value = argv[i + 1]
        if arg == "--timeout":
            timeout = float(value)
        elif arg == "--rows":
            rows = int(value)
        elif arg == "--cols":
            cols = int(value)
        elif arg == "--expect":
            steps.append(("expect", value))
        elif arg == "--send":
            steps.append(("send", decode_keys(value)))
        elif arg == "--write":
            steps.append(("write", decode_keys(value)))
        else:
            usage("unknown option %s" % arg)
        i += 2
    usage("missing -- COMMAND")


class Session:
    def __init__(self, command, rows, cols, deadline):
        self.deadline = deadline
        self.raw = bytearray()
        self.eof = False
        self.searched = 0  # where the next --expect starts looking, in `text()`
        pid, fd = pty.fork()
        if pid == 0:
            try:
                os.execvp(command[0], command)
            except OSError as err:
                os.write(2, ("pty.py: cannot run %s: %s\n" % (command[0], err)).encode())
            os._exit(127)
        self.pid, self.fd = pid, fd
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def text(self):
        plain = ANSI.sub("", self.raw.decode("utf-8", "replace"))
        return plain.replace("\r", "")

    def pump(self, wait):
        """Read what the command wrote, waiting at most `wait` seconds for it."""
        if self.eof:
            return
        ready, _, _ = select.select([self.fd], [], [], wait)
        if not ready:
            return
        try:
            chunk = os.read(self.fd, 65536)
        except OSError:  # EIO: the command closed its terminal (it exited)
            chunk = b""
        if chunk:
            self.raw.extend(chunk)
        else:
            self.eof = True

    def remaining(self):
        return self.deadline - time.monotonic()

    def expect(self, wanted):
        while True:
            found = self.text().find(wanted, self.searched)
            if found >= 0:
                self.searched = found + len(wanted)
                return None
            if self.eof:
                return "the command ended before printing %r" % wanted
            if self.remaining() <= 0:
                return "timed out waiting for %r" % wanted
            self.pump(min(0.05, max(self.remaining(), 0)))

    def waiting_for_a_key(self):
        try:
            lflag = termios.tcgetattr(self.fd)[3]
        except termios.error:
            return False
        return not lflag & termios.ICANON

    def send(self, keys, wait_for_raw):
        if wait_for_raw:
            while not self.waiting_for_a_key():
                if self.eof:
                    return "the command ended before reading %r" % keys
                if self.remaining() <= 0:
                    return "timed out waiting for the command to read %r" % keys
                self.pump(0.01)
        data = keys.encode()
        while data:
            written = os.write(self.fd, data)
            data = data[written:]
        return None

    def finish(self):
        """Read until the command exits; its (exit code, signal), or None on timeout."""
        while not self.eof and self.remaining() > 0:
            self.pump(min(0.05, max(self.remaining(), 0)))
        while self.remaining() > 0:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return status_of(status)
            time.sleep(0.01)
        return None

    def kill(self):
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                break
            for _ in range(100):
                pid, status = os.waitpid(self.pid, os.WNOHANG)
                if pid:
                    return status_of(status)
                self.pump(0)
                time.sleep(0.02)
        return None


def status_of(status):
    if os.WIFSIGNALED(status):
        return None, os.WTERMSIG(status)
    return os.WEXITSTATUS(status), None


def main():
    timeout, rows, cols, steps, command = parse(sys.argv[1:])
    session = Session(command, rows, cols, time.monotonic() + timeout)
    error = None
    for kind, value in steps:
        if kind == "expect":
            error = session.expect(value)
        else:
            error = session.send(value, wait_for_raw=(kind == "send"))
        if error:
            break
    ended = None if error else session.finish()
    if ended is None:
        error = error or "timed out waiting for the command to exit"
        ended = session.kill() or (None, None)
    try:
        os.close(session.fd)
    except OSError:
        pass
    exit_code, sig = ended
    json.dump(
        {
            "exit_code": exit_code,
            "signal": sig,
            "text": session.text(),
            "output": session.raw.decode("utf-8", "replace"),
            "error": error,
        },
        sys.stdout,
    )
    sys.stdout.write("\n")
    sys.exit(1 if error else 0)


if __name__ == "__main__":
    main()
