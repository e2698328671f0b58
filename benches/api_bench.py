#!/usr/bin/env python3
"""`temps serve` under load, its memory, and an API rollback against the CLI's.

Part 1, reads and memory: a history of N deployments (seed.py: the real binary makes the
database, project `bench` and its environment; python's sqlite3 inserts the rows), a
reader token made with `temps token create`, and a fresh `temps serve` on a free loopback
port. After one request it reads the server's VmRSS (idle); then `wrk` (Lua script: the
`Authorization: Bearer` header; `done` prints the percentiles as JSON) sends
`GET /api/projects/bench/deployments` (the default 50) from C connections on T threads for
ROUNDS rounds of SECONDS each, while a thread reads the server's VmRSS every 10 ms; VmHWM
(the kernel's own peak) is read after. Per round: requests/s, p50, p90, p99, p99.9 and max
latency, errors, the server's CPU time per request. Then, for reference, one round each of
`?limit=1` and of `GET /api/health` (no token, no history): what the same load costs
without the rows, and without anything. The project is a docker project whose images are
not on the host (the list still works; `actions` is empty for a reader).

Part 2, rollbacks: a second history with a project on the fixture images (v1 then v2,
published on a free port, /healthz), a responder token and its own `temps serve`. Then N
rounds, each one `temps rollback ID --yes` (timed from spawn to exit, like a person) and
one `POST /api/projects/P/deployments/ID/rollback?wait=true` (timed by the client from
connect to the answer's last byte, a new connection each, like curl), the order swapping
every round, SETTLE_MS apart, every rollback alternating between #1 (v1) and #2 (v2).
Every result is checked (status `deployed`, the port serves the expected version). The
history's created_at -> finished_at (record -> routed: the engine's swap) is subtracted
from each total to show what each entry point adds around the same swap.

usage: api_bench.py --temps BIN --work DIR --v1 IMAGE --v2 IMAGE --tag TAG
Prints tables and writes DIR/api.json; exit 3 when a target is missed. The caller (api.sh)
removes the containers labelled dev.temps.project=<TAG>-* and the temps/<TAG>-*:* tags.
"""

import argparse
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from rollback_bench import body_of, free_port, row_times, stats, wait_healthy  # noqa: E402


def log(text):
    print(f"api: {text}", file=sys.stderr, flush=True)


def run_temps(temps, db, *args):
    t0 = time.perf_counter()
    p = subprocess.run([temps, "--db", db, *args], capture_output=True, text=True)
    took = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"temps {' '.join(args)} exited {p.returncode}:\n{p.stdout}{p.stderr}")
    return took, p.stdout


def make_token(temps, db, name, role):
    _, out = run_temps(temps, db, "-o", "json", "token", "create", name, "--role", role)
    return json.loads(out)["token"]


class Server:
    """`temps serve` as a child process on a free loopback port."""

    def __init__(self, temps, db, log_path):
        self.port = free_port()
        self.log_path = log_path
        self.log = open(log_path, "a")
        self.proc = subprocess.Popen(
            [temps, "--db", db, "serve", "--listen", f"127.0.0.1:{self.port}"],
            stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.time() + 15
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"temps serve exited {self.proc.returncode}; see {log_path}")
            with open(log_path) as fh:
                if f"listening on http://127.0.0.1:{self.port}" in fh.read():
                    return
            time.sleep(0.01)
        raise RuntimeError("temps serve did not listen within 15 s")

    @property
    def pid(self):
        return self.proc.pid

    def status(self):
        """VmRSS and VmHWM in kB, and the thread count."""
        values = {}
        with open(f"/proc/{self.pid}/status") as fh:
            for line in fh:
                name, _, rest = line.partition(":")
                if name in ("VmRSS", "VmHWM", "Threads"):
                    values[name] = int(rest.split()[0])
        return values

    def cpu_seconds(self):
        with open(f"/proc/{self.pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def request(self, method, path, token, timeout=120):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, headers={"Authorization": f"Bearer {token}"})
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


WRK_SCRIPT = """\
wrk.headers["Authorization"] = "Bearer %s"
function done(summary, latency, requests)
  local e = summary.errors
  io.write("WRK_JSON ", string.format(
    '{"requests":%%d,"duration_us":%%d,"bytes":%%d,"connect":%%d,"read":%%d,"write":%%d,'
    .. '"status":%%d,"timeout":%%d,"p50":%%d,"p90":%%d,"p99":%%d,"p999":%%d,"max":%%d,"mean":%%f}',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, latency.mean), "\\n")
end
"""


class RssSampler(threading.Thread):
    """VmRSS of `pid` every `interval` s, until stopped; the peak in kB."""

    def __init__(self, server, interval=0.01):
        super().__init__(daemon=True)
        self.server, self.interval = server, interval
        self.peak, self.samples = 0, 0
        self.halt = threading.Event()

    def run(self):
        while not self.halt.is_set():
            try:
                self.peak = max(self.peak, self.server.status()["VmRSS"])
                self.samples += 1
            except (OSError, KeyError):
                return
            self.halt.wait(self.interval)

    def stop(self):
        self.halt.set()
        self.join()
        return self.peak


def wrk_round(server, script, path, threads, connections, seconds):
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
           "-s", script, f"http://127.0.0.1:{server.port}{path}"]
    cpu0 = server.cpu_seconds()
    sampler = RssSampler(server)
    sampler.start()
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    finally:
        peak = sampler.stop()
    cpu = server.cpu_seconds() - cpu0
    line = next(l for l in out.splitlines() if l.startswith("WRK_JSON "))
    r = json.loads(line[len("WRK_JSON "):])
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    r["errors"] = sum(r[k] for k in ("connect", "read", "write", "status", "timeout"))
    r["cpu_us_per_request"] = cpu * 1e6 / max(1, r["requests"])
    r["rss_peak_kb"] = peak
    r["rss_samples"] = sampler.samples
    r["load"] = os.getloadavg()[0]
    return r


