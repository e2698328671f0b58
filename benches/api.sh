#!/usr/bin/env bash
# `temps serve`: the deployments list under 64 concurrent clients over a long history, the
# server's memory idle and under that load, and an API rollback beside the CLI's on the
# same app.
#
#   bash benches/api.sh                       # 100,000 deployments, 3 rounds of 10 s, 10 rollbacks each
#   ROWS=1000000 ROUNDS=5 bash benches/api.sh
#   SKIP=rollback bash benches/api.sh         # reads and memory only (no Docker containers)
#   BENCH_OUT=DIR bash benches/api.sh         # keep api.json (raw + per round) in DIR
#
# Targets: list p99 < 10 ms (64 connections); VmRSS < 30 MB idle, < 60 MB under load; an
# API rollback within 20 ms of the CLI's (medians). Exit 3 when one is missed.
#
# Needs wrk (Debian's, installed when missing), a Docker engine (started by
# tests/docker-up.sh when none answers) and the fixture images temps-test/web:v1/v2 (built
# by tests/fixtures/build.sh when missing), retagged under the run's own name so that
# another checkout rebuilding the fixtures cannot move them. Every server, container and
# tag it makes is removed on exit.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=lib.sh
. "$root/benches/lib.sh"

bench_need python3 python3
bench_need wrk wrk
rollback=1
case ",${SKIP:-}," in *,rollback,*) rollback= ;; esac
if [ -n "$rollback" ]; then
  docker info >/dev/null 2>&1 || bash "$root/tests/docker-up.sh"
  if ! docker image inspect temps-test/web:v1 temps-test/web:v2 >/dev/null 2>&1; then
    bench_log "building the fixture images"
    (cd "$root" && bash tests/fixtures/build.sh)
  fi
fi
temps=$(bench_build "$root")

tag="tapi$$"
work=$(mktemp -d)
cleanup() {
  # api_bench.py stops its servers itself; these are what the rollbacks leave.
  if [ -n "$rollback" ]; then
    ids=$(docker ps -aq --filter "label=dev.temps.project=$tag-api")
    # shellcheck disable=SC2086
    [ -z "$ids" ] || docker rm -f $ids >/dev/null || true
    images=$(docker images --format '{{.Repository}}:{{.Tag}}' "temps/$tag-api")
    # shellcheck disable=SC2086
    [ -z "$images" ] || docker rmi $images >/dev/null || true
    docker rmi "temps-bench/$tag:v1" "temps-bench/$tag:v2" >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

if [ -n "$rollback" ]; then
  docker tag temps-test/web:v1 "temps-bench/$tag:v1"
  docker tag temps-test/web:v2 "temps-bench/$tag:v2"
  bench_log "engine $(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})'), $(nproc) cores"
fi
status=0
python3 "$root/benches/api_bench.py" --temps "$temps" --work "$work" \
  --v1 "temps-bench/$tag:v1" --v2 "temps-bench/$tag:v2" --tag "$tag" || status=$?
if [ -n "${BENCH_OUT:-}" ] && [ -f "$work/api.json" ]; then
  mkdir -p "$BENCH_OUT" && cp "$work/api.json" "$BENCH_OUT/"
fi
exit "$status"
