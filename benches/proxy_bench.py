#!/usr/bin/env python3
"""Proxy mode: what a rollback costs the clients, and what the proxy costs per request.

  outage      the same rollbacks in proxy mode (`--proxy`, `temps proxy` running) and in
              port mode (`--publish`), interleaved, each under the same load: clients
              sending GET / every INTERVAL ms each, some on a new connection per request,
              some on one kept-alive connection (reconnecting after a failure). Per
              rollback: requests, failed, the longest gap between two good answers (any
              client), and answers from the old version to requests sent after the command
              returned. A control series runs the same load for as long with no rollback.
  latency     one kept-alive connection, requests one after the other (wrk -t1 -c1
              --latency), proxied against direct to the container's published port
              (127.0.0.1:<ephemeral>, the proxy's upstream), in rotating rounds.
              For reference, the same against the container's own address on the bridge
              network (no docker-proxy: neither mode goes that way today).
  throughput  wrk -tT -cC against each, rotating rounds; the proxy's CPU time per request.
              For reference, nginx and HAProxy (when installed) as reverse proxies to
              the same upstream, configured like temps proxy: HTTP/1.1 kept-alive
              upstream connections shared between clients, the same forwarding
              headers and timeouts, one worker process (nginx) or thread (HAProxy) per
              core; every series below measures all three. Then the
              same rounds again with the proxies on a core of their own: the container
              (docker update --cpuset-cpus) and wrk on CPU 0, the proxy on CPU 1. Last,
              the shared-core rounds against an app that spends N µs of CPU per request
              (`/?work=N`, for each N in WORK_US), as an app with a handler to run does.
  memory      each proxy's RSS and PSS (a fresh process; nginx's master and workers
              summed) with CONNS idle client connections open: never used, then each
              after one request (kept alive). temps proxy, then nginx, then HAProxy.

usage: proxy_bench.py --temps BIN --work DIR --v1 IMAGE --v2 IMAGE --tag TAG [options]
The images answer every GET (/healthz too) with "v1"/"v2" on 8080 and keep connections
alive (benches/proxy_upstream/upstream.rs). Prints tables, writes DIR/proxy.json; exit 3 when a target
is missed. The caller (proxy.sh) removes the containers labelled dev.temps.project=<TAG>-*.
"""

import argparse
import json
import os
import re
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import threading
import time

HEALTH_PATH = "/healthz"


