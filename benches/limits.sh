#!/usr/bin/env bash
# The times the end-to-end tests do not assert (they check the order of events): how soon
# `temps proxy` applies a switch and answers after a restart, when a drain ends, when a
# hung app gets 504, an idle or an over-the-limit connection is closed, a slowloris head
# gets 408, and how long an interrupt during a slow stop waits; see limits_bench.py.
#
#   bash benches/limits.sh               # 5 runs per series, ~4 min (the 408 takes 30 s)
#   RUNS=10 bash benches/limits.sh
#   SKIP=slowloris,stop bash benches/limits.sh
#   BENCH_OUT=DIR bash benches/limits.sh  # keep limits.json (raw + summary) in DIR
#
# Needs a Docker engine (started by tests/docker-up.sh when none answers), curl (for
# h2c) and the fixture images temps-test/slow:v1/v2 and stubborn:v1 (built by
# tests/fixtures/build.sh when missing). Every container and tag it makes is removed on
# exit. Exit 3: a time fell outside the window the README promises.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=lib.sh
. "$root/benches/lib.sh"

bench_need python3 python3
bench_need curl curl
docker info >/dev/null 2>&1 || bash "$root/tests/docker-up.sh"
images=(temps-test/slow:v1 temps-test/slow:v2 temps-test/stubborn:v1 temps-test/web:v1)
if ! docker image inspect "${images[@]}" >/dev/null 2>&1; then
  bench_log "building the fixture images"
  (cd "$root" && bash tests/fixtures/build.sh)
fi
temps=$(bench_build "$root")

tag="tlimits$$"
work=$(mktemp -d)

cleanup() {
  bench_remove_projects "$tag-px" "$tag-stop"
  docker rmi "temps-bench/$tag-slow:v1" "temps-bench/$tag-slow:v2" \
    "temps-bench/$tag-stubborn:v1" "temps-bench/$tag-web:v1" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# Our own tags: other sessions may rebuild the fixtures meanwhile, which moves theirs.
for image in "${images[@]}"; do
  name=${image#temps-test/}
  docker tag "$image" "temps-bench/$tag-$name"
done

bench_log "engine $(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
status=0
python3 "$root/benches/limits_bench.py" --temps "$temps" --work "$work" --tag "$tag" \
  --slow "temps-bench/$tag-slow" --stubborn "temps-bench/$tag-stubborn:v1" \
  --web "temps-bench/$tag-web:v1" || status=$?
if [ -n "${BENCH_OUT:-}" ] && [ -f "$work/limits.json" ]; then
  mkdir -p "$BENCH_OUT" && cp "$work/limits.json" "$BENCH_OUT/"
fi
exit "$status"
