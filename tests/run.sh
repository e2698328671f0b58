#!/usr/bin/env bash
# The test command: make sure a Docker engine answers (installing and starting one on a
# fresh machine), and a headless browser for the dashboard's test is installed, build the
# offline fixture images and the swarm lab, then run every test.
#
# The swarm lab (tests/swarm-up.sh) is torn down at the end when this run built it; a lab
# that was up and sound before the run is left up, and so is this run's with TEMPS_SWARM_KEEP=1.
# TEMPS_SWARM_SLOT=N runs the tests on another slot's lab (one beside the usual one).
#
#   bash tests/run.sh [ARGS…]     cargo test ARGS… (every test at once)
#   bash tests/run.sh --timed     the build, then the tests one group at a time (the unit
#                                 tests, each top-level group of tests/cli, the doc tests),
#                                 every group run even when one fails, and a table of how
#                                 long each took (also appended, tab-separated, to the file
#                                 $TEMPS_CI_TIMES names, for .ci/run)
set -euo pipefail
cd "$(dirname "$0")/.."
timed=
if [ "${1:-}" = --timed ]; then
  timed=1
  shift
fi
setup_start=$SECONDS
bash tests/docker-up.sh
bash tests/tools-up.sh
bash tests/pebble-up.sh
bash tests/browser-up.sh
bash tests/fixtures/build.sh
# Another slot's lab (tests/swarm-lib.sh) is the one the tests read, too.
slot=${TEMPS_SWARM_SLOT:-0}
[ "$slot" = 0 ] && swarm_env=/run/temps-swarm/env || swarm_env=/run/temps-swarm$slot/env
export TEMPS_SWARM_ENV=${TEMPS_SWARM_ENV:-$swarm_env}
if [ -z "${TEMPS_SWARM_KEEP:-}" ] && ! bash tests/swarm-up.sh --check 2>/dev/null; then
  trap 'bash tests/swarm-down.sh' EXIT
fi
bash tests/swarm-up.sh
if [ -z "$timed" ]; then
  cargo test --locked --features fault-points "$@"
  exit
fi

# --timed: one group at a time, each timed.
test=(cargo test --locked --features fault-points)
rows=("setup (engine, tools, fixtures, lab)"$'\t'"$((SECONDS - setup_start))"$'\t'ok)
failed=0
group() {
  local name=$1 start=$SECONDS status=ok
  shift
  echo "tests: $name" >&2
  "$@" || { status=FAILED; failed=1; }
  rows+=("$name"$'\t'"$((SECONDS - start))"$'\t'"$status")
}
group build "${test[@]}" --no-run
group "unit (lib, bin)" "${test[@]}" --lib --bins
mapfile -t names < <("${test[@]}" --test cli -- --list --format terse 2>/dev/null |
  sed -n 's/: test$//p')
mapfile -t groups < <(printf '%s\n' "${names[@]}" | sed 's/::.*//' | sort -u)
for g in "${groups[@]}"; do
  mapfile -t members < <(printf '%s\n' "${names[@]}" | grep "^$g::")
  group "cli $g (${#members[@]})" "${test[@]}" --test cli -- --exact "${members[@]}"
done
group "doc" "${test[@]}" --doc
echo >&2
printf '%-38s %8s  %s\n' section seconds result >&2
for row in "${rows[@]}"; do
  IFS=$'\t' read -r name seconds status <<<"$row"
  printf '%-38s %8s  %s\n' "$name" "$seconds" "$status" >&2
  if [ -n "${TEMPS_CI_TIMES:-}" ]; then
    printf '%s\n' "$row" >>"$TEMPS_CI_TIMES"
  fi
done
exit "$failed"
