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
api_port=${API_PORT:-17070}
server=
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
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

# The same rollback over the HTTP API, as a responder token (the on-call's role).
token=$("$temps" token create "oncall-$$" --role responder --project "$project" -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
say "temps serve --listen 127.0.0.1:$api_port &"
"$temps" serve --listen "127.0.0.1:$api_port" &
server=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$api_port/api/health" >/dev/null && break; sleep 0.1; done
first=$("$temps" list "$project" -o json | python3 -c 'import json,sys; print(min(d["id"] for d in json.load(sys.stdin)))')
say "curl -X POST -H 'Authorization: Bearer tps_…' http://127.0.0.1:$api_port/api/projects/$project/deployments/$first/rollback?wait=true"
curl -sS -X POST -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -d '{"reason":"rolled back from the API"}' \
  "http://127.0.0.1:$api_port/api/projects/$project/deployments/$first/rollback?wait=true" |
  python3 -c 'import json,sys; d=json.load(sys.stdin); print("#%s %s, rollback to #%s by %s" % (d["id"], d["status"], d["rolled_back_to_id"], d["created_by"]))'
serving
run list "$project"
kill "$server"; wait "$server" 2>/dev/null || true; server=
"$temps" token revoke "oncall-$$" >/dev/null
