#!/usr/bin/env python3
"""The times the end-to-end tests leave out: they check that each thing happens, and in
what order; how soon it happens is measured here, on the release build, RUNS times each.

  switch      a deploy in proxy mode: from the route's new generation in the history to
              `temps proxy` reporting it applied (the history polled every 0.5 ms)
  restart     `temps proxy` started again: from the start to the first 200 on its address
  drain       a request in flight on the old version (4 s) at a deploy: from its answer to
              the command's return (the drain ends when nothing is left in flight)
  drain limit the same with a 20 s request and `--drain 1s`: from the switch to the return
  drain ^C    the same with `--drain 30s`, SIGINT once switched: from SIGINT to the exit
  504         a hung app (`--response-timeout 1s`): from the request to the 504, on
              HTTP/1.1 (a raw socket) and h2c (curl --http2-prior-knowledge)
  idle        `--idle-timeout 2s`: from the last answer to the close on HTTP/1.1, and from
              the connection's start to its close on h2c while the client sends a PING
              every 200 ms
  over limit  `--max-connections 3` with 3 held: from a 4th connection to its close
  408         a head sent a byte every 0.5 s: from its first byte to the 408
  slow stop   port mode, an app that ignores SIGTERM, `--stop-timeout 3s`: SIGINT to the
              deploy that stops it, once the engine has sent SIGTERM; from that SIGTERM to
              temps' exit (it waits for the stop, then starts the old version again)

usage: limits_bench.py --temps BIN --work DIR --tag TAG --slow REPO --stubborn IMAGE --web IMAGE
REPO:v1 and REPO:v2 are the slow fixture (`/cgi-bin/slow?N` answers after N s). Prints a
table, writes DIR/limits.json; exit 3 when a median falls outside its window.
"""

import argparse
import json
import os
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import threading
import time

RUNS = int(os.environ.get("RUNS", "5"))
SLOWLORIS_RUNS = int(os.environ.get("SLOWLORIS_RUNS", "1"))
SKIP = {s for s in os.environ.get("SKIP", "").split(",") if s}


def log(text):
    print(f"bench: {text}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Temps:
    def __init__(self, binary, db):
        self.binary, self.db = binary, db

    def cmd(self, *args):
        return [self.binary, "--db", self.db, *args]

    def run(self, *args, check=True):
        p = subprocess.run(self.cmd(*args), capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if check and p.returncode != 0:
            raise RuntimeError(f"temps {' '.join(args)} exited {p.returncode}:\n{p.stdout}{p.stderr}")
        return p


class History:
    """The history, read-only, as the proxy and the deploy side leave it."""

    def __init__(self, db):
        self.db = db

    def _one(self, sql, *params):
        try:
            with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=1) as c:
                return c.execute(sql, params).fetchone()
        except sqlite3.Error:
            return None

    def route_generation(self, listen):
        row = self._one("SELECT MAX(generation) FROM routes WHERE listen = ?", listen)
        return row[0] if row and row[0] is not None else 0

    def proxy(self):
        """(pid, generation, in_flight total) as the proxy last reported."""
        row = self._one("SELECT pid, generation, in_flight FROM proxy_state WHERE id = 1")
        if not row:
            return None
        return row[0], row[1], sum(json.loads(row[2] or "{}").values())


class Proxy:
    def __init__(self, temps, history, log_path, *options, wait=True):
        self.log = open(log_path, "a")
        self.proc = subprocess.Popen(temps.cmd("proxy", *options), stdout=subprocess.DEVNULL,
                                     stderr=self.log)
        deadline = time.time() + 10
        while wait and time.time() < deadline:
            state = history.proxy()
            if state and state[0] == self.proc.pid:
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"temps proxy exited {self.proc.returncode}; see {log_path}")
            time.sleep(0.01)
        if wait:
            raise RuntimeError("temps proxy did not report within 10 s")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def http_get(port, path, timeout=60.0):
    """GET path on a new connection: (status, body), or (None, error)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: bench.example\r\nConnection: close\r\n\r\n".encode())
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        return int(head.split()[1]), body.decode(errors="replace").strip()
    except (OSError, ValueError, IndexError) as e:
        return None, str(e)


def read_answer(sock):
    """One answer with a Content-Length on a kept-alive connection: (status, body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before an answer")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")[1:]
                   if line.lower().startswith(b"content-length:")), 0)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed in the body")
        body += chunk
    return int(head.split()[1]), body


