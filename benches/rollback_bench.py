#!/usr/bin/env python3
"""Rollback and deploy latency: temps against the engine's own floor.

Three series, interleaved run by run (in rotating order, SETTLE_MS apart) so that load
on the shared engine hits them alike, each on its own published port and serving the fixture images (httpd on 8080, /healthz):

  floor     the same swap done directly on the Docker Engine API over the unix socket,
            in the order temps does it (create new, stop old, start new, then GET
            /healthz on the published port every FLOOR_POLL_MS until it answers 200;
            the old container is kept, stopped, as temps keeps its standbys);
  rollback  `temps rollback N --yes`, alternating between two deployments (#1 v1, #2 v2:
            rollback 1, rollback 2, rollback 1, ...), project health path /healthz;
  deploy    `temps deploy P --image IMAGE`, alternating v1 and v2 (images present).

Each temps run is timed from spawning the process to its exit (so it includes process
start, the SQLite work, the Engine API calls and the health check); the history's
created_at/finished_at split it into "before the row" and "record -> routed".

usage: rollback_bench.py --temps BIN --work DIR --v1 IMAGE --v2 IMAGE --tag TAG [--runs N]
Prints a table and writes DIR/rollback.json. The caller (rollback.sh) removes every
container labelled dev.temps.project=<TAG>-* and the temps/<TAG>-*:* tags afterwards.
"""

import argparse
import http.client
import json
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import time

API = "/v1.41"
HEALTH_PATH = "/healthz"


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=120)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


