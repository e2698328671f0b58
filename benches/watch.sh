#!/usr/bin/env bash
# The watch window: from the first bad answer to the old version answering again, when a
# new version starts answering 500 inside its watch; proxy mode with a warm standby, the
# same after a full 10 s window of good answers, and port mode. See watch_bench.py.
#
#   bash benches/watch.sh               # 5 runs per series
#   RUNS=10 bash benches/watch.sh
#   BENCH_OUT=DIR bash benches/watch.sh  # keep watch.json (raw + summary) in DIR
#
# Needs a Docker engine (started by tests/docker-up.sh when none answers) and the fixture
# images temps-test/web:v1 and temps-test/souring:v1 (built by tests/fixtures/build.sh when
# missing). Every container and tag it makes is removed on exit. Exit 3: a target was missed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=lib.sh
. "$root/benches/lib.sh"

bench_need python3 python3
docker info >/dev/null 2>&1 || bash "$root/tests/docker-up.sh"
if ! docker image inspect temps-test/web:v1 temps-test/souring:v1 >/dev/null 2>&1; then
  bench_log "building the fixture images"
  (cd "$root" && bash tests/fixtures/build.sh)
fi
temps=$(bench_build "$root")

tag="twatch$$"
work=$(mktemp -d)

cleanup() {
  bench_remove_projects "$tag-proxy-warm" "$tag-proxy-full" "$tag-port"
  docker rmi "temps-bench/$tag:v1" "temps-bench/$tag:bad" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# Our own tags: other sessions may rebuild the fixtures meanwhile, which moves theirs.
docker tag temps-test/web:v1 "temps-bench/$tag:v1"
docker tag temps-test/souring:v1 "temps-bench/$tag:bad"

bench_log "engine $(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
status=0
python3 "$root/benches/watch_bench.py" --temps "$temps" --work "$work" \
  --v1 "temps-bench/$tag:v1" --bad "temps-bench/$tag:bad" --tag "$tag" || status=$?
if [ -n "${BENCH_OUT:-}" ] && [ -f "$work/watch.json" ]; then
  mkdir -p "$BENCH_OUT" && cp "$work/watch.json" "$BENCH_OUT/"
fi
exit "$status"