class InFlight:
    """GET path in a thread; `answered` is when its answer (or failure) came."""

    def __init__(self, port, path):
        self.answered, self.result = None, None
        self.thread = threading.Thread(target=self._run, args=(port, path), daemon=True)
        self.thread.start()

    def _run(self, port, path):
        self.result = http_get(port, path)
        self.answered = time.perf_counter()


def wait_until(what, check, timeout=30.0, every=0.001):
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise RuntimeError(f"timed out waiting for {what}")


class SwitchWatch:
    """Polls the history every 0.5 ms from before a switch: when the route's generation
    grew (`written`), and when the proxy reported it applied (`applied`)."""

    def __init__(self, history, listen):
        self.history, self.listen = history, listen
        self.before = history.route_generation(listen)
        self.written = self.applied = None
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        generation = None
        while not self.stop and self.applied is None:
            if generation is None:
                g = self.history.route_generation(self.listen)
                if g > self.before:
                    generation, self.written = g, time.perf_counter()
            else:
                state = self.history.proxy()
                if state and state[1] >= generation:
                    self.applied = time.perf_counter()
            time.sleep(0.0005)

    def wait(self, timeout=30.0):
        wait_until("the switch to be applied", lambda: self.applied, timeout)
        self.stop = True
        return self.written, self.applied


RESULTS = {}


def record(key, label, values, unit, window):
    RESULTS[key] = {"label": label, "values": values, "unit": unit, "window": window}
    scale = 1000 if unit == "ms" else 1
    log(f"{label}: " + ", ".join(f"{v * scale:.{1 if unit == 'ms' else 2}f}" for v in values) + f" {unit}")


# --- proxy mode -------------------------------------------------------------------------

class Site:
    def __init__(self, temps, history, work, project, slow):
        self.temps, self.history, self.work = temps, history, work
        self.project, self.slow = project, slow
        self.port = free_port()
        self.listen = f"127.0.0.1:{self.port}"
        self.version = 1
        temps.run("project", "create", project, "--health-path", "/healthz", "--health-timeout", "30s")
        self.proxy = Proxy(temps, history, f"{work}/proxy.log")
        self.deploy("--response-timeout", "0s", "--standby", "0s")

    def deploy_args(self, *extra, drain="10s"):
        self.version = 3 - self.version
        return ("deploy", self.project, "--image", f"{self.slow}:v{self.version}",
                "--proxy", self.listen, "--drain", drain, *extra)

    def deploy(self, *extra, drain="10s"):
        return self.temps.run(*self.deploy_args(*extra, drain=drain))

    def restart_proxy(self, *options):
        self.proxy.stop()
        self.proxy = Proxy(self.temps, self.history, f"{self.work}/proxy.log", *options)

    def in_flight(self):
        state = self.history.proxy()
        return state[2] if state else 0


def switch(site):
    values = []
    for _ in range(RUNS):
        watch = SwitchWatch(site.history, site.listen)
        site.deploy()
        written, applied = watch.wait()
        values.append(applied - written)
    record("switch", "switch: route written -> proxy reports it applied", values, "ms", [0, 1.0])


def restart(site):
    values = []
    for _ in range(RUNS):
        site.proxy.stop()
        started = time.perf_counter()
        site.proxy = Proxy(site.temps, site.history, f"{site.work}/proxy.log", wait=False)
        wait_until("the restarted proxy to answer", lambda: http_get(site.port, "/", 1.0)[0] == 200)
        values.append(time.perf_counter() - started)
        wait_until("the restarted proxy to report", lambda: (site.history.proxy() or [0])[0] == site.proxy.proc.pid)
    record("restart", "restart: start -> first 200", values, "s", [0, 1.0])


