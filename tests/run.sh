#!/usr/bin/env bash
# The test command: make sure a Docker engine answers (installing and starting one on a
# fresh machine), and a headless browser for the dashboard's test is installed, build the
# offline fixture images, then run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/docker-up.sh
bash tests/tools-up.sh
bash tests/browser-up.sh
bash tests/fixtures/build.sh
cargo test --locked --features fault-points "$@"
