#!/usr/bin/env bash
# temps' main job, end to end on this machine: deploy two versions of an app, see both
# in the history, roll back to the first, then promote the second again. Uses a
# throwaway database and the offline fixture images (v1 and v2 of a small web app).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/docker-up.sh
bash tests/fixtures/build.sh
cargo build --release --quiet
temps=$PWD/target/release/temps
export TEMPS_DB=$(mktemp -d)/temps.db
port=${PORT:-18080}
project=demo-$$
cleanup() {
  docker rm -f $(docker ps -aq --filter "label=dev.temps.project=$project") >/dev/null 2>&1 || true
  docker rmi $(docker images -q "temps/$project") >/dev/null 2>&1 || true
}
trap cleanup EXIT
say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
run() { say "temps $*"; "$temps" "$@"; }
serving() { printf 'port %s serves: %s\n' "$port" "$(wget -qO- "http://127.0.0.1:$port/" 2>/dev/null || echo nothing)"; }

run project create "$project" --health-path /healthz
run deploy "$project" --image temps-test/web:v1 --publish "$port" --reason "first release"
serving
run deploy "$project" --image temps-test/web:v2 --reason "new checkout"
serving
run list "$project"
run rollback --project "$project" --dry-run
run rollback --project "$project" --yes --reason "checkout errors after v2"
serving
run status "$project"
run deploy "$project" --image temps-test/web:v2 --reason "fix, waits as ready"
serving
run list "$project"
second=$("$temps" list "$project" -o json | python3 -c 'import json,sys; print([d["id"] for d in json.load(sys.stdin) if d["status"]=="ready"][0])')
run promote "$second" --yes
serving
run list "$project"
