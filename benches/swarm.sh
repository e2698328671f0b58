#!/usr/bin/env bash
# Swarm mode: `temps rollback` against `docker service rollback` on the same service of a
# 3-node swarm (the lab of tests/swarm-up.sh), in one run, each timed until the service has
# converged on every node.
#
#   bash benches/swarm.sh                     # 5 runs of each
#   RUNS=10 bash benches/swarm.sh
#   BENCH_OUT=DIR bash benches/swarm.sh       # keep swarm.json (hyperfine's export) in DIR
#
# Both take the service from web:v2 back to web:v1 (by digest), one task at a time, stop
# first, Swarm's default update and rollback settings (parallelism 1, 5 s monitor); each
# run is prepared, untimed, so that the service runs v2 (see below) and ends once every
# node answers v1. temps' figure includes what only it does: the lock, the validation (the
# digest asked of the registry), the history, and its own watch of the tasks until Swarm
# reports the update completed; docker's, the CLI's wait for convergence (its default,
# --detach=false, with its 5 s check that the tasks are stable). Needs root (the lab);
# brings the lab up when none answers (TEMPS_SWARM_SLOT picks its slot) and leaves it up.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=lib.sh
. "$root/benches/lib.sh"

bench_need hyperfine hyperfine
bench_need python3 python3
slot=${TEMPS_SWARM_SLOT:-0}
[ "$slot" = 0 ] && env_file=/run/temps-swarm/env || env_file=/run/temps-swarm$slot/env
env_file=${TEMPS_SWARM_ENV:-$env_file}
if [ ! -s "$env_file" ]; then
  bench_log "bringing the swarm lab up (slot $slot)"
  TEMPS_SWARM_SLOT=$slot bash "$root/tests/swarm-up.sh" >&2
fi
# shellcheck disable=SC1090
. "$env_file"
temps=$(bench_build "$root")

project="bswarm$$"
work=$(mktemp -d)
export TEMPS_DB="$work/temps.db" DOCKER_HOST="$TEMPS_SWARM_MANAGER" NO_COLOR=1
service="temps-$project-production"
cleanup() {
  docker service rm "$service" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

port=$((30000 + $$ % 1000))
"$temps" -q project create "$project" --health-timeout 2m >/dev/null
v1=$("$temps" -o json deploy "$project" --image "$TEMPS_SWARM_IMAGE_WEB_V1" --swarm \
  --replicas 3 --publish "$port" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
v2=$("$temps" -o json deploy "$project" --image "$TEMPS_SWARM_IMAGE_WEB_V2" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')

bench_log "engine $(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})'), $(docker node ls -q | wc -l) nodes, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
# Each timed run ends once every node answers v1 (three requests, a few milliseconds):
# what counts is the version every node serves, not only what a command says.
cat >"$work/serves-v1" <<CHECK
for addr in $TEMPS_SWARM_NODE1_ADDR $TEMPS_SWARM_NODE2_ADDR $TEMPS_SWARM_NODE3_ADDR; do
  curl -fsS --max-time 2 "http://\$addr:$port/" | grep -qx v1 || { echo "\$addr does not serve v1" >&2; exit 1; }
done
CHECK
# Prepared, untimed: the service on v2. For docker, v2 must also be the update after a v1
# spec (Swarm's rollback goes back to the spec before the last update), and the history
# must agree again after docker's rollback behind temps' back: roll back, then promote.
hyperfine --runs "${RUNS:-5}" --export-json "$work/swarm.json" --style basic \
  --prepare "'$temps' -q promote $v2 --yes >/dev/null" \
  --prepare "'$temps' -q rollback $v1 --yes >/dev/null 2>&1 && '$temps' -q promote $v2 --yes >/dev/null" \
  --command-name "temps rollback $v1" "'$temps' -q rollback $v1 --yes && sh $work/serves-v1" \
  --command-name "docker service rollback" "docker service rollback --quiet $service >/dev/null && sh $work/serves-v1"
python3 - "$work/swarm.json" <<'EOF'
import json, statistics, sys
results = json.load(open(sys.argv[1]))["results"]
for r in results:
    print(f"{r['command']:28} median {statistics.median(r['times']):6.2f} s  "
          f"min {min(r['times']):6.2f} s  max {max(r['times']):6.2f} s  ({len(r['times'])} runs)")
EOF
if [ -n "${BENCH_OUT:-}" ]; then
  mkdir -p "$BENCH_OUT" && cp "$work/swarm.json" "$BENCH_OUT/"
fi
