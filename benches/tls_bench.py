#!/usr/bin/env python3
"""HTTPS at the edge, temps proxy against nginx and HAProxy terminating TLS with the same
certificate in front of the same app (benches/proxy_upstream/upstream.rs, on loopback).

  keepalive   wrk -t2 -c32 over HTTPS, connections kept alive: requests/s
  newconn     the same with `Connection: close`: every request a new TCP connection and a
              full TLS handshake (wrk resumes no session): requests/s
  handshakes  full TLS handshakes/s (no session resumed, no request) from 8 client
              threads (Python's ssl, OpenSSL) connecting back to back
  memory      RSS of each proxy with N idle TLS connections (handshake done, one request
              each) against the same process before, per connection
  plain       the plain-HTTP gap: wrk -t2 -c32 over HTTP/1.1 to the app directly and
              through each proxy, and each proxy's CPU time per request

Each series for ECDSA P-256 and RSA 2048 certificates; the proxies interleaved round by
round. Every figure is printed and written to tls.json in --work.
"""

import argparse
import json
import os
import re
import socket
import ssl
import sqlite3
import statistics
import subprocess
import sys
import time


def log(text):
    print(f"bench: {text}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def cpu_seconds(pids):
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        except OSError:
            pass
    return total


def rss_kb(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def children(pid):
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def make_certificates(work, kind):
    """A CA and a leaf for localhost, `ec` (P-256) or `rsa` (2048), as PEM files."""
    d = os.path.join(work, kind)
    os.makedirs(d, exist_ok=True)
    new_key = (["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"] if kind == "ec"
               else ["-newkey", "rsa:2048"])
    run = lambda *a: subprocess.run(a, check=True, capture_output=True)
    run("openssl", "req", "-x509", *new_key, "-nodes", "-days", "2", "-subj", "/CN=bench CA",
        "-keyout", f"{d}/ca.key", "-out", f"{d}/ca.pem")
    run("openssl", "req", *new_key, "-nodes", "-subj", "/CN=localhost",
        "-keyout", f"{d}/leaf.key", "-out", f"{d}/leaf.csr")
    with open(f"{d}/ext", "w") as f:
        f.write("subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n")
    run("openssl", "x509", "-req", "-in", f"{d}/leaf.csr", "-CA", f"{d}/ca.pem",
        "-CAkey", f"{d}/ca.key", "-CAcreateserial", "-days", "2", "-extfile", f"{d}/ext",
        "-out", f"{d}/leaf.pem")
    # The key in PKCS#8, as every proxy reads it.
    run("openssl", "pkcs8", "-topk8", "-nocrypt", "-in", f"{d}/leaf.key", "-out", f"{d}/leaf.p8")
    with open(f"{d}/both.pem", "w") as f:
        f.write(open(f"{d}/leaf.pem").read() + open(f"{d}/leaf.p8").read())
    return d


class Temps:
    name = "temps"

    def __init__(self, temps, work, upstream, certs, port, plain_port):
        self.db = os.path.join(work, f"temps-{os.path.basename(certs)}.db")
        for suffix in ("", "-wal", "-shm"):
            try:
                os.remove(self.db + suffix)
            except OSError:
                pass
        env = dict(os.environ, TEMPS_DB=self.db)
        subprocess.run([temps, "project", "create", "bench"], env=env, check=True,
                       capture_output=True)
        cert = open(f"{certs}/leaf.pem").read()
        key = open(f"{certs}/leaf.p8").read()
        conn = sqlite3.connect(self.db)
        pid = conn.execute("SELECT id FROM projects WHERE name = 'bench'").fetchone()[0]
        # Two environments as deploy leaves them (the bench runs no container): one on
        # an HTTPS address, one on a plain address, both routed to the same app.
        for name, listen, tls in (("https", f"127.0.0.1:{port}", "own"),
                                  ("plain", f"127.0.0.1:{plain_port}", "off")):
            conn.execute(
                "INSERT INTO environments (project_id, name, proxy, domains, tls, tls_cert, tls_key) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (pid, name, listen, json.dumps(["localhost"] if tls == "own" else []), tls,
                 cert if tls == "own" else None, key if tls == "own" else None))
            env_id = conn.execute("SELECT id FROM environments WHERE name = ?", (name,)).fetchone()[0]
            conn.execute(
                "INSERT INTO routes (environment_id, listen, upstreams, generation) VALUES (?, ?, ?, "
                "(SELECT COALESCE(MAX(generation), 0) + 1 FROM routes))",
                (env_id, listen, json.dumps([upstream])))
        conn.commit()
        conn.close()
        self.log = open(os.path.join(work, "temps-proxy.log"), "a")
        self.proc = subprocess.Popen([temps, "proxy"], env=env, stdout=subprocess.DEVNULL,
                                     stderr=self.log)
        wait_port(port)
        wait_port(plain_port)

    def pids(self):
        return [self.proc.pid]

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=20)