def drain(site):
    values = []
    for _ in range(RUNS):
        slow = InFlight(site.port, "/cgi-bin/slow?4")
        wait_until("the slow request in flight", site.in_flight)
        site.deploy()
        exited = time.perf_counter()
        slow.thread.join()
        if slow.result[0] != 200:
            raise RuntimeError(f"the request in flight failed: {slow.result}")
        values.append(exited - slow.answered)
    record("drain", "drain: last answer on the old version -> command returns", values, "s", [0, 2.0])


def drain_limit(site):
    values = []
    for _ in range(RUNS):
        InFlight(site.port, "/cgi-bin/slow?20")
        wait_until("the slow request in flight", site.in_flight)
        watch = SwitchWatch(site.history, site.listen)
        p = site.temps.run(*site.deploy_args(drain="1s"))
        exited = time.perf_counter()
        _, applied = watch.wait()
        if "ended at its limit" not in p.stderr:
            raise RuntimeError(f"the drain did not end at its limit:\n{p.stderr}")
        values.append(exited - applied)
    site.deploy()
    record("drain_limit", "drain --drain 1s, a 20 s request: switch -> command returns", values, "s", [1.0, 4.0])


def drain_interrupt(site):
    values = []
    for _ in range(RUNS):
        InFlight(site.port, "/cgi-bin/slow?20")
        wait_until("the slow request in flight", site.in_flight)
        watch = SwitchWatch(site.history, site.listen)
        deploy = subprocess.Popen(site.temps.cmd(*site.deploy_args(drain="30s")),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        watch.wait()
        interrupted = time.perf_counter()
        deploy.send_signal(signal.SIGINT)
        _, stderr = deploy.communicate(timeout=60)
        values.append(time.perf_counter() - interrupted)
        if deploy.returncode != 0 or "draining stopped early" not in stderr:
            raise RuntimeError(f"deploy exited {deploy.returncode}:\n{stderr}")
    site.deploy()
    record("drain_interrupt", "drain --drain 30s, SIGINT once switched: SIGINT -> exit", values, "s", [0, 3.0])


def h2c_status(port, path):
    p = subprocess.run(["curl", "-s", "-o", "/dev/null", "--http2-prior-knowledge", "-m", "60",
                        "-H", "Host: bench.example", "-w", "%{http_code}",
                        f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True)
    return p.stdout.strip()


def gateway_timeout(site):
    site.deploy("--response-timeout", "1s")
    h1, h2 = [], []
    for _ in range(RUNS):
        asked = time.perf_counter()
        status, body = http_get(site.port, "/cgi-bin/slow?20")
        h1.append(time.perf_counter() - asked)
        if status != 504:
            raise RuntimeError(f"HTTP/1.1: {status} {body}")
        asked = time.perf_counter()
        status = h2c_status(site.port, "/cgi-bin/slow?20")
        h2.append(time.perf_counter() - asked)
        if status != "504":
            raise RuntimeError(f"h2c: {status}")
    site.deploy("--response-timeout", "0s")
    record("timeout_h1", "504, --response-timeout 1s, HTTP/1.1: request -> 504", h1, "s", [1.0, 1.5])
    record("timeout_h2c", "504, --response-timeout 1s, h2c: request -> 504 (curl)", h2, "s", [1.0, 1.5])


def h2c_idle_with_pings(port):
    """An h2c connection that opens no stream and sends a PING every 200 ms (answering
    the server's SETTINGS and PINGs): seconds from its start to the server's close."""
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    started = time.perf_counter()
    frame = lambda kind, flags, payload=b"": (len(payload).to_bytes(3, "big") + bytes([kind, flags])
                                              + (0).to_bytes(4, "big") + payload)
    s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0))
    closed = threading.Event()

    def pings():
        n = 0
        while not closed.wait(0.2):
            n += 1
            try:
                s.sendall(frame(6, 0, n.to_bytes(8, "big")))
            except OSError:
                return

    threading.Thread(target=pings, daemon=True).start()
    buf = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
            while len(buf) >= 9 and len(buf) >= 9 + int.from_bytes(buf[:3], "big"):
                length, kind, flags = int.from_bytes(buf[:3], "big"), buf[3], buf[4]
                payload, buf = buf[9:9 + length], buf[9 + length:]
                if kind == 4 and not flags & 1:
                    s.sendall(frame(4, 1))
                elif kind == 6 and not flags & 1:
                    s.sendall(frame(6, 1, payload))
    except OSError:
        pass
    closed.set()
    s.close()
    return time.perf_counter() - started


