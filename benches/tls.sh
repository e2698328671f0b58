#!/usr/bin/env bash
# HTTPS at the edge: temps proxy against nginx and HAProxy terminating TLS with the same
# certificate (ECDSA P-256, then RSA 2048) in front of the same app, on loopback:
# kept-alive and new-connection HTTPS requests/s, full handshakes/s, memory per idle TLS
# connection, and the plain-HTTP gap (throughput against a direct connection, each
# proxy's CPU time per request).
#
#   bash benches/tls.sh                      # 3 rounds of 4 s per figure (~4 min)
#   ROUNDS=5 SECONDS_EACH=5 IDLE=2000 bash benches/tls.sh
#   BENCH_OUT=DIR bash benches/tls.sh        # keep tls.json (raw + summary) in DIR
#
# Needs wrk, nginx, haproxy and openssl (installed from Debian when missing; nginx and
# HAProxy run here as this user from configs in the work folder), and no Docker: the app
# (benches/proxy_upstream/upstream.rs, as benches/proxy.sh builds it) runs on loopback,
# and temps' routes are written to a fresh history as a deploy leaves them.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=lib.sh
. "$root/benches/lib.sh"

bench_need python3 python3
bench_need wrk wrk
bench_need nginx nginx
bench_need haproxy haproxy
bench_need openssl openssl
temps=$(bench_build "$root")
ulimit -n "$(ulimit -Hn)"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bench_log "building the app (benches/proxy_upstream/upstream.rs)"
rustc --edition 2021 -O "$root/benches/proxy_upstream/upstream.rs" -o "$work/upstream"
bench_log "$(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(nginx -v 2>&1), $(haproxy -v | head -1)"
python3 "$root/benches/tls_bench.py" --temps "$temps" --upstream-bin "$work/upstream" --work "$work"
if [ -n "${BENCH_OUT:-}" ] && [ -f "$work/tls.json" ]; then
  mkdir -p "$BENCH_OUT" && cp "$work/tls.json" "$BENCH_OUT/"
fi
