#!/usr/bin/env bash
# Proxy mode: requests failed and the longest outage during rollbacks, proxy mode against
# port mode; the proxy's added latency and throughput against a direct connection; its
# memory with 10,000 idle client connections.
#
#   bash benches/proxy.sh                      # everything, prints the tables (~5 min)
#   ROLLBACKS=20 ROUNDS=7 bash benches/proxy.sh
#   SKIP=outage,memory bash benches/proxy.sh   # only latency and throughput
#   BENCH_OUT=DIR bash benches/proxy.sh        # keep proxy.json (raw + summary) in DIR
#
# Needs a Docker engine (started by tests/docker-up.sh when none answers), wrk, nginx and
# haproxy (installed from Debian when missing; only run here, as this user, from a config
# in the work folder) and busybox-static. The upstream,
# benches/proxy_upstream/upstream.rs,
# is built here with rustc and imported as two images (v1, v2) of our own. Every container,
# tag and image it makes is removed on exit. Exit 3: a target was missed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=lib.sh
. "$root/benches/lib.sh"

bench_need python3 python3
bench_need wrk wrk
bench_need taskset util-linux
bench_need nginx nginx
bench_need haproxy haproxy
bench_need /bin/busybox busybox-static
docker info >/dev/null 2>&1 || bash "$root/tests/docker-up.sh"
temps=$(bench_build "$root")

# 10,000 client connections in the benchmark, as many in each proxy: raise the limit of
# all (the proxies inherit it). HAProxy asks for two descriptors per connection it may
# hold (the client's and the server's); it is told to start with what there is.
conns=${CONNS:-10000}
hard=$(ulimit -Hn)
want=$((conns * 2 + 4096))
if [ "$hard" != unlimited ] && [ "$hard" -lt "$want" ]; then
  want=$hard
  if [ "$hard" -lt $((conns + 1024)) ]; then
    bench_log "the hard limit on open files is $hard: measuring $((hard - 1024)) connections, not $conns"
    conns=$((hard - 1024))
  fi
fi
ulimit -n "$want"
export CONNS=$conns

tag="tpbench$$"
work=$(mktemp -d)

cleanup() {
  bench_remove_projects "$tag-px" "$tag-pt"
  docker rmi "temps-bench/$tag-up:v1" "temps-bench/$tag-up:v2" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

bench_log "building the upstream (benches/proxy_upstream/upstream.rs)"
mkdir -p "$work/rootfs/bin"
rustc --edition 2021 -O -C target-feature=+crt-static -C strip=symbols \
  "$root/benches/proxy_upstream/upstream.rs" -o "$work/rootfs/bin/upstream"
cp /bin/busybox "$work/rootfs/bin/busybox"
ln -s busybox "$work/rootfs/bin/sh"
for version in v1 v2; do
  # sh as PID 1 turns SIGTERM into a quick exit (the upstream itself ignores it).
  serve="trap 'exit 0' TERM; /bin/upstream 8080 $version & wait"
  tar -C "$work/rootfs" -c . | docker import --change "CMD [\"sh\", \"-c\", \"$serve\"]" \
    --change 'EXPOSE 8080' - "temps-bench/$tag-up:$version" >/dev/null
done

bench_log "engine $(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
status=0
python3 "$root/benches/proxy_bench.py" --temps "$temps" --work "$work" \
  --v1 "temps-bench/$tag-up:v1" --v2 "temps-bench/$tag-up:v2" --tag "$tag" || status=$?
if [ -n "${BENCH_OUT:-}" ] && [ -f "$work/proxy.json" ]; then
  mkdir -p "$BENCH_OUT" && cp "$work/proxy.json" "$BENCH_OUT/"
fi
exit "$status"
