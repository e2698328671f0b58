#!/usr/bin/env python3
"""Warm standby: a rollback to a warm standby against a cold rollback and against the
hand-written runbook, in one run, each under the same client load.

  warm     proxy mode, `--standby 30m`: `temps rollback N --yes` to the deployment that
           served before, whose containers still run: one probe each, the route switch.
           Checked every time: the rollback record serves from the target's containers
           (no container was started).
  cold     proxy mode, `--standby 0s`: the same rollbacks start new containers (start,
           health check, switch, drain, stop the old).
  runbook  what an operator types without temps, on a published port:
           `docker stop OLD; docker run -d -p 127.0.0.1:PORT:8080 NEW` (the docker CLI),
           then GET /healthz every 5 ms until it answers 200. Timed from the stop to the
           first healthy answer.

The series are interleaved, in rotating order, SETTLE_MS apart. Each operation runs
under load: clients (NEW_CLIENTS opening a connection per request, KEPT_CLIENTS keeping
one alive) sending GET / every INTERVAL_MS each, from 300 ms before the command until
500 ms after it returned. Per operation: the command's time (process spawn to exit), the
requests, the failed ones, answers from the old version to requests sent after the
command returned, and the longest gap between two good answers.

usage: warm_bench.py --temps BIN --work DIR --v1 IMAGE --v2 IMAGE --tag TAG [--runs N]
Writes DIR/warm.json; exit 3 when a target is missed (warm median <= 50 ms, <= 1/10 of
the runbook's median, no failed request on the warm path).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from proxy_bench import Load, ProxyProcess, analyse, free_port, get, log, run_temps  # noqa: E402

HEALTH_PATH = "/healthz"


def healthy(port):
    """GET /healthz answers 200."""
    return get_path(port, HEALTH_PATH)


def get_path(port, path):
    import socket
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            return data.startswith(b"HTTP/1.1 200") or data.startswith(b"HTTP/1.0 200")
    except OSError:
        return False


class Runbook:
    """A container on a published port, replaced by hand: docker stop; docker run; poll."""

    def __init__(self, tag, port, images):
        self.tag, self.port, self.images = tag, port, images
        self.count = 0
        self.current = self._run(images[1])
        deadline = time.time() + 30
        while not healthy(port):
            if time.time() > deadline:
                raise RuntimeError("the runbook's first container never answered")
            time.sleep(0.01)

    def _run(self, image):
        self.count += 1
        name = f"{self.tag}-runbook-{self.count}"
        subprocess.run(["docker", "run", "-d", "--name", name,
                        "--label", f"dev.temps.project={self.tag}-runbook",
                        "-p", f"127.0.0.1:{self.port}:8080", image],
                       check=True, capture_output=True)
        return name

    def switch(self, image):
        old = self.current
        t0 = time.perf_counter()
        subprocess.run(["docker", "stop", old], check=True, capture_output=True)
        self.current = self._run(image)
        deadline = t0 + 60
        while not healthy(self.port):
            if time.perf_counter() > deadline:
                raise RuntimeError("the runbook's new container never answered")
            time.sleep(0.005)
        took = time.perf_counter() - t0
        subprocess.run(["docker", "rm", old], capture_output=True)
        return took


def pct(values, p):
    values = sorted(values)
    if not values:
        return float("nan")
    k = (len(values) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--temps", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--v1", required=True)
    ap.add_argument("--v2", required=True)
    ap.add_argument("--tag", required=True)
    ap.add_argument("--runs", type=int, default=int(os.environ.get("RUNS", "10")))
    ap.add_argument("--new-clients", type=int, default=int(os.environ.get("NEW_CLIENTS", "2")))
    ap.add_argument("--kept-clients", type=int, default=int(os.environ.get("KEPT_CLIENTS", "2")))
    ap.add_argument("--interval-ms", type=float, default=float(os.environ.get("INTERVAL_MS", "2")))
    ap.add_argument("--settle-ms", type=float, default=float(os.environ.get("SETTLE_MS", "300")))
    args = ap.parse_args()

    temps, work = args.temps, args.work
    db = os.path.join(work, "warm.db")
    images = [args.v1, args.v2]
    ports = {"warm": free_port(), "cold": free_port(), "runbook": free_port()}
    projects = {"warm": f"{args.tag}-warm", "cold": f"{args.tag}-cold"}
    standby = {"warm": "30m", "cold": "0s"}
    ids = {}
    for mode, project in projects.items():
        run_temps(temps, db, "-q", "project", "create", project, "--container-port", "8080",
                  "--health-path", HEALTH_PATH)
    proxy = ProxyProcess(temps, db, os.path.join(work, "proxy.log"))
    results = {"warm": [], "cold": [], "runbook": []}
    try:
        for mode, project in projects.items():
            ids[mode] = []
            for image in images:
                _, p = run_temps(temps, db, "-o", "json", "deploy", project, "--image", image,
                                 "--proxy", f"127.0.0.1:{ports[mode]}", "--drain", "5s",
                                 "--standby", standby[mode])
                ids[mode].append(json.loads(p.stdout)["id"])
        runbook = Runbook(args.tag, ports["runbook"], images)
        # What each serves now, and which deployment of it to roll back to next.
        serving = {mode: "v2" for mode in results}
        interval = args.interval_ms / 1000.0
        for i in range(args.runs):
            order = ["warm", "cold", "runbook"]
            order = order[i % 3:] + order[:i % 3]
            for mode in order:
                time.sleep(args.settle_ms / 1000.0)
                port = ports[mode]
                index = 0 if serving[mode] == "v2" else 1
                old, new = serving[mode], ["v1", "v2"][index]
                load = Load(port, args.new_clients, args.kept_clients, interval)
                time.sleep(0.3)
                if mode == "runbook":
                    took = runbook.switch(images[index])
                    record = None
                else:
                    took, p = run_temps(temps, db, "-o", "json", "rollback", str(ids[mode][index]), "--yes")
                    record = json.loads(p.stdout)
                exited = time.perf_counter()
                time.sleep(0.5)
                samples = load.stop()
                serving[mode] = new
                row = analyse(samples, exited, old)
                row["took_ms"] = took * 1000
                if get(port) != new:
                    raise RuntimeError(f"{mode}: run {i + 1} does not serve {new}")
                if record is not None:
                    reused = all(not c.endswith(f"-{record['id']}") for c in record["containers"])
                    row["reused_containers"] = reused
                    if reused != (mode == "warm"):
                        raise RuntimeError(f"{mode}: run {i + 1} took the wrong path: {record}")
                results[mode].append(row)
                log(f"{mode:8} run {i + 1}: took {row['took_ms']:.1f} ms, {row['requests']} requests, "
                    f"{row['failed']} failed, {row['old_after_return']} old after return, "
                    f"longest gap {row['longest_gap_ms'] or 0:.1f} ms")
    finally:
        proxy.stop()

    summary = {"cores": os.cpu_count(), "args": vars(args), "runs": results, "series": {}}
    for mode, rows in results.items():
        took = [r["took_ms"] for r in rows]
        summary["series"][mode] = {
            "median_ms": statistics.median(took),
            "p95_ms": pct(took, 95),
            "min_ms": min(took),
            "max_ms": max(took),
            "requests": sum(r["requests"] for r in rows),
            "failed": sum(r["failed"] for r in rows),
            "old_after_return": sum(r["old_after_return"] for r in rows),
            "longest_gap_ms": max((r["longest_gap_ms"] or 0) for r in rows),
        }
    with open(os.path.join(work, "warm.json"), "w") as fh:
        json.dump(summary, fh, indent=2)

    s = summary["series"]
    print(f"\n{args.runs} runs per series, interleaved; {args.new_clients}+{args.kept_clients} clients, "
          f"one GET every {args.interval_ms:g} ms each\n")
    print("| series | command median ms | p95 ms | min … max ms | requests | failed | old version after return | longest gap ms |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    names = {"warm": "rollback to a warm standby", "cold": "cold rollback (`--standby 0s`)",
             "runbook": "runbook: `docker stop; docker run; curl`"}
    for mode in ("warm", "cold", "runbook"):
        r = s[mode]
        print(f"| {names[mode]} | {r['median_ms']:.1f} | {r['p95_ms']:.1f} | "
              f"{r['min_ms']:.1f} … {r['max_ms']:.1f} | {r['requests']} | {r['failed']} | "
              f"{r['old_after_return']} | {r['longest_gap_ms']:.1f} |")
    ratio = s["runbook"]["median_ms"] / s["warm"]["median_ms"]
    print(f"\nwarm vs runbook: {ratio:.1f}x faster; warm vs cold: "
          f"{s['cold']['median_ms'] / s['warm']['median_ms']:.1f}x faster")
    missed = []
    if s["warm"]["median_ms"] > 50:
        missed.append(f"warm median {s['warm']['median_ms']:.1f} ms > 50 ms")
    if s["warm"]["median_ms"] * 10 > s["runbook"]["median_ms"]:
        missed.append("warm median is more than a tenth of the runbook's")
    if s["warm"]["failed"] or s["warm"]["old_after_return"]:
        missed.append("requests failed or reached the old version on the warm path")
    for line in missed:
        print(f"target missed: {line}")
    return 3 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