def reads(args, temps, work):
    db = os.path.join(work, "reads.db")
    subprocess.run([sys.executable, os.path.join(HERE, "seed.py"), "--temps", temps, "--db", db,
                    "--project", "bench", "--rows", str(args.rows)], check=True)
    token = make_token(temps, db, "bench-reader", "reader")
    script = os.path.join(work, "auth.lua")
    with open(script, "w") as fh:
        fh.write(WRK_SCRIPT % token)
    path = "/api/projects/bench/deployments"
    server = Server(temps, db, os.path.join(work, "serve-reads.log"))
    try:
        start = server.status()
        status, body = server.request("GET", path, token)
        if status != 200:
            raise RuntimeError(f"GET {path}: HTTP {status}: {body[:300]!r}")
        page = json.loads(body)
        if len(page) != 50 or page[0]["id"] != args.rows or "actions" not in page[0]:
            raise RuntimeError(f"GET {path}: unexpected page: {len(page)} rows, first {page[0]}")
        time.sleep(1)
        idle = server.status()
        log(f"idle after one request: VmRSS {idle['VmRSS'] / 1024:.1f} MB, VmHWM "
            f"{idle['VmHWM'] / 1024:.1f} MB, {idle['Threads']} threads; one page is {len(body)} bytes")
        rounds = []
        for i in range(args.rounds):
            r = wrk_round(server, script, path, args.wrk_threads, args.connections, args.seconds)
            rounds.append(r)
            log(f"round {i + 1}/{args.rounds}: {r['rps']:.0f} req/s, p50 {r['p50'] / 1000:.2f} ms, "
                f"p99 {r['p99'] / 1000:.2f} ms, max {r['max'] / 1000:.1f} ms, {r['errors']} errors, "
                f"{r['cpu_us_per_request']:.0f} µs CPU/request, peak VmRSS {r['rss_peak_kb'] / 1024:.1f} MB, "
                f"load {r['load']:.1f}")
        after = server.status()
        time.sleep(2)
        settled = server.status()
        # For reference, the same load on what costs less: one row, and no history at all.
        reference = {}
        for label, ref in (("limit=1", path + "?limit=1"), ("/api/health", "/api/health")):
            r = wrk_round(server, script, ref, args.wrk_threads, args.connections, args.seconds)
            reference[label] = r
            log(f"reference {label}: {r['rps']:.0f} req/s, p50 {r['p50'] / 1000:.2f} ms, "
                f"p99 {r['p99'] / 1000:.2f} ms, {r['errors']} errors, load {r['load']:.1f}")
    finally:
        server.stop()
    return {"rows": args.rows, "page_bytes": len(body), "start": start, "idle": idle,
            "after_load": after, "settled": settled, "rounds": rounds, "reference": reference}


