#!/usr/bin/env python3
"""Rollback and deploy latency: temps against the engine's own floor; then what a swap
costs clients in port mode.

Latency: these series, interleaved run by run (in rotating order, SETTLE_MS apart) so
that load on the shared engine hits them alike, each on its own published port and
serving the fixture images (httpd on 8080, /healthz):

  floor          the stop-first swap done directly on the Docker Engine API over the unix
                 socket (create new, stop old, start new, then GET /healthz on the
                 published port every FLOOR_POLL_MS until it answers 200; the old
                 container is kept, stopped, as temps keeps its standbys);
  floor, check first
                 the same in the order temps swaps now when something serves: create new,
                 then a check container published on a free loopback port, start it and
                 poll it; then stop old, start new, poll; then remove the check
                 container;
  rollback       `temps rollback N --yes`, alternating between two deployments (#1 v1,
                 #2 v2: rollback 1, rollback 2, rollback 1, ...), project health path
                 /healthz;
  deploy         `temps deploy P --image IMAGE`, alternating v1 and v2 (images present);
  rollback (old) with --old-temps: the same rollbacks by an earlier build, in a history
                 of its own.

Each temps run is timed from spawning the process to its exit (so it includes process
start, the SQLite work, the Engine API calls and the health check); the history's
created_at/finished_at split it into "before the row" and "record -> routed".

Under load (OUTAGE_RUNS rounds, rotating order): clients (proxy_bench.Load) send GET /
to the published port from BEFORE_MS before each operation until AFTER_MS after it:
both floors, a rollback by each build, and deploys by each build of an image that never
becomes healthy (--nohealth) and of one that cannot start (--crash) to a project serving
v1 with a short health timeout; a control runs the load with no operation. Per
operation: requests, failed, answered by a version that should not serve, the longest
gap between good answers, duration.

usage: rollback_bench.py --temps BIN --work DIR --v1 IMAGE --v2 IMAGE --tag TAG [--runs N]
         [--old-temps BIN] [--nohealth IMAGE] [--crash IMAGE] [--outage-runs N]
Prints tables and writes DIR/rollback.json. The caller (rollback.sh) removes every
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
import urllib.parse

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

    def create(self, name, image_id, project, port, deployment, host_ip=None):
        """port None: any free one (on host_ip), as temps publishes its check containers."""
        binding = {"HostPort": "" if port is None else str(port)}
        if host_ip:
            binding["HostIp"] = host_ip
        self.call("POST", f"/containers/create?name={name}", {
            "Image": image_id,
            "Env": [],
            "Labels": {"dev.temps.project": project, "dev.temps.environment": "production",
                       "dev.temps.deployment": str(deployment)},
            "ExposedPorts": {"8080/tcp": {}},
            "HostConfig": {"PortBindings": {"8080/tcp": [binding]}},
        })

    def published_port(self, name):
        ports = self.call("GET", f"/containers/{name}/json")["NetworkSettings"]["Ports"]
        return int(ports["8080/tcp"][0]["HostPort"])

    def names(self, project):
        """Names of the containers labelled with `project`, running or not."""
        filters = json.dumps({"label": [f"dev.temps.project={project}"]})
        found = self.call("GET", "/containers/json?all=1&filters=" + urllib.parse.quote(filters))
        return [n.lstrip("/") for c in found for n in c["Names"]]

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
        return {"total": t4 - t0, "create": t1 - t0, "stop": t2 - t1, "start": t3 - t2, "healthy": t4 - t3,
                "outage": t4 - t1}


class CheckFloor(Floor):
    """The same, checking first as temps does now when something serves: create the new
    container, then a check container of the same image published on a free loopback
    port, start it and poll /healthz there; then stop the old container, start the new
    one and poll the published port; only then remove the check container (off the
    outage: removing it beside the stop slows the stop on two cores)."""

    def swap(self):
        self.seq += 1
        new = self._name(self.seq)
        check = f"{new}-check"
        image = self.images[self.seq % 2]
        e = self.engine
        t0 = time.perf_counter()
        e.create(new, image, self.project, self.port, self.seq)
        t1 = time.perf_counter()
        e.create(check, image, self.project, None, self.seq, host_ip="127.0.0.1")
        e.start(check)
        wait_healthy(e.published_port(check), self.poll)
        t2 = time.perf_counter()
        e.stop(self.current)
        t3 = time.perf_counter()
        e.start(new)
        t4 = time.perf_counter()
        wait_healthy(self.port, self.poll)
        t5 = time.perf_counter()
        e.remove(check)
        t6 = time.perf_counter()
        self.current = new
        return {"total": t6 - t0, "create": t1 - t0, "check": t2 - t1, "stop": t3 - t2,
                "start": t4 - t3, "healthy": t5 - t4, "remove check": t6 - t5,
                "outage": t5 - t2}


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


def under_load(args, port, op, expect):
    """Run `op` while clients hammer `port` (proxy_bench.Load), from BEFORE_MS before it
    until AFTER_MS after it returns. Its result, with: requests; failed (refused, reset,
    timed out, not 200); wrong (a 200 from a version not in `expect`, such as the
    never-healthy image's own page); the longest gap between two answers from a version in
    `expect`; and the operation's duration."""
    from proxy_bench import Load
    load = Load(port, args.new_clients, args.kept_clients, args.interval_ms / 1000.0)
    time.sleep(args.before_ms / 1000.0)
    t0 = time.perf_counter()
    try:
        result = op() or {}
    finally:
        took = time.perf_counter() - t0
        time.sleep(args.after_ms / 1000.0)
        samples = load.stop()
    good = sorted(s[2] for s in samples if s[3] in expect)
    gaps = [b - a for a, b in zip(good, good[1:])]
    row = {"requests": len(samples), "failed": sum(1 for s in samples if s[3] is None),
           "wrong": sum(1 for s in samples if s[3] is not None and s[3] not in expect),
           "longest_gap_ms": max(gaps) * 1000 if gaps else float("nan"), "took": took}
    row.update({k: v for k, v in result.items() if k != "total"})
    return row


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--temps", required=True)
    ap.add_argument("--old-temps", help="an earlier build, measured beside (rollback, bad deploys)")
    ap.add_argument("--old-label", default="old", help="how the tables name it")
    ap.add_argument("--work", required=True)
    ap.add_argument("--v1", required=True)
    ap.add_argument("--v2", required=True)
    ap.add_argument("--nohealth", help="an image whose /healthz answers 404 forever")
    ap.add_argument("--crash", help="an image whose container exits at once")
    ap.add_argument("--tag", required=True, help="prefix of the project names, for cleanup")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--trace", action="store_true", help="strace one more rollback, print its timeline")
    ap.add_argument("--settle-ms", type=float, default=float(os.environ.get("SETTLE_MS", "300")))
    ap.add_argument("--floor-poll-ms", type=float, default=float(os.environ.get("FLOOR_POLL_MS", "5")))
    ap.add_argument("--outage-runs", type=int, default=int(os.environ.get("OUTAGE_RUNS", "5")),
                    help="rounds of the series under client load (0: none)")
    ap.add_argument("--bad-health-timeout", default=os.environ.get("BAD_HEALTH_TIMEOUT", "3s"),
                    help="the health timeout of the project the bad images are deployed to")
    ap.add_argument("--new-clients", type=int, default=int(os.environ.get("NEW_CLIENTS", "2")))
    ap.add_argument("--kept-clients", type=int, default=int(os.environ.get("KEPT_CLIENTS", "2")))
    ap.add_argument("--interval-ms", type=float, default=float(os.environ.get("INTERVAL_MS", "2")))
    ap.add_argument("--before-ms", type=float, default=300)
    ap.add_argument("--after-ms", type=float, default=500)
    args = ap.parse_args()
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

    engine = Engine()
    version = engine.call("GET", "/version")
    images = [engine.image_id(args.v1), engine.image_id(args.v2)]
    temps, db = args.temps, os.path.join(args.work, "rollback.db")
    old, old_db = args.old_temps, os.path.join(args.work, "rollback-old.db")
    t = args.tag
    rb_project, dp_project, fl_project, fc_project = f"{t}-rb", f"{t}-dp", f"{t}-floor", f"{t}-fcheck"
    rbo_project, bad_project, bado_project = f"{t}-rbold", f"{t}-bad", f"{t}-badold"
    rb_port, dp_port, fl_port, fc_port = free_port(), free_port(), free_port(), free_port()
    rbo_port, bad_port, bado_port = free_port(), free_port(), free_port()
    poll = args.floor_poll_ms / 1000.0
    loaded = args.outage_runs > 0
    bad_images = [(kind, image) for kind, image in (("nohealth", args.nohealth), ("crash", args.crash)) if image]

    # temps: one project to roll back (#1 v1, #2 v2), one to deploy; fresh history, so ids are 1, 2.
    # The same rollback project again for the earlier build, in a history of its own; and,
    # for the series under load, a project serving v1 that the bad images are deployed to.
    def create(binary, history, project, *settings):
        run_temps(binary, history, "-q", "project", "create", project, "--container-port", "8080",
                  "--health-path", HEALTH_PATH, *settings)

    for project in (rb_project, dp_project):
        create(temps, db, project)
    run_temps(temps, db, "-q", "deploy", rb_project, "--image", args.v1, "--publish", str(rb_port))
    run_temps(temps, db, "-q", "deploy", rb_project, "--image", args.v2)
    run_temps(temps, db, "-q", "deploy", dp_project, "--image", args.v1, "--publish", str(dp_port))
    assert body_of(rb_port) == "v2" and body_of(dp_port) == "v1", "setup did not serve what it should"
    if old:
        create(old, old_db, rbo_project)
        run_temps(old, old_db, "-q", "deploy", rbo_project, "--image", args.v1, "--publish", str(rbo_port))
        run_temps(old, old_db, "-q", "deploy", rbo_project, "--image", args.v2)
        assert body_of(rbo_port) == "v2", "setup (earlier build) did not serve v2"
    if loaded and bad_images:
        for binary, history, project, port in ((temps, db, bad_project, bad_port),
                                               (old, old_db, bado_project, bado_port)):
            if binary:
                create(binary, history, project, "--health-timeout", args.bad_health_timeout)
                run_temps(binary, history, "-q", "deploy", project, "--image", args.v1, "--publish", str(port))
                assert body_of(port) == "v1", f"setup of {project} did not serve v1"
    floor = Floor(engine, fl_project, images, fl_port, poll)
    check_floor = CheckFloor(engine, fc_project, images, fc_port, poll)

    def rollback(binary, history, port):
        state = {"target": 1}   # #1 serves v1, #2 v2: every rollback alternates between them

        def run():
            target = state["target"]
            took, out = run_temps(binary, history, "-o", "json", "rollback", str(target), "--yes")
            new = json.loads(out)
            got = body_of(port)
            if got != ("v1" if target == 1 else "v2") or new["status"] != "deployed":
                raise RuntimeError(f"rollback to #{target}: serves {got!r}, status {new['status']}")
            created, finished = row_times(history, new["id"])
            state["target"] = 2 if target == 1 else 1
            return {"total": took, "swap": finished - created}
        run.state = state
        return run

    do_rollback = rollback(temps, db, rb_port)
    deploy_state = {"next": 1}   # index into (v1, v2): the deploy project serves v1 now

    def do_deploy():
        index = deploy_state["next"]
        image = (args.v1, args.v2)[index]
        took, out = run_temps(temps, db, "-o", "json", "deploy", dp_project, "--image", image)
        new = json.loads(out)
        got = body_of(dp_port)
        if got != ("v1", "v2")[index] or new["status"] != "deployed":
            raise RuntimeError(f"deploy {image}: serves {got!r}, status {new['status']}")
        created, finished = row_times(db, new["id"])
        deploy_state["next"] ^= 1
        return {"total": took, "swap": finished - created}

    def bad_deploy(binary, history, project, port, image):
        """Deploy an image that never becomes healthy or cannot start: exit 5, v1 still
        serving, nothing of the attempt left running (no check container at all)."""
        def run():
            t0 = time.perf_counter()
            p = subprocess.run([binary, "--db", history, "deploy", project, "--image", image],
                               capture_output=True, text=True)
            took = time.perf_counter() - t0
            got = body_of(port)
            left = [n for n in engine.names(project) if n.endswith("-check")]
            if p.returncode != 5 or got != "v1" or left:
                raise RuntimeError(f"deploy {image} to {project}: exit {p.returncode}, serves {got!r}, "
                                   f"left {left}:\n{p.stdout}{p.stderr}")
            return {"total": took}
        return run

    series = [("floor", floor.swap), ("floor, check first", check_floor.swap),
              ("rollback", do_rollback), ("deploy", do_deploy)]
    if old:
        do_rollback_old = rollback(old, old_db, rbo_port)
        series.append((f"rollback ({args.old_label})", do_rollback_old))
    results = {name: [] for name, _ in series}
    n = len(series)
    for i in range(args.warmup + args.runs):
        keep = i >= args.warmup
        # Rotate the order each run, and let the engine settle between operations: the
        # engine finishes some work of a stop (network teardown) after answering, and it
        # must not always land on the same series.
        now = {}
        for name, run in series[i % n:] + series[:i % n]:
            time.sleep(args.settle_ms / 1000.0)
            now[name] = run()
        if keep:
            for name in results:
                results[name].append(now[name])
        print(f"run {i + 1 - args.warmup if keep else 'warmup'}: " + ", ".join(
            f"{name} {ms(now[name]['total'])} ms" for name, _ in series), file=sys.stderr)

    # Port mode under client load: the same swaps, a good rollback with each build, and
    # deploys of the bad images, which must cost the clients nothing now.
    both, v1 = {"v1", "v2"}, {"v1"}
    loads = [("floor", fl_port, floor.swap, both), ("floor, check first", fc_port, check_floor.swap, both),
             ("rollback", rb_port, do_rollback, both)]
    if old:
        loads.append((f"rollback ({args.old_label})", rbo_port, do_rollback_old, both))
    for kind, image in bad_images:
        loads.append((f"deploy {kind}", bad_port, bad_deploy(temps, db, bad_project, bad_port, image), v1))
        if old:
            loads.append((f"deploy {kind} ({args.old_label})", bado_port,
                          bad_deploy(old, old_db, bado_project, bado_port, image), v1))
    loads.append(("control (no operation)", rb_port, lambda: time.sleep(0.5), both))
    outage = {name: [] for name, _, _, _ in loads}
    if loaded:
        print(f"\nunder load: {args.new_clients} clients on new connections + {args.kept_clients} "
              f"kept alive, one GET / every {args.interval_ms:g} ms each", file=sys.stderr)
    n = len(loads)
    for i in range(args.outage_runs):
        for name, port, run, expect in loads[i % n:] + loads[:i % n]:
            time.sleep(args.settle_ms / 1000.0)
            row = under_load(args, port, run, expect)
            outage[name].append(row)
            print(f"load {i + 1}: {name:<28} {row['requests']:5} requests, {row['failed']:5} failed, "
                  f"{row['wrong']:4} wrong version, "
                  f"longest gap {row['longest_gap_ms']:7.1f} ms, took {ms(row['took'])} ms", file=sys.stderr)

    if args.trace:
        timeline = trace_rollback(temps, db, do_rollback.state["target"], args.work)
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
        "load": {"rounds": args.outage_runs, "new_clients": args.new_clients,
                 "kept_clients": args.kept_clients, "interval_ms": args.interval_ms,
                 "bad_health_timeout": args.bad_health_timeout, "raw": outage},
    }

    s = summary["series"]
    print(f"\nDocker Engine {summary['engine']['version']} (API {summary['engine']['api']}), "
          f"{args.runs} runs each (+{args.warmup} warm-up), interleaved in rotating order with "
          f"{args.settle_ms:g} ms between operations; floor polls every {args.floor_poll_ms:g} ms\n")
    print("| series (ms)                                    |  median |    mean |   stdev |     min |     p90 |     max |")
    print("| ---------------------------------------------- | ------: | ------: | ------: | ------: | ------: | ------: |")

    def line(label, st):
        print(f"| {label:<46} | {ms(st['median'])} | {ms(st['mean'])} | {ms(st['stdev'])} | "
              f"{ms(st['min'])} | {ms(st['p90'])} | {ms(st['max'])} |")

    line("floor: create+stop+start+healthy", s["floor"]["total"])
    for key in ("create", "stop", "start", "healthy", "outage"):
        line(f"  floor: {key}" + (" (stop -> healthy)" if key == "outage" else ""), s["floor"][key])
    line("floor, check first", s["floor, check first"]["total"])
    for key in ("create", "check", "stop", "remove check", "start", "healthy", "outage"):
        label = {"check": "check (create+start+healthy)", "outage": "outage (stop -> healthy)",
                 "remove check": "remove check (after the switch)"}.get(key, key)
        line(f"  check first: {label}", s["floor, check first"][key])
    line("temps rollback N --yes", s["rollback"]["total"])
    line("  of which record -> routed", s["rollback"]["swap"])
    if old:
        line(f"temps rollback N --yes ({args.old_label})", s[f"rollback ({args.old_label})"]["total"])
        line("  of which record -> routed", s[f"rollback ({args.old_label})"]["swap"])
    line("temps deploy P --image (present)", s["deploy"]["total"])
    line("  of which record -> routed", s["deploy"]["swap"])

    def against(a, b):
        """Medians' difference, and the median (p10, p90) of the per-run differences: runs
        are interleaved, so run i of each series saw about the same engine load."""
        paired = stats([x["total"] - y["total"] for x, y in zip(results[a], results[b])])
        over = s[a]["total"]["median"] - s[b]["total"]["median"]
        summary.setdefault("paired", {})[f"{a} - {b}"] = paired
        print(f"{a + ' - ' + b:<42}: medians {over * 1000:+7.1f} ms; per-run differences median "
              f"{paired['median'] * 1000:+7.1f} ms (p10 {paired['p10'] * 1000:+.1f}, p90 {paired['p90'] * 1000:+.1f})")
        return over

    print()
    over_check = against("rollback", "floor, check first")
    against("rollback", "floor")
    against("floor, check first", "floor")
    against("deploy", "floor, check first")
    if old:
        against("rollback", f"rollback ({args.old_label})")
        against(f"rollback ({args.old_label})", "floor")
    met = over_check <= 0.100
    print(f"target (rollback <= floor + 100 ms, the floor checking first as temps does): "
          f"{'MET' if met else 'MISSED'}")

    if loaded:
        print(f"\nPort mode under load ({args.outage_runs} rounds, rotating order; {args.new_clients} clients on "
              f"new connections + {args.kept_clients} kept alive, one GET / every {args.interval_ms:g} ms each; "
              f"bad deploys: project health timeout {args.bad_health_timeout})\n")
        print("| series | operations | requests | failed | answered by the bad version | "
              "operations with a failure | longest gap ms (median, max) | duration ms (median) |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for name, rows in outage.items():
            gaps = [r["longest_gap_ms"] for r in rows]
            print(f"| {name} | {len(rows)} | {sum(r['requests'] for r in rows)} | "
                  f"{sum(r['failed'] for r in rows)} | {sum(r['wrong'] for r in rows)} | "
                  f"{sum(1 for r in rows if r['failed'] or r['wrong'])} | "
                  f"{statistics.median(gaps):.1f}, {max(gaps):.1f} | "
                  f"{statistics.median(r['took'] for r in rows) * 1000:.0f} |")
        for kind, _ in bad_images:
            failed = sum(r["failed"] + r["wrong"] for r in outage[f"deploy {kind}"])
            print(f"target (a {kind} deploy fails no request, none reaches it): "
                  f"{'MET' if failed == 0 else 'MISSED'} ({failed})")
            met &= failed == 0

    with open(os.path.join(args.work, "rollback.json"), "w") as fh:
        json.dump(summary, fh, indent=2)
    sys.exit(0 if met else 3)


if __name__ == "__main__":
    main()