def log(text):
    print(f"bench: {text}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_temps(temps, db, *args, check=True):
    t0 = time.perf_counter()
    p = subprocess.run([temps, "--db", db, *args], capture_output=True, text=True)
    took = time.perf_counter() - t0
    if check and p.returncode != 0:
        raise RuntimeError(f"temps {' '.join(args)} exited {p.returncode}:\n{p.stdout}{p.stderr}")
    return took, p


# --- HTTP/1.1 on raw sockets -------------------------------------------------------------

def read_answer(sock, buf):
    """One answer from `sock` (bytes left over from before in `buf`): (status, body, close,
    leftover)."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before an answer")
        buf += chunk
    head, _, rest = bytes(buf).partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length, close = 0, False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection" and value.strip().lower() == b"close":
            close = True
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed in the body")
        rest += chunk
    return status, rest[:length].strip().decode(errors="replace"), close, bytearray(rest[length:])


REQUEST = b"GET / HTTP/1.1\r\nHost: bench.example\r\n\r\n"
REQUEST_CLOSE = b"GET / HTTP/1.1\r\nHost: bench.example\r\nConnection: close\r\n\r\n"


def connect(port, timeout=2.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def get(port):
    """GET / on a new connection: the body of a 200 answer, or None."""
    return get_addr("127.0.0.1", port)


def get_addr(host, port):
    try:
        with socket.create_connection((host, port), timeout=2) as s:
            s.sendall(REQUEST_CLOSE)
            status, body, _, _ = read_answer(s, bytearray())
            return body if status == 200 else None
    except (OSError, ValueError, IndexError):
        return None


class Load:
    """Clients sending GET / every `interval` s each, until stopped. Samples:
    (kept_alive, sent, received, body or None)."""

    def __init__(self, port, new_connection, kept_alive, interval):
        self.port, self.interval = port, interval
        self.stopping = threading.Event()
        self.samples = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._client, args=(False,), daemon=True)
                        for _ in range(new_connection)]
        self.threads += [threading.Thread(target=self._client, args=(True,), daemon=True)
                         for _ in range(kept_alive)]
        for t in self.threads:
            t.start()

    def _client(self, kept_alive):
        mine = []
        sock, buf = None, bytearray()
        due = time.perf_counter()
        while not self.stopping.is_set():
            now = time.perf_counter()
            if now < due:
                time.sleep(due - now)
            due = max(due + self.interval, time.perf_counter())
            sent = time.perf_counter()
            body = None
            try:
                if kept_alive:
                    if sock is None:
                        sock, buf = connect(self.port), bytearray()
                    sock.sendall(REQUEST)
                    status, text, close, buf = read_answer(sock, buf)
                    if close:
                        sock.close()
                        sock = None
                else:
                    with connect(self.port) as s:
                        s.sendall(REQUEST_CLOSE)
                        status, text, _, _ = read_answer(s, bytearray())
                body = text if status == 200 else None
            except (OSError, ValueError, IndexError):
                if sock is not None:
                    sock.close()
                    sock = None
            mine.append((kept_alive, sent, time.perf_counter(), body))
        if sock is not None:
            sock.close()
        with self.lock:
            self.samples.extend(mine)

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join()
        return sorted(self.samples, key=lambda s: s[1])


def analyse(samples, exited, old):
    good = sorted(s[2] for s in samples if s[3] is not None)
    gaps = [b - a for a, b in zip(good, good[1:])]
    return {
        "requests": len(samples),
        "failed": sum(1 for s in samples if s[3] is None),
        "longest_gap_ms": max(gaps) * 1000 if gaps else None,
        "old_after_return": sum(1 for s in samples
                                if exited is not None and s[1] > exited and s[3] == old),
    }


# --- temps proxy as a child process -------------------------------------------------------

class ProxyProcess:
    def __init__(self, temps, db, log_path):
        self.db = db
        self.log = open(log_path, "a")
        self.proc = subprocess.Popen([temps, "--db", db, "proxy"], stdout=subprocess.DEVNULL,
                                     stderr=self.log)
        deadline = time.time() + 10
        while time.time() < deadline:
            state = self.state()
            if state and state[0] == self.proc.pid:
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"temps proxy exited {self.proc.returncode}; see {log_path}")
            time.sleep(0.01)
        raise RuntimeError("temps proxy did not report within 10 s")

    def state(self):
        try:
            with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=1) as c:
                return c.execute("SELECT pid, generation FROM proxy_state WHERE id = 1").fetchone()
        except sqlite3.Error:
            return None

    @property
    def pid(self):
        return self.proc.pid

    def memory_kb(self):
        """VmRSS, VmHWM and Pss, in kB."""
        return proc_memory_kb([self.proc.pid])

    def cpu_seconds(self):
        with open(f"/proc/{self.proc.pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


# --- wrk ----------------------------------------------------------------------------------

UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0}


def wrk(url, threads, connections, seconds, latency=False, cpus=None):
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s"]
    if cpus:
        cmd = ["taskset", "-c", cpus, *cmd]
    if latency:
        cmd.append("--latency")
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
              "requests": int(re.search(r"(\d+) requests in", out).group(1))}
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    result["errors"] = (sum(int(g) for g in errors.groups()) if errors else 0) + \
        (int(non2xx.group(1)) if non2xx else 0)
    for pct in ("50", "75", "90", "99"):
        m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if m:
            result[f"p{pct}_us"] = float(m.group(1)) * UNITS[m.group(2)] * 1e6
    m = re.search(r"Latency\s+([\d.]+)(us|ms|s)", out)
    if m:
        result["mean_us"] = float(m.group(1)) * UNITS[m.group(2)] * 1e6
    return result


def med(values):
    return statistics.median(values) if values else float("nan")


# --- the series ---------------------------------------------------------------------------

def outage(args, temps, db, proxy_port, port_port, ids):
    """Rollbacks in both modes, interleaved, under the same load."""
    results = {"proxy": [], "port": [], "control": []}
    targets = {"proxy": list(ids["proxy"]), "port": list(ids["port"])}
    ports = {"proxy": proxy_port, "port": port_port}
    versions = {"proxy": ["v1", "v2"], "port": ["v1", "v2"]}   # what ids[mode][0/1] serve
    serving = {"proxy": "v2", "port": "v2"}
    interval = args.interval_ms / 1000.0
    for i in range(args.rollbacks + 1):
        order = ["proxy", "port"] if i % 2 == 0 else ["port", "proxy"]
        if i == args.rollbacks:
            order = ["control"]
        for mode in order:
            time.sleep(args.settle_ms / 1000.0)
            port = ports.get(mode, proxy_port)
            load = Load(port, args.new_clients, args.kept_clients, interval)
            time.sleep(args.before_ms / 1000.0)
            started = time.perf_counter()
            if mode == "control":
                time.sleep(med([r["took_s"] for r in results["proxy"]]) if results["proxy"] else 1.0)
                took, exited, old, new = time.perf_counter() - started, None, None, None
            else:
                # Alternate: roll back to whichever of the first two deployments is not serving.
                index = 0 if serving[mode] == "v2" else 1
                took, p = run_temps(temps, db, "-o", "json", "rollback", str(targets[mode][index]), "--yes")
                exited = time.perf_counter()
                old, new = serving[mode], versions[mode][index]
                serving[mode] = new
            time.sleep(args.after_ms / 1000.0)
            samples = load.stop()
            row = analyse(samples, exited, old)
            row["took_s"] = took
            if mode != "control":
                after = [s[3] for s in samples if s[1] > exited and s[3] is not None]
                row["new_after_return"] = sum(1 for b in after if b == new)
                if get(port) != new:
                    raise RuntimeError(f"{mode}: rollback {i + 1} does not serve {new}")
            results[mode].append(row)
            log(f"{mode:7} rollback {i + 1 if mode != 'control' else '-'}: {row['requests']} requests, "
                f"{row['failed']} failed, longest gap {row['longest_gap_ms']:.1f} ms, "
                f"took {took * 1000:.0f} ms")
    return results


# --- nginx, for reference --------------------------------------------------------------

NGINX_CONF = """worker_processes {workers};
worker_rlimit_nofile {nofile};
daemon off;
pid {work}/nginx.pid;
error_log {work}/nginx.err;
events {{ worker_connections {connections}; }}
http {{
  access_log off;
  client_body_temp_path {work}/nginx-body;
  proxy_temp_path {work}/nginx-proxy;
  # temps proxy's limits where nginx has one like it (src/proxy/policy.rs).
  client_header_timeout 30s;
  keepalive_timeout 30s;
  keepalive_requests 1000000;
  proxy_connect_timeout 3s;
  proxy_send_timeout 60s;
  proxy_read_timeout 60s;
  upstream app {{ server {upstream}; keepalive 64; keepalive_timeout 30s; keepalive_requests 1000000; }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto http;
      proxy_set_header X-Forwarded-Host $host;
    }}
  }}
}}
"""

# HAProxy, the same way: HTTP mode, upstream connections kept alive and shared between
# clients (http-reuse always, as temps' pool and nginx's keepalive are), the same
# forwarding headers, temps' timeouts, one thread per core.
HAPROXY_CONF = """global
  nbthread {threads}
  maxconn {maxconn}
  # Start with the open-files limit there is (it holds the client connections the bench
  # opens; HAProxy would also reserve one per server connection, which it never opens).
  no strict-limits
  pidfile {work}/haproxy.pid
  tune.bufsize 16384
