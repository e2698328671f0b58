#!/usr/bin/env bash
# Rollback and deploy latency against the engine's own floor.
#
#   bash benches/rollback.sh            # 20 runs each (+2 warm-up), prints a table
#   RUNS=40 bash benches/rollback.sh
#   BENCH_OUT=DIR bash benches/rollback.sh   # keep rollback.json (raw + summary) in DIR
#   TRACE=0 bash benches/rollback.sh         # skip the strace timeline of one extra rollback
#
# Needs a Docker engine (started by tests/docker-up.sh when none answers) and the fixture
# images temps-test/web:v1/v2 (built by tests/fixtures/build.sh when missing). Every
# container and tag it makes is removed on exit. Exit 3: the rollback target was missed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=lib.sh
. "$root/benches/lib.sh"

runs=${RUNS:-20}
warmup=${WARMUP:-2}

bench_need python3 python3
[ "${TRACE:-1}" = 0 ] || bench_need strace strace
docker info >/dev/null 2>&1 || bash "$root/tests/docker-up.sh"
if ! docker image inspect temps-test/web:v1 temps-test/web:v2 >/dev/null 2>&1; then
  bench_log "building the fixture images"
  (cd "$root" && bash tests/fixtures/build.sh)
fi
temps=$(bench_build "$root")

tag="tbench$$"
work=$(mktemp -d)

cleanup() {
  for project in "$tag-rb" "$tag-dp" "$tag-floor"; do
    ids=$(docker ps -aq --filter "label=dev.temps.project=$project")
    # shellcheck disable=SC2086
    [ -z "$ids" ] || docker rm -f $ids >/dev/null || true
    images=$(docker images --format '{{.Repository}}:{{.Tag}}' "temps/$project")
    # shellcheck disable=SC2086
    [ -z "$images" ] || docker rmi $images >/dev/null || true
  done
  docker rmi "temps-bench/$tag:v1" "temps-bench/$tag:v2" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# Our own tags: other sessions may rebuild the fixtures meanwhile, which moves their tags.
docker tag temps-test/web:v1 "temps-bench/$tag:v1"
docker tag temps-test/web:v2 "temps-bench/$tag:v2"

bench_log "engine $(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})'), $(nproc) cores"
trace=()
[ "${TRACE:-1}" = 0 ] || trace=(--trace)
status=0
python3 "$root/benches/rollback_bench.py" --temps "$temps" --work "$work" \
  --v1 "temps-bench/$tag:v1" --v2 "temps-bench/$tag:v2" --tag "$tag" \
  --runs "$runs" --warmup "$warmup" "${trace[@]}" || status=$?
if [ -n "${BENCH_OUT:-}" ] && [ -f "$work/rollback.json" ]; then
  mkdir -p "$BENCH_OUT" && cp "$work/rollback.json" "$BENCH_OUT/"
fi
exit "$status"