def idle(site):
    site.restart_proxy("--idle-timeout", "2s")
    h1, h2 = [], []
    for _ in range(RUNS):
        with socket.create_connection(("127.0.0.1", site.port), timeout=30) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: bench.example\r\n\r\n")
            read_answer(s)
            answered = time.perf_counter()
            while s.recv(65536):
                pass
            h1.append(time.perf_counter() - answered)
        h2.append(h2c_idle_with_pings(site.port))
    site.restart_proxy()
    record("idle_h1", "--idle-timeout 2s, HTTP/1.1: last answer -> close", h1, "s", [2.0, 3.0])
    record("idle_h2c", "--idle-timeout 2s, h2c with PINGs every 200 ms: start -> close", h2, "s", [2.0, 3.0])


def over_limit(site):
    site.restart_proxy("--max-connections", "3")
    values = []
    held = []
    for _ in range(3):
        s = socket.create_connection(("127.0.0.1", site.port), timeout=30)
        s.sendall(b"GET / HTTP/1.1\r\nHost: bench.example\r\n\r\n")
        read_answer(s)
        held.append(s)
    for _ in range(RUNS):
        started = time.perf_counter()
        with socket.create_connection(("127.0.0.1", site.port), timeout=30) as s:
            try:
                while s.recv(65536):
                    pass
            except ConnectionResetError:
                pass
            values.append(time.perf_counter() - started)
    for s in held:
        s.close()
    site.restart_proxy()
    record("over_limit", "--max-connections 3, 3 held: a 4th connection -> closed", values, "ms", [0, 0.5])


def slowloris(site):
    values = []
    head = b"GET /slowloris HTTP/1.1\r\nHost: bench.example\r\nX-Pad: " + b"a" * 200 + b"\r\n\r\n"
    for _ in range(SLOWLORIS_RUNS):
        with socket.create_connection(("127.0.0.1", site.port), timeout=120) as s:
            answer = []

            def read():
                answer.append(s.recv(65536))
                answer.append(time.perf_counter())

            reader = threading.Thread(target=read, daemon=True)
            reader.start()
            started = time.perf_counter()
            for byte in head:
                if answer:
                    break
                try:
                    s.sendall(bytes([byte]))
                except OSError:
                    break
                time.sleep(0.5)
            reader.join(120)
            if not answer or not answer[0].startswith(b"HTTP/1.1 408"):
                raise RuntimeError(f"no 408: {answer[:1]}")
            values.append(answer[1] - started)
    record("slowloris", "a head a byte every 0.5 s: first byte -> 408", values, "s", [30.0, 31.5])


# --- port mode: an interrupt during a slow stop -------------------------------------------

