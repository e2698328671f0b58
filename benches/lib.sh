# Shared by the benchmark scripts: install what they need, build temps.
# shellcheck shell=bash

bench_log() { printf 'bench: %s\n' "$*" >&2; }

# bench_need CMD PACKAGE...: install Debian PACKAGEs when CMD is missing.
_apt_updated=
bench_need() {
  local cmd=$1
  shift
  if ! command -v "$cmd" >/dev/null 2>&1 && [ ! -x "$cmd" ]; then
    bench_log "installing $* (for $cmd)"
    export DEBIAN_FRONTEND=noninteractive
    if [ -z "$_apt_updated" ]; then
      apt-get update -qq
      _apt_updated=1
    fi
    apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  fi
}

# bench_build: the release binary; prints its path. The target dir may be shared:
# waiting for cargo's lock is normal.
bench_build() {
  local root=$1
  bench_log "building the release binary"
  (cd "$root" && cargo build --release --locked --bin temps >&2)
  local dir
  dir=$(cd "$root" && cargo metadata --format-version 1 --no-deps 2>/dev/null |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
  printf '%s\n' "${dir:-$root/target}/release/temps"
}

# bench_remove_projects PROJECT...: remove what temps made for these projects on the
# engine (their containers, and their temps/<project>:<id> tags).
bench_remove_projects() {
  local project ids images
  for project in "$@"; do
    ids=$(docker ps -aq --filter "label=dev.temps.project=$project")
    # shellcheck disable=SC2086
    [ -z "$ids" ] || docker rm -f $ids >/dev/null || true
    images=$(docker images --format '{{.Repository}}:{{.Tag}}' "temps/$project")
    # shellcheck disable=SC2086
    [ -z "$images" ] || docker rmi $images >/dev/null || true
  done
}