class Engine:
    """The Engine API, one keep-alive connection (bollard keeps one too)."""

    def __init__(self, sock="/var/run/docker.sock"):
        host = os.environ.get("DOCKER_HOST", "")
        if host.startswith("unix://"):
            sock = host[len("unix://"):]
        self.conn = UnixHTTPConnection(sock)

    def call(self, method, path, body=None, ok=(200, 201, 204, 304)):
        headers = {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        self.conn.request(method, API + path, body=data, headers=headers)
        resp = self.conn.getresponse()
        raw = resp.read()
        if resp.status not in ok:
            raise RuntimeError(f"{method} {path}: HTTP {resp.status}: {raw[:300]!r}")
        return json.loads(raw) if raw and resp.getheader("Content-Type", "").startswith("application/json") else None

    def image_id(self, ref):
        return self.call("GET", f"/images/{ref}/json")["Id"]

    def create(self, name, image_id, project, port, deployment):
        self.call("POST", f"/containers/create?name={name}", {
            "Image": image_id,
            "Env": [],
            "Labels": {"dev.temps.project": project, "dev.temps.environment": "production",
                       "dev.temps.deployment": str(deployment)},
            "ExposedPorts": {"8080/tcp": {}},
            "HostConfig": {"PortBindings": {"8080/tcp": [{"HostPort": str(port)}]}},
        })

    def stop(self, name, t=10):
        self.call("POST", f"/containers/{name}/stop?t={t}")

    def start(self, name):
        self.call("POST", f"/containers/{name}/start")

    def remove(self, name):
        self.call("DELETE", f"/containers/{name}?force=true", ok=(204, 404))


def http_status(port, path=HEALTH_PATH, timeout=1.0):
    """One HTTP/1.0 GET on 127.0.0.1:port; the status code, or None."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".encode())
            head = b""
            while len(head) < 12:
                chunk = s.recv(64)
                if not chunk:
                    return None
                head += chunk
            return int(head.split()[1])
    except (OSError, ValueError, IndexError):
        return None


def body_of(port):
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        s.sendall(b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    return data.split(b"\r\n\r\n", 1)[-1].strip().decode()


def wait_healthy(port, poll_s, deadline_s=30.0):
    end = time.perf_counter() + deadline_s
    while time.perf_counter() < end:
        if http_status(port) == 200:
            return
        time.sleep(poll_s)
    raise RuntimeError(f"port {port} not healthy within {deadline_s}s")


def free_port():
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        return s.getsockname()[1]


class Floor:
    """Alternate two images on one published port through the Engine API."""

    def __init__(self, engine, project, images, port, poll_s):
        self.engine, self.project, self.images, self.port, self.poll = engine, project, images, port, poll_s
        self.seq = 0
        self.current = self._name(0)
        engine.create(self.current, images[0], project, port, 0)
        engine.start(self.current)
        wait_healthy(port, poll_s)

    def _name(self, i):
        return f"{self.project}-{i}"

    def swap(self):
        self.seq += 1
        new = self._name(self.seq)
        image = self.images[self.seq % 2]
        e = self.engine
        t0 = time.perf_counter()
        e.create(new, image, self.project, self.port, self.seq)
        t1 = time.perf_counter()
        e.stop(self.current)
        t2 = time.perf_counter()
        e.start(new)
        t3 = time.perf_counter()
        wait_healthy(self.port, self.poll)
        t4 = time.perf_counter()
        # The old container stays, stopped, as temps keeps its standbys (the engine holds
        # as many containers as temps leaves it with); rollback.sh removes them all.
        self.current = new
        return {"total": t4 - t0, "create": t1 - t0, "stop": t2 - t1, "start": t3 - t2, "healthy": t4 - t3}


def run_temps(temps, db, *args):
    t0 = time.perf_counter()
    p = subprocess.run([temps, "--db", db, *args], capture_output=True, text=True)
    took = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"temps {' '.join(args)} exited {p.returncode}:\n{p.stdout}{p.stderr}")
    return took, p.stdout


def row_times(db, deployment_id):
    with sqlite3.connect(db) as c:
        created, finished = c.execute(
            "SELECT created_at, finished_at FROM deployments WHERE id = ?", (deployment_id,)).fetchone()
    return created / 1000.0, finished / 1000.0


def trace_rollback(temps, db, target, work):
    """Where one `temps rollback` spends its time (see strace_timeline.py)."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from strace_timeline import timeline
    return timeline([temps, "--db", db, "rollback", str(target), "--yes"],
                    os.path.join(work, "strace.txt"))


def stats(values):
    v = sorted(values)
    q = statistics.quantiles(v, n=10, method="inclusive") if len(v) > 1 else v * 9
    return {
        "n": len(v), "median": statistics.median(v), "mean": statistics.fmean(v),
        "stdev": statistics.stdev(v) if len(v) > 1 else 0.0, "min": v[0], "p10": q[0], "p90": q[-1], "max": v[-1],
    }


def ms(x):
    return f"{x * 1000:7.1f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--temps", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--v1", required=True)
    ap.add_argument("--v2", required=True)
    ap.add_argument("--tag", required=True, help="prefix of the project names, for cleanup")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--trace", action="store_true", help="strace one more rollback, print its timeline")
    ap.add_argument("--settle-ms", type=float, default=float(os.environ.get("SETTLE_MS", "300")))
    ap.add_argument("--floor-poll-ms", type=float, default=float(os.environ.get("FLOOR_POLL_MS", "5")))
    args = ap.parse_args()

    engine = Engine()
    version = engine.call("GET", "/version")
    images = [engine.image_id(args.v1), engine.image_id(args.v2)]
    temps, db = args.temps, os.path.join(args.work, "rollback.db")
    rb_project, dp_project, fl_project = f"{args.tag}-rb", f"{args.tag}-dp", f"{args.tag}-floor"
    rb_port, dp_port, fl_port = free_port(), free_port(), free_port()
    poll = args.floor_poll_ms / 1000.0

    # temps: one project to roll back (#1 v1, #2 v2), one to deploy; fresh history, so ids are 1, 2.
    for project in (rb_project, dp_project):
        run_temps(temps, db, "-q", "project", "create", project, "--container-port", "8080",
                  "--health-path", HEALTH_PATH)
    run_temps(temps, db, "-q", "deploy", rb_project, "--image", args.v1, "--publish", str(rb_port))
    run_temps(temps, db, "-q", "deploy", rb_project, "--image", args.v2)
    run_temps(temps, db, "-q", "deploy", dp_project, "--image", args.v1, "--publish", str(dp_port))
    assert body_of(rb_port) == "v2" and body_of(dp_port) == "v1", "setup did not serve what it should"
    floor = Floor(engine, fl_project, images, fl_port, poll)

    state = {"rollback_target": 1,   # #1 serves v1, #2 v2: every rollback alternates between them
             "deploy_next": 1}       # index into (v1, v2): the deploy project serves v1 now

    def do_floor():
        return floor.swap()

    def do_rollback():
        target = state["rollback_target"]
        took, out = run_temps(temps, db, "-o", "json", "rollback", str(target), "--yes")
        new = json.loads(out)
        got = body_of(rb_port)
        if got != ("v1" if target == 1 else "v2") or new["status"] != "deployed":
            raise RuntimeError(f"rollback to #{target}: serves {got!r}, status {new['status']}")
        created, finished = row_times(db, new["id"])
        state["rollback_target"] = 2 if target == 1 else 1
        return {"total": took, "swap": finished - created}

    def do_deploy():
        index = state["deploy_next"]
        image = (args.v1, args.v2)[index]
        took, out = run_temps(temps, db, "-o", "json", "deploy", dp_project, "--image", image)
        new = json.loads(out)
        got = body_of(dp_port)
        if got != ("v1", "v2")[index] or new["status"] != "deployed":
            raise RuntimeError(f"deploy {image}: serves {got!r}, status {new['status']}")
        created, finished = row_times(db, new["id"])
        state["deploy_next"] ^= 1
        return {"total": took, "swap": finished - created}

    series = [("floor", do_floor), ("rollback", do_rollback), ("deploy", do_deploy)]
    results = {name: [] for name, _ in series}
    for i in range(args.warmup + args.runs):
        keep = i >= args.warmup
        # Rotate the order each run, and let the engine settle between operations: the
        # engine finishes some work of a stop (network teardown) after answering, and it
        # must not always land on the same series.
        now = {}
        for name, run in series[i % 3:] + series[:i % 3]:
            time.sleep(args.settle_ms / 1000.0)
            now[name] = run()
        if keep:
            for name in results:
                results[name].append(now[name])
        print(f"run {i + 1 - args.warmup if keep else 'warmup'}: " + ", ".join(
            f"{name} {ms(now[name]['total'])} ms" for name, _ in series), file=sys.stderr)

    if args.trace:
        timeline = trace_rollback(temps, db, state["rollback_target"], args.work)
        print("\none more rollback under strace (ms since exec; Engine API calls and the first probe):",
              file=sys.stderr)
        for line in timeline:
            print("  " + line, file=sys.stderr)

    summary = {
        "engine": {"version": version.get("Version"), "api": version.get("ApiVersion")},
        "runs": args.runs, "floor_poll_ms": args.floor_poll_ms, "settle_ms": args.settle_ms,
        "series": {name: {key: stats([run[key] for run in runs]) for key in runs[0]}
                   for name, runs in results.items()},
        "raw": results,
    }
    with open(os.path.join(args.work, "rollback.json"), "w") as fh:
        json.dump(summary, fh, indent=2)

    s = summary["series"]
    print(f"\nDocker Engine {summary['engine']['version']} (API {summary['engine']['api']}), "
          f"{args.runs} runs each (+{args.warmup} warm-up), interleaved in rotating order with "
          f"{args.settle_ms:g} ms between operations; floor polls every {args.floor_poll_ms:g} ms\n")
    print("| series (ms)                         |  median |    mean |   stdev |     min |     p90 |     max |")
    print("| ----------------------------------- | ------: | ------: | ------: | ------: | ------: | ------: |")

    def line(label, st):
        print(f"| {label:<35} | {ms(st['median'])} | {ms(st['mean'])} | {ms(st['stdev'])} | "
              f"{ms(st['min'])} | {ms(st['p90'])} | {ms(st['max'])} |")

    line("floor: create+stop+start+healthy", s["floor"]["total"])
    for key in ("create", "stop", "start", "healthy"):
        line(f"  floor: {key}", s["floor"][key])
    line("temps rollback N --yes", s["rollback"]["total"])
    line("  of which record -> routed", s["rollback"]["swap"])
    line("temps deploy P --image (present)", s["deploy"]["total"])
    line("  of which record -> routed", s["deploy"]["swap"])
    over = s["rollback"]["total"]["median"] - s["floor"]["total"]["median"]
    over_d = s["deploy"]["total"]["median"] - s["floor"]["total"]["median"]
    # Runs are interleaved, so run i of each series saw about the same engine load:
    # the per-run differences are less noisy than the difference of the medians.
    paired = stats([r["total"] - f["total"] for f, r in zip(results["floor"], results["rollback"])])
    paired_d = stats([d["total"] - f["total"] for f, d in zip(results["floor"], results["deploy"])])
    summary["paired"] = {"rollback_minus_floor": paired, "deploy_minus_floor": paired_d}
    with open(os.path.join(args.work, "rollback.json"), "w") as fh:
        json.dump(summary, fh, indent=2)
    print(f"\nrollback - floor: medians {over * 1000:+.1f} ms; per-run differences median "
          f"{paired['median'] * 1000:+.1f} ms (p10 {paired['p10'] * 1000:+.1f}, p90 {paired['p90'] * 1000:+.1f})")
    print(f"deploy   - floor: medians {over_d * 1000:+.1f} ms; per-run differences median "
          f"{paired_d['median'] * 1000:+.1f} ms (p10 {paired_d['p10'] * 1000:+.1f}, p90 {paired_d['p90'] * 1000:+.1f})")
    met = over <= 0.100
    print(f"target (rollback <= floor + 100 ms): {'MET' if met else 'MISSED'}")
    sys.exit(0 if met else 3)


if __name__ == "__main__":
    main()