def rollbacks(args, temps, work):
    db = os.path.join(work, "rollback.db")
    project = f"{args.tag}-api"
    port = free_port()
    run_temps(temps, db, "-q", "project", "create", project, "--container-port", "8080",
              "--health-path", "/healthz")
    run_temps(temps, db, "-q", "deploy", project, "--image", args.v1, "--publish", str(port))
    run_temps(temps, db, "-q", "deploy", project, "--image", args.v2)
    versions = {2: body_of(port)}  # #1 is learned at its first rollback; it must differ
    token = make_token(temps, db, "bench-responder", "responder")
    server = Server(temps, db, os.path.join(work, "serve-rollback.log"))
    state = {"target": 1}
    runs = {"cli": [], "api": []}

    def check(new, via, wall0, took):
        target = state["target"]
        if new["status"] != "deployed" or new.get("rolled_back_to_id") != target:
            raise RuntimeError(f"{via} rollback to #{target}: {new}")
        got = body_of(port)
        if versions.get(target) and got != versions[target]:
            raise RuntimeError(f"{via} rollback to #{target}: serves {got!r}, not {versions[target]!r}")
        if target not in versions and got in versions.values():
            raise RuntimeError(f"{via} rollback to #{target}: still serves {got!r}")
        versions[target] = got
        created, finished = row_times(db, new["id"])
        state["target"] = 2 if target == 1 else 1
        # The swap, and what lies on either side of it: before the record (process or
        # request, lock, validation), after the route (restart policy, the check
        # container's removal, exit or answer).
        return new["id"], finished - created, created - wall0, wall0 + took - finished

    def cli():
        wall0 = time.time()
        took, out = run_temps(temps, db, "-o", "json", "rollback", str(state["target"]), "--yes")
        return (took, *check(json.loads(out), "CLI", wall0, took))

    def api():
        path = f"/api/projects/{project}/deployments/{state['target']}/rollback?wait=true"
        wall0, t0 = time.time(), time.perf_counter()
        status, body = server.request("POST", path, token)
        took = time.perf_counter() - t0
        if status != 200:
            raise RuntimeError(f"POST {path}: HTTP {status}: {body[:500]!r}")
        return (took, *check(json.loads(body), "API", wall0, took))

    try:
        wait_healthy(port, 0.005)
        for _ in range(args.warmup):
            for op in (cli, api):
                op()
                time.sleep(args.settle_ms / 1000)
        for i in range(args.rollbacks):
            order = [("cli", cli), ("api", api)] if i % 2 == 0 else [("api", api), ("cli", cli)]
            for name, op in order:
                took, new_id, swap, before, after = op()
                runs[name].append({"round": i, "total": took, "swap": swap, "before": before,
                                   "after": after, "id": new_id, "load": os.getloadavg()[0]})
                log(f"rollback {i + 1}/{args.rollbacks} {name}: {took * 1000:.0f} ms "
                    f"(record -> routed {swap * 1000:.0f} ms), #{new_id}")
                time.sleep(args.settle_ms / 1000)
        memory = server.status()
    finally:
        server.stop()
    return {"runs": runs, "server_after": memory}


def fmt(x, scale=1000, digits=1):
    return f"{x * scale:,.{digits}f}"


