#!/usr/bin/env bash
# Warm standby: a rollback to a warm standby vs a cold rollback vs the hand-written
# runbook (docker stop; docker run; curl until healthy), in one run, each under client
# load; see warm_bench.py.
#
#   bash benches/warm.sh               # 10 runs per series
#   RUNS=20 bash benches/warm.sh
#   BENCH_OUT=DIR bash benches/warm.sh  # keep warm.json (raw + summary) in DIR
#
# Needs a Docker engine (started by tests/docker-up.sh when none answers) and the fixture
# images temps-test/web:v1/v2 (built by tests/fixtures/build.sh when missing). Every
# container and tag it makes is removed on exit. Exit 3: a target was missed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=lib.sh
. "$root/benches/lib.sh"

bench_need python3 python3
docker info >/dev/null 2>&1 || bash "$root/tests/docker-up.sh"
if ! docker image inspect temps-test/web:v1 temps-test/web:v2 >/dev/null 2>&1; then
  bench_log "building the fixture images"
  (cd "$root" && bash tests/fixtures/build.sh)
fi
temps=$(bench_build "$root")

tag="twarm$$"
work=$(mktemp -d)

cleanup() {
  bench_remove_projects "$tag-warm" "$tag-cold" "$tag-runbook"
  docker rmi "temps-bench/$tag:v1" "temps-bench/$tag:v2" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# Our own tags: other sessions may rebuild the fixtures meanwhile, which moves theirs.
docker tag temps-test/web:v1 "temps-bench/$tag:v1"
docker tag temps-test/web:v2 "temps-bench/$tag:v2"

bench_log "engine $(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
status=0
python3 "$root/benches/warm_bench.py" --temps "$temps" --work "$work" \
  --v1 "temps-bench/$tag:v1" --v2 "temps-bench/$tag:v2" --tag "$tag" || status=$?
if [ -n "${BENCH_OUT:-}" ] && [ -f "$work/warm.json" ]; then
  mkdir -p "$BENCH_OUT" && cp "$work/warm.json" "$BENCH_OUT/"
fi
exit "$status"