def slow_stop(temps, work, project, stubborn, web):
    temps.run("project", "create", project, "--health-path", "/healthz", "--health-timeout", "30s",
              "--stop-timeout", "3s")
    port = free_port()
    first = json.loads(temps.run("-o", "json", "deploy", project, "--image", stubborn,
                                 "--publish", f"127.0.0.1:{port}").stdout)
    old = first["containers"][0]
    values = []
    for _ in range(RUNS):
        events = subprocess.Popen(
            ["docker", "events", "--filter", f"container={old}", "--filter", "event=kill",
             "--filter", "event=die", "--filter", "event=start", "--filter", "event=top",
             "--format", '{{.Action}} {{index .Actor.Attributes "signal"}}'],
            stdout=subprocess.PIPE, text=True)
        lines = []
        threading.Thread(target=lambda: [lines.append((l.strip(), time.perf_counter()))
                                         for l in events.stdout], daemon=True).start()
        # Subscribed once the container's own `top` event comes through.
        deadline = time.perf_counter() + 30
        while not any(l == "top" for l, _ in lines):
            if time.perf_counter() > deadline:
                raise RuntimeError("docker events never reported the container's top")
            subprocess.run(["docker", "top", old], capture_output=True)
            time.sleep(0.2)
        deploy = subprocess.Popen(temps.cmd("deploy", project, "--image", web),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        sigterm = wait_until("the engine's SIGTERM", lambda: next(
            (t for l, t in lines if l == "kill 15"), None))
        deploy.send_signal(signal.SIGINT)
        _, stderr = deploy.communicate(timeout=60)
        exited = time.perf_counter()
        order = [l for l, _ in lines if l != "top"]
        events.terminate()
        events.wait()
        if deploy.returncode != 130 or "is serving again" not in stderr:
            raise RuntimeError(f"deploy exited {deploy.returncode}:\n{stderr}")
        if "die" not in order or order[-1] != "start" or order.index("die") > len(order) - 2:
            raise RuntimeError(f"events out of order: {order}")
        values.append(exited - sigterm)
    record("slow_stop", "--stop-timeout 3s, SIGINT mid-stop: the engine's SIGTERM -> temps exits",
           values, "s", [3.0, 6.0])


def report(args):
    missed = []
    rows = []
    for key, r in RESULTS.items():
        scale = 1000 if r["unit"] == "ms" else 1
        values = r["values"]
        median = statistics.median(values)
        lo, hi = r["window"]
        ok = lo <= median <= hi
        if not ok:
            missed.append(key)
        fmt = (lambda v: f"{v * scale:.1f}") if r["unit"] == "ms" else (lambda v: f"{v:.2f}")
        rows.append((r["label"], len(values), fmt(median), fmt(min(values)), fmt(max(values)),
                     f"{fmt(lo)}-{fmt(hi)} {r['unit']}", "ok" if ok else "MISSED"))
        r["median"] = median
    widths = [max(len(str(row[i])) for row in rows + [HEADER]) for i in range(len(HEADER))]
    for row in [HEADER] + rows:
        print("  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in
                        enumerate(zip(row, widths))))
    with open(f"{args.work}/limits.json", "w") as fh:
        json.dump({"runs": RUNS, "results": RESULTS, "missed": missed}, fh, indent=2)
    return 3 if missed else 0


HEADER = ("series", "runs", "median", "min", "max", "window", "")


def main():
    parser = argparse.ArgumentParser()
    for name in ("temps", "work", "tag", "slow", "stubborn", "web"):
        parser.add_argument(f"--{name}", required=True)
    args = parser.parse_args()
    temps = Temps(args.temps, f"{args.work}/temps.db")
    history = History(temps.db)
    site = Site(temps, history, args.work, f"{args.tag}-px", args.slow)
    try:
        series = [("switch", switch), ("restart", restart), ("drain", drain),
                  ("drain", drain_limit), ("drain", drain_interrupt), ("timeout", gateway_timeout),
                  ("idle", idle), ("limit", over_limit), ("slowloris", slowloris)]
        for name, run in series:
            if name not in SKIP:
                run(site)
    finally:
        site.proxy.stop()
    if "stop" not in SKIP:
        slow_stop(temps, args.work, f"{args.tag}-stop", args.stubborn, args.web)
    sys.exit(report(args))


if __name__ == "__main__":
    main()