def report(summary, args):
    met = True
    checks = []
    rd = summary.get("reads")
    if rd:
        rounds = rd["rounds"]
        print(f"\n### GET /api/projects/bench/deployments (50 of {rd['rows']:,}; one page "
              f"{rd['page_bytes']:,} bytes), wrk -t{args.wrk_threads} -c{args.connections}, "
              f"{len(rounds)} rounds of {args.seconds} s\n")
        print("| round | requests/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | errors "
              "| server CPU µs/request | peak VmRSS MB | load |")
        print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for i, r in enumerate(rounds, 1):
            print(f"| {i} | {r['rps']:,.0f} | {r['p50'] / 1000:.2f} | {r['p90'] / 1000:.2f} "
                  f"| {r['p99'] / 1000:.2f} | {r['p999'] / 1000:.2f} | {r['max'] / 1000:.1f} "
                  f"| {r['errors']} | {r['cpu_us_per_request']:.0f} | {r['rss_peak_kb'] / 1024:.1f} "
                  f"| {r['load']:.1f} |")
        med = lambda k: statistics.median(r[k] for r in rounds)  # noqa: E731
        print(f"| median | {med('rps'):,.0f} | {med('p50') / 1000:.2f} | {med('p90') / 1000:.2f} "
              f"| {med('p99') / 1000:.2f} | {med('p999') / 1000:.2f} | {med('max') / 1000:.1f} "
              f"| {sum(r['errors'] for r in rounds)} | {med('cpu_us_per_request'):.0f} "
              f"| {max(r['rss_peak_kb'] for r in rounds) / 1024:.1f} (max) | |")
        for label, r in rd["reference"].items():
            print(f"| reference: `{label}` | {r['rps']:,.0f} | {r['p50'] / 1000:.2f} | {r['p90'] / 1000:.2f} "
                  f"| {r['p99'] / 1000:.2f} | {r['p999'] / 1000:.2f} | {r['max'] / 1000:.1f} | {r['errors']} "
                  f"| {r['cpu_us_per_request']:.0f} | {r['rss_peak_kb'] / 1024:.1f} | {r['load']:.1f} |")
        hwm = rd["after_load"]["VmHWM"] / 1024
        peak = max(max(r["rss_peak_kb"] for r in rounds) / 1024, hwm)
        idle = rd["idle"]["VmRSS"] / 1024
        print("\n| server memory | VmRSS MB | VmHWM MB | threads |")
        print("| --- | ---: | ---: | ---: |")
        for label, key in (("at start", "start"), ("idle, after one request", "idle"),
                           ("right after the last round", "after_load"),
                           ("2 s later", "settled")):
            s = rd[key]
            print(f"| {label} | {s['VmRSS'] / 1024:.1f} | {s['VmHWM'] / 1024:.1f} | {s['Threads']} |")
        checks += [
            ("list p99 < 10 ms (median of the rounds)", med("p99") / 1000 < 10),
            ("list: no errors", sum(r["errors"] for r in rounds) == 0),
            ("idle VmRSS < 30 MB", idle < 30),
            ("VmRSS under load < 60 MB (peak sampled and VmHWM)", peak < 60),
        ]
    rb = summary.get("rollbacks")
    if rb:
        cli, api = rb["runs"]["cli"], rb["runs"]["api"]
        print(f"\n### Rollback of the same app: CLI and API alternating, {len(cli)} each "
              f"(+{args.warmup} warm-up each), {args.settle_ms:.0f} ms apart\n")
        print("| series (ms) | median | mean | σ | min | p10 | p90 | max |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")

        def line(label, values):
            st = stats(values)
            print(f"| {label} | {fmt(st['median'])} | {fmt(st['mean'])} | {fmt(st['stdev'])} "
                  f"| {fmt(st['min'])} | {fmt(st['p10'])} | {fmt(st['p90'])} | {fmt(st['max'])} |")
            return st

        s_cli = line("`temps rollback ID --yes` (spawn → exit)", [r["total"] for r in cli])
        line("— spawn → recorded (process, lock, validation)", [r["before"] for r in cli])
        line("— recorded → routed (the swap)", [r["swap"] for r in cli])
        line("— routed → exit (restart policy, check container removed)", [r["after"] for r in cli])
        s_api = line("`POST …/rollback?wait=true` (connect → answer)", [r["total"] for r in api])
        line("— connect → recorded (request, lock, validation)", [r["before"] for r in api])
        line("— recorded → routed (the swap)", [r["swap"] for r in api])
        line("— routed → answer (restart policy, check container removed)", [r["after"] for r in api])
        diff = s_api["median"] - s_cli["median"]
        print(f"\nAPI − CLI, medians {diff * 1000:+.1f} ms. Per round (the two back to back), median "
              f"and range:")
        for label, key in (("total", "total"), ("before the record", "before"),
                           ("the swap", "swap"), ("after the route", "after")):
            d = [a[key] - c[key] for c, a in zip(cli, api)]
            print(f"- {label}: {statistics.median(d) * 1000:+.1f} ms ({min(d) * 1000:+.0f} … "
                  f"{max(d) * 1000:+.0f})")
        checks.append(("API rollback within 20 ms of the CLI's (medians)", abs(diff) <= 0.020))
    print()
    for what, ok in checks:
        print(f"target {'MET   ' if ok else 'MISSED'} {what}")
        met = met and ok
    return met


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--temps", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--v1", required=True)
    ap.add_argument("--v2", required=True)
    ap.add_argument("--tag", required=True, help="prefix of the project names, for cleanup")
    env = os.environ.get
    ap.add_argument("--rows", type=int, default=int(env("ROWS", "100000")))
    ap.add_argument("--rounds", type=int, default=int(env("ROUNDS", "3")))
    ap.add_argument("--seconds", type=int, default=int(env("SECONDS_PER_ROUND", "10")))
    ap.add_argument("--connections", type=int, default=int(env("WRK_CONNECTIONS", "64")))
    ap.add_argument("--wrk-threads", type=int, default=int(env("WRK_THREADS", "2")))
    ap.add_argument("--rollbacks", type=int, default=int(env("ROLLBACKS", "10")))
    ap.add_argument("--warmup", type=int, default=int(env("WARMUP", "1")))
    ap.add_argument("--settle-ms", type=float, default=float(env("SETTLE_MS", "300")))
    ap.add_argument("--skip", default=env("SKIP", ""), help="comma-separated: reads, rollback")
    args = ap.parse_args()
    skip = {s for s in args.skip.split(",") if s}

    summary = {"cores": os.cpu_count()}
    if "reads" not in skip:
        summary["reads"] = reads(args, args.temps, args.work)
    if "rollback" not in skip:
        summary["rollbacks"] = rollbacks(args, args.temps, args.work)
    with open(os.path.join(args.work, "api.json"), "w") as fh:
        json.dump(summary, fh, indent=1)
    sys.exit(0 if report(summary, args) else 3)


if __name__ == "__main__":
    main()