defaults
  mode http
  option http-keep-alive
  option forwardfor
  http-reuse always
  timeout connect 3s
  timeout client 30s
  timeout http-request 30s
  timeout http-keep-alive 30s
  timeout server 60s
  maxconn {maxconn}
frontend bench
  bind 127.0.0.1:{port}
  http-request set-header X-Forwarded-Proto http
  http-request set-header X-Forwarded-Host %[req.hdr(host)]
  default_backend app
backend app
  server app {upstream}
"""


def proc_memory_kb(pids):
    """Summed VmRSS, VmHWM and Pss of processes, in kB (Pss shares pages out fairly between
    an nginx master and its workers; for one process it is about its RSS)."""
    rss = hwm = pss = 0
    for pid in pids:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                name, _, rest = line.partition(":")
                if name == "VmRSS":
                    rss += int(rest.split()[0])
                elif name == "VmHWM":
                    hwm += int(rest.split()[0])
        try:
            with open(f"/proc/{pid}/smaps_rollup") as fh:
                for line in fh:
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1])
        except OSError:
            pass
    return rss, hwm, pss


class Nginx:
    """nginx as a reverse proxy to `upstream`, the way temps proxies it (HTTP/1.1,
    kept-alive upstream connections, the same forwarding headers)."""

    name = "nginx"

    def __init__(self, work, upstream, connections=4096):
        self.port = free_port()
        conf = os.path.join(work, "nginx.conf")
        with open(conf, "w") as fh:
            fh.write(NGINX_CONF.format(workers=os.cpu_count(), work=work, upstream=upstream,
                                       port=self.port, connections=connections,
                                       nofile=connections * 2 + 1024))
        self.proc = subprocess.Popen(["nginx", "-c", conf], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while get(self.port) is None:
            if time.time() > deadline or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError("nginx does not serve")
            time.sleep(0.05)

    def pids(self):
        children = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True,
                                  text=True).stdout.split()
        return [self.proc.pid, *map(int, children)]

    def memory_kb(self):
        return proc_memory_kb(self.pids())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


class HAProxy:
    """HAProxy (Debian's package) as a reverse proxy to `upstream`, configured like nginx
    and temps (HAPROXY_CONF)."""

    name = "haproxy"

    def __init__(self, work, upstream, connections=4096):
        self.port = free_port()
        conf = os.path.join(work, "haproxy.cfg")
        maxconn = connections + 256
        with open(conf, "w") as fh:
            fh.write(HAPROXY_CONF.format(threads=os.cpu_count(), work=work, upstream=upstream,
                                         port=self.port, maxconn=maxconn))
        self.err = open(os.path.join(work, "haproxy.err"), "a")
        # -db: in the foreground, one process (its threads), as temps runs.
        self.proc = subprocess.Popen(["haproxy", "-db", "-f", conf], stdout=subprocess.DEVNULL,
                                     stderr=self.err)
        deadline = time.time() + 10
        while get(self.port) is None:
            if time.time() > deadline or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError(f"haproxy does not serve; see {work}/haproxy.err")
            time.sleep(0.05)

    def pids(self):
        return [self.proc.pid]

    def memory_kb(self):
        return proc_memory_kb(self.pids())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.err.close()


REFERENCES = (Nginx, HAProxy)


def pin(cpus, pids=(), container=None):
    """Put processes (every thread) and a container's processes on `cpus` (like "1")."""
    for pid in pids:
        subprocess.run(["taskset", "-a", "-p", "-c", cpus, str(pid)], check=True,
                       capture_output=True)
    if container:
        subprocess.run(["docker", "update", "--cpuset-cpus", cpus, container], check=True,
                       capture_output=True)


def latency_and_throughput(args, proxy_port, direct, container, proxy, work, container_id):
    urls = {"direct": f"http://{direct}/", "proxied": f"http://127.0.0.1:{proxy_port}/"}
    if container and container != direct:
        urls["container"] = f"http://{container}/"
    references = []
    for kind in REFERENCES:
        try:
            reference = kind(work, direct)
        except (OSError, RuntimeError) as err:
            log(f"no {kind.name} for reference: {err}")
            continue
        references.append(reference)
        urls[kind.name] = f"http://127.0.0.1:{reference.port}/"
    try:
        return measure(args, urls, proxy, references, container_id)
    finally:
        for reference in references:
            reference.stop()


def measure(args, urls, proxy, references, container_id):
    latency = {name: [] for name in urls}
    throughput = {name: [] for name in urls}
    pinned = {name: [] for name in urls if name != "container"}
    worked = {us: {name: [] for name in urls if name != "container"} for us in args.work_us}
    cpu = []
    for url in urls.values():   # warm up every path (connection pools, page cache)
        wrk(url, 1, 1, 1)

    def rotation(i):
        names = list(urls)
        return names[i % len(names):] + names[:i % len(names)]

    for i in range(args.rounds):
        for name in rotation(i):
            r = wrk(urls[name], 1, 1, args.seconds, latency=True)
            latency[name].append(r)
            log(f"latency {name:8} round {i + 1}: p50 {r['p50_us']:.0f} us, p99 {r['p99_us']:.0f} us, "
                f"{r['rps']:.0f} req/s")
    for i in range(args.rounds):
        for name in rotation(i):
            before = proxy.cpu_seconds()
            r = wrk(urls[name], args.wrk_threads, args.wrk_connections, args.seconds)
            used = proxy.cpu_seconds() - before
            throughput[name].append(r)
            if name == "proxied":
                cpu.append(used / r["requests"] * 1e6)
            log(f"throughput {name:8} round {i + 1}: {r['rps']:.0f} req/s, {r['errors']} errors"
                + (f", proxy CPU {used / r['requests'] * 1e6:.1f} us/request" if name == "proxied" else ""))
    for work_us, series in worked.items():
        for i in range(args.rounds):
            for name in [n for n in rotation(i) if n in series]:
                r = wrk(f"{urls[name]}?work={work_us}", args.wrk_threads, args.wrk_connections,
                        args.seconds)
                series[name].append(r)
                log(f"work {work_us:4} µs {name:8} round {i + 1}: {r['rps']:.0f} req/s, {r['errors']} errors")
    throughput["worked"] = worked
    if (os.cpu_count() or 1) < 2:
        return latency, throughput, cpu, None
    # The proxies on CPU 1; wrk and the app on CPU 0.
    all_cpus = f"0-{os.cpu_count() - 1}"
    proxies = [proxy.pid, *(pid for r in references for pid in r.pids())]
    pin("1", proxies)
    pin("0", container=container_id)
    try:
        for i in range(args.rounds):
            for name in [n for n in rotation(i) if n in pinned]:
                r = wrk(urls[name], 1, args.wrk_connections, args.seconds, cpus="0")
                pinned[name].append(r)
                log(f"pinned     {name:8} round {i + 1}: {r['rps']:.0f} req/s, {r['errors']} errors")
    finally:
        pin(all_cpus, proxies, container=container_id)
    return latency, throughput, cpu, pinned


def memory(args, temps, db, proxy_port, direct, work):
    """Each proxy's memory, a fresh process each: temps proxy, then nginx and HAProxy in
    front of the same upstream."""
    rows = {}
    proxy = ProxyProcess(temps, db, os.path.join(work, "proxy-memory.log"))
    try:
        rows["proxied"] = memory_of("temps proxy", proxy_port, proxy.memory_kb, args.conns)
    finally:
        proxy.stop()
    for kind in REFERENCES:
        try:
            reference = kind(work, direct, connections=args.conns + 256)
        except (OSError, RuntimeError) as err:
            log(f"no {kind.name} for the memory series: {err}")
            continue
        try:
            rows[kind.name] = memory_of(kind.name, reference.port, reference.memory_kb, args.conns)
        finally:
            reference.stop()
    return rows


def memory_of(label, port, memory_kb, conns):
    """A fresh proxy's memory (RSS, peak, PSS) with `conns` idle client connections, never
    used and after one request each."""
    deadline = time.time() + 10
    while get(port) is None:
        if time.time() > deadline:
            raise RuntimeError(f"the fresh {label} does not serve")
        time.sleep(0.01)
    for _ in range(100):
        get(port)
    time.sleep(0.5)
    rows = {"baseline": memory_kb()}
    for variant in ("idle", "one_request"):
        socks = []
        try:
            for n in range(conns):
                s = connect(port, timeout=10)
                if variant == "one_request":
                    s.sendall(REQUEST)
                    status, _, _, _ = read_answer(s, bytearray())
                    if status != 200:
                        raise RuntimeError(f"{label}, connection {n}: HTTP {status}")
                socks.append(s)
            time.sleep(2)
            rows[variant] = memory_kb()
            # Every connection still works (the proxy kept them all).
            if variant == "one_request":
                for s in socks[:: max(1, len(socks) // 100)]:
                    s.sendall(REQUEST)
                    status, _, _, _ = read_answer(s, bytearray())
                    if status != 200:
                        raise RuntimeError(f"{label}: a kept connection answered HTTP {status}")
        finally:
            for s in socks:
                s.close()
        time.sleep(2)
        rows[f"{variant}_closed"] = memory_kb()
        log(f"memory {label} {variant}: {rows[variant][0] / 1024:.1f} MB RSS "
            f"({rows[variant][2] / 1024:.1f} MB PSS) with {conns} connections, "
            f"{rows[f'{variant}_closed'][0] / 1024:.1f} MB once closed")
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--temps", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--v1", required=True)
    ap.add_argument("--v2", required=True)
    ap.add_argument("--tag", required=True, help="prefix of the project names, for cleanup")
    ap.add_argument("--rollbacks", type=int, default=int(os.environ.get("ROLLBACKS", "10")))
    ap.add_argument("--new-clients", type=int, default=int(os.environ.get("NEW_CLIENTS", "2")))
    ap.add_argument("--kept-clients", type=int, default=int(os.environ.get("KEPT_CLIENTS", "2")))
    ap.add_argument("--interval-ms", type=float, default=float(os.environ.get("INTERVAL_MS", "2")))
    ap.add_argument("--before-ms", type=float, default=300)
    ap.add_argument("--after-ms", type=float, default=500)
    ap.add_argument("--settle-ms", type=float, default=float(os.environ.get("SETTLE_MS", "300")))
    ap.add_argument("--rounds", type=int, default=int(os.environ.get("ROUNDS", "5")))
    ap.add_argument("--seconds", type=int, default=int(os.environ.get("SECONDS_PER_ROUND", "5")))
    ap.add_argument("--wrk-threads", type=int, default=int(os.environ.get("WRK_THREADS", "2")))
    ap.add_argument("--wrk-connections", type=int, default=int(os.environ.get("WRK_CONNECTIONS", "32")))
    ap.add_argument("--work-us", default=os.environ.get("WORK_US", "200,1000"),
                    type=lambda v: [int(n) for n in v.split(",") if n],
                    help="comma-separated CPU µs the app spends per request, one series each")
    ap.add_argument("--conns", type=int, default=int(os.environ.get("CONNS", "10000")))
    ap.add_argument("--skip", default=os.environ.get("SKIP", ""),
                    help="comma-separated series to skip: outage,latency,memory")
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))

    temps, db, work = args.temps, os.path.join(args.work, "proxy.db"), args.work
    px, pt = f"{args.tag}-px", f"{args.tag}-pt"
    proxy_port, port_port = free_port(), free_port()
    for project in (px, pt):
        run_temps(temps, db, "-q", "project", "create", project, "--container-port", "8080",
                  "--health-path", HEALTH_PATH)
    proxy = ProxyProcess(temps, db, os.path.join(work, "proxy.log"))
    summary = {"cores": os.cpu_count(), "args": vars(args)}
    try:
        ids = {"proxy": [], "port": []}
        for image in (args.v1, args.v2):
            _, p = run_temps(temps, db, "-o", "json", "deploy", px, "--image", image,
                             "--proxy", f"127.0.0.1:{proxy_port}", "--drain", "5s",
                             # Cold rollbacks, as measured before warm standby (see warm.sh).
                             "--standby", "0s")
            ids["proxy"].append(json.loads(p.stdout)["id"])
            _, p = run_temps(temps, db, "-o", "json", "deploy", pt, "--image", image,
                             "--publish", f"127.0.0.1:{port_port}")
            ids["port"].append(json.loads(p.stdout)["id"])
        if get(proxy_port) != "v2" or get(port_port) != "v2":
            raise RuntimeError("the setup does not serve v2 on both ports")

        if "outage" not in skip:
            summary["outage"] = outage(args, temps, db, proxy_port, port_port, ids)
        _, p = run_temps(temps, db, "-o", "json", "status", px)
        status = json.loads(p.stdout)[0]
        # The proxy's upstream as it routes it: the container's own address, or its
        # published loopback port where the host cannot reach container addresses.
        direct = status["proxy"]["upstreams"][0]["address"]
        if "latency" not in skip:
            # For reference: the container itself on the bridge network, with no
            # docker-proxy in between (what neither mode uses today).
            ip = subprocess.run(["docker", "inspect", "-f",
                                 "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                                 status["current"]["containers"][0]], capture_output=True, text=True).stdout.strip()
            container = f"{ip}:8080" if ip and get_addr(ip, 8080) else None
            lat, thr, cpu, pinned = latency_and_throughput(args, proxy_port, direct, container, proxy,
                                                           work, status["current"]["containers"][0])
            summary["latency"], summary["throughput"], summary["proxy_cpu_us_per_request"] = lat, thr, cpu
            summary["pinned"] = pinned
    finally:
        proxy.stop()
    if "memory" not in skip:
        summary["memory_kb"] = memory(args, temps, db, proxy_port, direct, work)
    with open(os.path.join(work, "proxy.json"), "w") as fh:
        json.dump(summary, fh, indent=2)
    sys.exit(report(summary, args))


def report(summary, args):
    met = True
    lines = []
    if "outage" in summary:
        o = summary["outage"]
        lines.append(f"\n### Rollbacks under load ({args.rollbacks} per mode, interleaved; "
                     f"{args.new_clients} clients on new connections + {args.kept_clients} kept alive, "
                     f"one request every {args.interval_ms:g} ms each)\n")
        lines.append("| mode | requests | failed | rollbacks with a failure | longest gap ms (median, max) | "
                     "old version after return | rollback ms (median) |")
        lines.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        for mode, label in (("proxy", "proxy (`--proxy`)"), ("port", "port (`--publish`)"),
                            ("control", "no rollback (control, proxy)")):
            rows = o[mode]
            gaps = [r["longest_gap_ms"] for r in rows]
            old_after = "—" if mode == "control" else str(sum(r["old_after_return"] for r in rows))
            took = "—" if mode == "control" else f"{med([r['took_s'] for r in rows]) * 1000:.0f}"
            lines.append(f"| {label} | {sum(r['requests'] for r in rows)} | {sum(r['failed'] for r in rows)} | "
                         f"{sum(1 for r in rows if r['failed'])} / {len(rows)} | "
                         f"{med(gaps):.1f}, {max(gaps):.1f} | {old_after} | {took} |")
        ok = sum(r["failed"] for r in o["proxy"]) == 0 and sum(r["old_after_return"] for r in o["proxy"]) == 0
        met &= ok
        lines.append(f"\ntarget (proxy mode: no failed request, no old answer after the return): "
                     f"{'MET' if ok else 'MISSED'}")
    if "latency" in summary:
        lat, thr = summary["latency"], summary["throughput"]
        p50 = {k: med([r["p50_us"] for r in v]) for k, v in lat.items()}
        p99 = {k: med([r["p99_us"] for r in v]) for k, v in lat.items()}
        mean = {k: med([r["mean_us"] for r in v]) for k, v in lat.items()}
        rps1 = {k: med([r["rps"] for r in v]) for k, v in lat.items()}
        worked = thr.pop("worked", None)
        rps = {k: med([r["rps"] for r in v]) for k, v in thr.items()}
        errors = {k: sum(r["errors"] for r in v) for k, v in thr.items()}
        lines.append(f"\n### Per request ({args.rounds} rounds of {args.seconds} s each, in rotating order)\n")
        labels = {"direct": "direct (the proxy's upstream)", "proxied": "through `temps proxy`",
                  "nginx": "reference: nginx", "haproxy": "reference: HAProxy",
                  "container": "reference: container IP"}
        names = [n for n in labels if n in lat]
        lines.append("| | " + " | ".join(labels[n] for n in names) + " | temps proxy against direct |")
        lines.append("| --- |" + " ---: |" * (len(names) + 1))

        def row(label, values, fmt, diff, ratio=False):
            cells = []
            for n in names:
                if n not in values:
                    cells.append("—")
                elif ratio and n not in ("direct", "proxied"):
                    cells.append(f"{fmt(values[n])} ({values[n] / values['direct'] * 100:.0f} %)")
                else:
                    cells.append(fmt(values[n]))
            lines.append(f"| {label} | " + " | ".join(cells) + f" | {diff} |")

        us = lambda v: f"{v:.0f}"
        pct = lambda v: f"{v['proxied'] / v['direct'] * 100:.0f} %"
        row("latency p50, one kept-alive connection (µs)", p50, us, f"{p50['proxied'] - p50['direct']:+.0f} µs")
        row("— added to direct at p50 (µs)", {k: v - p50["direct"] for k, v in p50.items() if k != "direct"},
            lambda v: f"{v:+.0f}", "")
        row("latency p99 (µs)", p99, us, f"{p99['proxied'] - p99['direct']:+.0f} µs")
        row("— added to direct at p99 (µs)", {k: v - p99["direct"] for k, v in p99.items() if k != "direct"},
            lambda v: f"{v:+.0f}", "")
        row("latency mean (µs)", mean, us, f"{mean['proxied'] - mean['direct']:+.0f} µs")
        row("requests/s, one connection", rps1, us, pct(rps1), ratio=True)
        row(f"requests/s, wrk -t{args.wrk_threads} -c{args.wrk_connections}, all on shared cores", rps, us,
            pct(rps), ratio=True)
        pinned = summary.get("pinned")
        if pinned:
            prps = {k: med([r["rps"] for r in v]) for k, v in pinned.items()}
            row(f"requests/s, wrk -t1 -c{args.wrk_connections} and the app on CPU 0, the proxy on CPU 1",
                prps, us, pct(prps), ratio=True)
            errors = {k: errors[k] + sum(r["errors"] for r in pinned.get(k, [])) for k in errors}
        wrps = {}
        for work_us, series in (worked or {}).items():
            wrps[work_us] = {k: med([r["rps"] for r in v]) for k, v in series.items()}
            row(f"requests/s, wrk -t{args.wrk_threads} -c{args.wrk_connections}, shared cores, the app "
                f"spending {work_us} µs of CPU per request", wrps[work_us], us, pct(wrps[work_us]), ratio=True)
            errors = {k: errors[k] + sum(r["errors"] for r in series.get(k, [])) for k in errors}
        row("errors (wrk)", errors, str, "")
        lines.append(f"\nproxy CPU per request under wrk: {med(summary['proxy_cpu_us_per_request']):.1f} µs (median of rounds)")
        added = p50["proxied"] - p50["direct"]
        ratio = rps["proxied"] / rps["direct"]
        met &= added < 100 and ratio >= 0.9
        lines.append(f"target (added p50 < 100 µs): {'MET' if added < 100 else 'MISSED'} ({added:+.0f} µs)")
        lines.append(f"target (throughput >= 90 % of direct): {'MET' if ratio >= 0.9 else 'MISSED'} "
                     f"({ratio * 100:.0f} % on shared cores"
                     + (f"; {prps['proxied'] / prps['direct'] * 100:.0f} % with a core of its own" if pinned else "")
                     + "".join(f"; {labels[n][11:]} {rps[n] / rps['direct'] * 100:.0f} % on shared cores"
                               for n in ("nginx", "haproxy") if n in rps)
                     + ")")
        for n in ("nginx", "haproxy"):
            if n not in rps:
                continue
            ahead = [what for what, mine, theirs in (
                ("p50", -p50["proxied"], -p50[n]), ("p99", -p99["proxied"], -p99[n]),
                ("shared-core throughput", rps["proxied"], rps[n]),
                *((("pinned throughput", prps["proxied"], prps[n]),) if pinned and n in prps else ()),
            ) if mine > theirs]
            lines.append(f"against {labels[n][11:]}: temps proxy ahead on "
                         f"{', '.join(ahead) if ahead else 'nothing'}")
        for work_us, w in wrps.items():
            wratio = w["proxied"] / w["direct"]
            lines.append(f"target (throughput >= 90 % of direct), an app spending {work_us} µs per request: "
                         f"{'MET' if wratio >= 0.9 else 'MISSED'} ({wratio * 100:.0f} %)")
    if "memory_kb" in summary:
        mem = summary["memory_kb"]
        mb = lambda kb: kb / 1024
        names = [n for n in ("proxied", "nginx", "haproxy") if n in mem]
        title = {"proxied": "temps proxy", "nginx": "nginx", "haproxy": "HAProxy"}
        lines.append(f"\n### Memory with {args.conns} idle client connections (a fresh process each; "
                     f"RSS MB, summed over nginx's master and workers; PSS in brackets)\n")
        lines.append("| | " + " | ".join(title[n] for n in names) + " |")
        lines.append("| --- |" + " ---: |" * len(names))

        def cell(n, key):
            rss, _, pss = mem[n][key]
            return f"{mb(rss):.1f} ({mb(pss):.1f})"

        lines.append("| baseline (after 100 requests) | " + " | ".join(cell(n, "baseline") for n in names) + " |")
        for key, label in (("idle", "never used"), ("idle_closed", "— after closing them"),
                           ("one_request", "one request each, kept alive"),
                           ("one_request_closed", "— after closing them")):
            lines.append(f"| {label} | " + " | ".join(cell(n, key) for n in names) + " |")
        for key, label in (("idle", "never used"), ("one_request", "one request each")):
            lines.append(f"| per connection KB, {label} | " + " | ".join(
                f"{(mem[n][key][0] - mem[n]['baseline'][0]) / args.conns:.1f}" for n in names) + " |")
        lines.append("| peak RSS MB | " + " | ".join(
            f"{mb(max(v[1] for v in mem[n].values())):.1f}" for n in names) + " |")
        m = mem["proxied"]
        ok = mb(m["idle"][0]) < 100 and mb(m["one_request"][0]) < 100
        met &= ok
        lines.append(f"\ntarget (temps proxy < 100 MB with {args.conns} idle connections): {'MET' if ok else 'MISSED'}")
    print("\n".join(lines))
    return 0 if met else 3


if __name__ == "__main__":
    main()
