#!/usr/bin/env bash
# The test command: make sure a Docker engine answers (installing and starting one on a
# fresh machine), and a headless browser for the dashboard's test is installed, build the
# offline fixture images and the swarm lab, then run every test.
#
# The swarm lab (tests/swarm-up.sh) is torn down at the end when this run built it; a lab
# that was up and sound before the run is left up, and so is this run's with TEMPS_SWARM_KEEP=1.
# TEMPS_SWARM_SLOT=N runs the tests on another slot's lab (one beside the usual one).
set -euo pipefail
cd "$(dirname "$0")/.."
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
cargo test --locked --features fault-points "$@"