NGINX = """worker_processes {workers};
worker_rlimit_nofile 65536;
daemon off;
pid {work}/nginx.pid;
error_log {work}/nginx.err;
events {{ worker_connections 16384; }}
http {{
  access_log off;
  client_body_temp_path {work}/nginx-body;
  proxy_temp_path {work}/nginx-proxy;
  client_header_timeout 30s;
  keepalive_timeout 30s;
  keepalive_requests 1000000;
  upstream app {{ server {upstream}; keepalive 64; keepalive_timeout 30s; keepalive_requests 1000000; }}
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_session_cache shared:tls:4m;
  server {{
    listen 127.0.0.1:{port} ssl http2;
    listen 127.0.0.1:{plain_port};
    ssl_certificate {certs}/leaf.pem;
    ssl_certificate_key {certs}/leaf.p8;
    location / {{
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $host;
    }}
  }}
}}
"""

HAPROXY = """global
  nbthread {workers}
  maxconn 20000
  no strict-limits
  pidfile {work}/haproxy.pid
  tune.bufsize 16384
  ssl-default-bind-options ssl-min-ver TLSv1.2
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
frontend bench
  bind 127.0.0.1:{port} ssl crt {certs}/both.pem alpn h2,http/1.1
  bind 127.0.0.1:{plain_port}
  http-request set-header X-Forwarded-Proto https if {{ ssl_fc }}
  http-request set-header X-Forwarded-Host %[req.hdr(host)]
  default_backend app
backend app
  server app {upstream}
"""


class Nginx:
    name = "nginx"

    def __init__(self, work, upstream, certs, port, plain_port):
        for d in ("nginx-body", "nginx-proxy"):
            os.makedirs(os.path.join(work, d), exist_ok=True)
        conf = os.path.join(work, "nginx-tls.conf")
        with open(conf, "w") as f:
            f.write(NGINX.format(workers=os.cpu_count(), work=work, upstream=upstream,
                                 port=port, plain_port=plain_port, certs=certs))
        self.proc = subprocess.Popen(["nginx", "-c", conf], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_port(port)

    def pids(self):
        return [self.proc.pid] + children(self.proc.pid)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=20)


class Haproxy:
    name = "haproxy"

    def __init__(self, work, upstream, certs, port, plain_port):
        conf = os.path.join(work, "haproxy-tls.cfg")
        with open(conf, "w") as f:
            f.write(HAPROXY.format(workers=os.cpu_count(), work=work, upstream=upstream,
                                   port=port, plain_port=plain_port, certs=certs))
        self.err = open(os.path.join(work, "haproxy.err"), "a")
        self.proc = subprocess.Popen(["haproxy", "-db", "-f", conf], stdout=subprocess.DEVNULL,
                                     stderr=self.err)
        wait_port(port)

    def pids(self):
        return [self.proc.pid]

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=20)


def wrk(url, seconds, close=False):
    args = ["wrk", "-t2", "-c32", f"-d{seconds}s"]
    if close:
        args += ["-H", "Connection: close"]
    out = subprocess.run(args + [url], capture_output=True, text=True).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": float(rps.group(1)) if rps else 0.0,
        "errors": (errors.group(1) if errors else "") + (f" non-2xx {non2xx.group(1)}" if non2xx else ""),
        "requests": int(re.search(r"(\d+) requests in", out).group(1)) if "requests in" in out else 0,
    }


