#!/usr/bin/env bash
# Rollback and deploy latency against the engine's own floor; then, in port mode under
# client load, what a good rollback and a deploy that never becomes healthy or cannot
# start cost the clients, beside an earlier build (before the check container).
#
#   bash benches/rollback.sh            # 20 runs each (+2 warm-up), 5 rounds under load
#   RUNS=40 OUTAGE_RUNS=10 bash benches/rollback.sh
#   OLD_REV= bash benches/rollback.sh        # no earlier build beside
#   OLD_TEMPS=/path/to/temps bash benches/rollback.sh   # that binary as the earlier build
#   BENCH_OUT=DIR bash benches/rollback.sh   # keep rollback.json (raw + summary) in DIR
#   TRACE=0 bash benches/rollback.sh         # skip the strace timeline of one extra rollback
#
# Needs a Docker engine (started by tests/docker-up.sh when none answers) and the fixture
# images temps-test/web:v1/v2, nohealth:v1 and crash:v1 (built by tests/fixtures/build.sh
# when missing). The earlier build (OLD_REV, default e57f735, the last commit that
# stopped the old version first) is built from `git archive` under the target directory,
# bench-old/<rev>/, with a target directory of its own: the first run compiles it
# (minutes), later runs reuse it. Every container and tag it makes is removed on exit.
# Exit 3: a target was missed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=lib.sh
. "$root/benches/lib.sh"

runs=${RUNS:-20}
warmup=${WARMUP:-2}

bench_need python3 python3
[ "${TRACE:-1}" = 0 ] || bench_need strace strace
docker info >/dev/null 2>&1 || bash "$root/tests/docker-up.sh"
if ! docker image inspect temps-test/web:v1 temps-test/web:v2 temps-test/nohealth:v1 \
  temps-test/crash:v1 >/dev/null 2>&1; then
  bench_log "building the fixture images"
  (cd "$root" && bash tests/fixtures/build.sh)
fi
temps=$(bench_build "$root")

# The earlier build, beside: OLD_TEMPS as given, else OLD_REV built once and kept.
old_rev=${OLD_REV-e57f735}
old_temps=${OLD_TEMPS:-}
old_label=${OLD_TEMPS:+given}
if [ -z "$old_temps" ] && [ -n "$old_rev" ]; then
  rev=$(cd "$root" && git rev-parse --short "$old_rev^{commit}")
  old_label=$rev
  old_dir="$(dirname "$(dirname "$temps")")/bench-old/$rev"
  if [ ! -f "$old_dir/src/Cargo.toml" ]; then
    bench_log "extracting $rev (the earlier build) into $old_dir/src"
    mkdir -p "$old_dir/src.tmp"
    (cd "$root" && git archive "$rev") | tar -x -C "$old_dir/src.tmp"
    mv "$old_dir/src.tmp" "$old_dir/src"
  fi
  bench_log "building $rev, the earlier build"
  (cd "$old_dir/src" && CARGO_TARGET_DIR="$old_dir/target" cargo build --release --locked --bin temps >&2)
  old_temps="$old_dir/target/release/temps"
fi

tag="tbench$$"
work=$(mktemp -d)

cleanup() {
  bench_remove_projects "$tag-rb" "$tag-dp" "$tag-floor" "$tag-fcheck" "$tag-rbold" "$tag-bad" "$tag-badold"
  docker rmi "temps-bench/$tag:v1" "temps-bench/$tag:v2" "temps-bench/$tag:nohealth" \
    "temps-bench/$tag:crash" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# Our own tags: other sessions may rebuild the fixtures meanwhile, which moves their tags.
docker tag temps-test/web:v1 "temps-bench/$tag:v1"
docker tag temps-test/web:v2 "temps-bench/$tag:v2"
docker tag temps-test/nohealth:v1 "temps-bench/$tag:nohealth"
docker tag temps-test/crash:v1 "temps-bench/$tag:crash"

bench_log "engine $(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})'), $(nproc) cores"
trace=()
[ "${TRACE:-1}" = 0 ] || trace=(--trace)
old=()
[ -z "$old_temps" ] || old=(--old-temps "$old_temps" --old-label "$old_label")
status=0
python3 "$root/benches/rollback_bench.py" --temps "$temps" --work "$work" \
  --v1 "temps-bench/$tag:v1" --v2 "temps-bench/$tag:v2" --tag "$tag" \
  --nohealth "temps-bench/$tag:nohealth" --crash "temps-bench/$tag:crash" \
  --runs "$runs" --warmup "$warmup" "${trace[@]}" "${old[@]}" || status=$?
if [ -n "${BENCH_OUT:-}" ] && [ -f "$work/rollback.json" ]; then
  mkdir -p "$BENCH_OUT" && cp "$work/rollback.json" "$BENCH_OUT/"
fi
exit "$status"