def handshakes(port, ca, seconds, clients=8):
    """Full TLS handshakes per second (no session resumed, no request), from `clients`
    threads connecting back to back (the handshakes run in OpenSSL, outside the GIL)."""
    import threading
    context = ssl.create_default_context(cafile=ca)
    done = [0] * clients
    deadline = time.time() + seconds

    def client(i):
        while time.time() < deadline:
            raw = socket.create_connection(("127.0.0.1", port))
            try:
                context.wrap_socket(raw, server_hostname="localhost").close()
                done[i] += 1
            except (OSError, ssl.SSLError):
                raw.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    start = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done) / (time.time() - start)


def idle_memory(port, ca, count, pids):
    """RSS delta with `count` idle TLS connections, each after one request (kB each)."""
    before = rss_kb(pids)
    context = ssl.create_default_context(cafile=ca)
    conns = []
    for _ in range(count):
        raw = socket.create_connection(("127.0.0.1", port))
        tls = context.wrap_socket(raw, server_hostname="localhost")
        tls.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        tls.recv(4096)
        conns.append(tls)
    time.sleep(1.0)
    after = rss_kb(pids)
    for c in conns:
        c.close()
    return (after - before) / count, after / 1024


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--temps", required=True)
    p.add_argument("--upstream-bin", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--rounds", type=int, default=int(os.environ.get("ROUNDS", "3")))
    p.add_argument("--seconds", type=int, default=int(os.environ.get("SECONDS_EACH", "4")))
    p.add_argument("--idle", type=int, default=int(os.environ.get("IDLE", "1000")))
    args = p.parse_args()

    app_port = free_port()
    upstream = subprocess.Popen([args.upstream_bin, str(app_port), "v1"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(app_port)
    app = f"127.0.0.1:{app_port}"
    results = {"load": open("/proc/loadavg").read().split()[:3], "series": {}}
    try:
        for kind in ("ec", "rsa"):
            certs = make_certificates(args.work, kind)
            ca = f"{certs}/ca.pem"
            series = {}
            for rnd in range(args.rounds):
                for make in ("temps", "nginx", "haproxy"):
                    port, plain = free_port(), free_port()
                    if make == "temps":
                        proxy = Temps(args.temps, args.work, app, certs, port, plain)
                    elif make == "nginx":
                        proxy = Nginx(args.work, app, certs, port, plain)
                    else:
                        proxy = Haproxy(args.work, app, certs, port, plain)
                    try:
                        url = f"https://localhost:{port}/"
                        row = series.setdefault(make, {"keepalive": [], "newconn": [], "handshakes": [],
                                                       "plain": [], "cpu_us": [], "direct": []})
                        row["keepalive"].append(wrk(url, args.seconds)["rps"])
                        row["newconn"].append(wrk(url, args.seconds, close=True)["rps"])
                        row["handshakes"].append(handshakes(port, ca, args.seconds))
                        if kind == "ec":
                            cpu0 = cpu_seconds(proxy.pids())
                            plain_run = wrk(f"http://127.0.0.1:{plain}/", args.seconds)
                            cpu1 = cpu_seconds(proxy.pids())
                            row["plain"].append(plain_run["rps"])
                            if plain_run["requests"]:
                                row["cpu_us"].append((cpu1 - cpu0) * 1e6 / plain_run["requests"])
                            row["direct"].append(wrk(f"http://{app}/", args.seconds)["rps"])
                        if rnd == 0 and kind == "ec":
                            per, total = idle_memory(port, ca, args.idle, proxy.pids())
                            row["idle_kb"] = per
                            row["idle_total_mb"] = total
                        log(f"{kind} round {rnd + 1} {make}: keepalive {row['keepalive'][-1]:.0f}/s, "
                            f"new connections {row['newconn'][-1]:.0f}/s, handshakes {row['handshakes'][-1]:.0f}/s")
                    finally:
                        proxy.stop()
            results["series"][kind] = series
    finally:
        upstream.terminate()
    med = lambda v: statistics.median(v) if v else 0.0
    summary = {}
    for kind, series in results["series"].items():
        for name, row in series.items():
            summary.setdefault(kind, {})[name] = {
                k: (med(v) if isinstance(v, list) else v) for k, v in row.items()}
    results["summary"] = summary
    with open(os.path.join(args.work, "tls.json"), "w") as f:
        json.dump(results, f, indent=1)
    print(json.dumps(summary, indent=1))
    print(f"load average at start: {' '.join(results['load'])}, now: {' '.join(open('/proc/loadavg').read().split()[:3])}")


if __name__ == "__main__":
    main()
