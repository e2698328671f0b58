#!/usr/bin/env bash
# The swarm test lab's registry (tests/swarm-up.sh), through its HTTP API, for tests.
# TEMPS_SWARM_SLOT picks the lab (default 0).
#
#   swarm-registry.sh push IMAGE REPO:TAG
#                       copy IMAGE from the default engine into the registry as REPO:TAG
#                       (through node1: saved, loaded, pushed, removed from node1 again);
#                       prints the pushed reference by digest, REGISTRY/REPO@sha256:...
#   swarm-registry.sh build REPO:TAG SAYS [BASE [KEY=VALUE]]
#                       a new image (a digest of its own) pushed as REPO:TAG: BASE (a seeded
#                       repository:tag, default temps-test/web:v1) whose `/` says SAYS
#                       (and whose environment sets KEY=VALUE, when given)
#                       (built on node1 from the registry, no internet); prints the pushed
#                       reference by digest. For histories of many versions: v3, v4, …
#   swarm-registry.sh digest REPO TAG
#                       print the manifest digest (sha256:...) the tag names; exit 1 if none
#   swarm-registry.sh has REPO REFERENCE
#                       exit 0 when the manifest (a tag or a digest) is there, 1 when not
#   swarm-registry.sh delete REPO DIGEST
#                       delete the manifest by digest ("the registry lost a digest"): every
#                       tag naming it goes too, and a pull of REPO@DIGEST fails at once
#                       (manifest unknown) on every node that does not hold the image
#                       already. Other repositories keep theirs, even with the same digest:
#                       delete from a repository of the test's own (see push)
#   swarm-registry.sh gc
#                       the registry's garbage collection (blobs no manifest names); not
#                       needed for a deleted manifest to be refused
#   swarm-registry.sh catalog
#                       the repositories, one a line
# REPO is a repository path in the registry (temps-test/web), without the registry's address.
set -euo pipefail
cd "$(dirname "$0")/.."
SWARM_SCRIPT=swarm-registry
# shellcheck source=tests/swarm-lib.sh
. tests/swarm-lib.sh

usage() {
  die "usage: swarm-registry.sh push IMAGE REPO:TAG | build REPO:TAG SAYS [BASE [KEY=VALUE]] | digest REPO TAG | has REPO REF | delete REPO DIGEST | gc | catalog" \
    "the comments at the top of tests/swarm-registry.sh say what each does"
}
[ $# -ge 1 ] || usage
[ -s "$SWARM_ENV" ] || die "no swarm lab is up ($SWARM_ENV is missing)" "bash tests/swarm-up.sh"
base=http://$SWARM_REGISTRY/v2
accept='Accept: application/vnd.docker.distribution.manifest.v2+json'
accept_list='Accept: application/vnd.docker.distribution.manifest.list.v2+json'

valid_repo() {
  [[ $1 =~ ^[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*$ ]] ||
    die "'$1' is no repository name" "lower-case path segments: temps-test/web"
}
valid_ref() {
  [[ $1 =~ ^(sha256:[0-9a-f]{64}|[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$ ]] ||
    die "'$1' is neither a tag nor a sha256 digest" "a tag (v1) or sha256:<64 hex digits>"
}
# status METHOD URL: the HTTP status code of a manifest request.
status() {
  local method=(-X "$1")
  [ "$1" != HEAD ] || method=(-I)
  curl -s -m 10 -o /dev/null -w '%{http_code}' "${method[@]}" -H "$accept" -H "$accept_list" "$2" || true
}

case "$1" in
  push)
    [ $# -eq 3 ] || usage
    image=$2
    target=$3
    valid_repo "${target%:*}"
    valid_ref "${target##*:}"
    [ "${target%:*}" != "$target" ] || die "'$target' names no tag" "REPO:TAG, e.g. lab/web:v1"
    docker image inspect "$image" >/dev/null 2>&1 ||
      die "the default engine has no image $image" "bash tests/fixtures/build.sh"
    docker save "$image" | timeout 120 docker -H "$(node_host node1)" load >/dev/null
    ndocker node1 tag "$image" "$SWARM_REGISTRY/$target"
    timeout 60 docker -H "$(node_host node1)" push "$SWARM_REGISTRY/$target" >/dev/null ||
      die "pushing $SWARM_REGISTRY/$target failed" "the registry's log: $SWARM_RUN/registry.log"
    ref=$(ndocker node1 image inspect --format '{{index .RepoDigests 0}}' "$SWARM_REGISTRY/$target")
    # Only the tags: the image's layers may be shared with images a service runs on node1.
    ndocker node1 image rm "$SWARM_REGISTRY/$target" >/dev/null
    ndocker node1 image rm "$image" >/dev/null 2>&1 || true
    printf '%s\n' "$SWARM_REGISTRY/${target%:*}@${ref#*@}"
    ;;
  build)
    [ $# -ge 3 ] && [ $# -le 5 ] || usage
    target=$2
    says=$3
    base=${4:-temps-test/web:v1}
    setting=${5:-}
    [ -z "$setting" ] || [[ $setting =~ ^[A-Z_][A-Z0-9_]{0,63}=[A-Za-z0-9._:/-]{0,100}$ ]] ||
      die "'$setting' is not KEY=VALUE" "an upper-case name, then a plain value: EXIT_AFTER=20"
    valid_repo "${target%:*}"
    valid_ref "${target##*:}"
    [ "${target%:*}" != "$target" ] || die "'$target' names no tag" "REPO:TAG, e.g. lab/web:v3"
    valid_repo "${base%:*}"
    valid_ref "${base##*:}"
    [[ $says =~ ^[A-Za-z0-9._:\ -]{1,100}$ ]] || die "'$says' is not a short plain text" "letters, digits, . _ : - and spaces"
    context=$(mktemp -d)
    trap 'rm -rf "$context"' EXIT
    printf '%s\n' "$says" >"$context/index.html"
    printf 'FROM %s\nCOPY index.html /www/index.html\n' "$SWARM_REGISTRY/$base" >"$context/Dockerfile"
    [ -z "$setting" ] || printf 'ENV %s\n' "$setting" >>"$context/Dockerfile"
    # The classic builder: the engines are 20.10 and no buildx is installed. Its output
    # (a deprecation notice from newer clients) is shown only when the build fails.
    if ! built=$(DOCKER_BUILDKIT=0 timeout 120 docker -H "$(node_host node1)" build -q \
      -t "$SWARM_REGISTRY/$target" "$context" 2>&1); then
      printf '%s\n' "$built" >&2
      die "building $target from $base on node1 failed" "is $base in the registry? swarm-registry.sh catalog"
    fi
    timeout 60 docker -H "$(node_host node1)" push "$SWARM_REGISTRY/$target" >/dev/null ||
      die "pushing $SWARM_REGISTRY/$target failed" "the registry's log: $SWARM_RUN/registry.log"
    ref=$(ndocker node1 image inspect --format '{{index .RepoDigests 0}}' "$SWARM_REGISTRY/$target")
    # Only the tags (the base may serve a task on node1 too).
    ndocker node1 image rm "$SWARM_REGISTRY/$target" >/dev/null
    ndocker node1 image rm "$SWARM_REGISTRY/$base" >/dev/null 2>&1 || true
    printf '%s\n' "$SWARM_REGISTRY/${target%:*}@${ref#*@}"
    ;;
  digest)
    [ $# -eq 3 ] || usage
    valid_repo "$2"
    valid_ref "$3"
    digest=$(curl -fsS -m 10 -I -H "$accept" -H "$accept_list" "$base/$2/manifests/$3" 2>/dev/null |
      tr -d '\r' | awk 'tolower($1) == "docker-content-digest:" {print $2}') || true
    [ -n "$digest" ] || die "the registry has no $2:$3" "swarm-registry.sh catalog"
    printf '%s\n' "$digest"
    ;;
  has)
    [ $# -eq 3 ] || usage
    valid_repo "$2"
    valid_ref "$3"
    code=$(status HEAD "$base/$2/manifests/$3")
    case "$code" in
      200) exit 0 ;;
      404) exit 1 ;;
      *) die "the registry answered $code for $2 $3" "its log: $SWARM_RUN/registry.log" ;;
    esac
    ;;
  delete)
    [ $# -eq 3 ] || usage
    valid_repo "$2"
    [[ $3 =~ ^sha256:[0-9a-f]{64}$ ]] || die "'$3' is no sha256 digest" "swarm-registry.sh digest REPO TAG"
    code=$(status DELETE "$base/$2/manifests/$3")
    [ "$code" = 202 ] || die "the registry answered $code to deleting $2@$3 (202 expected)" \
      "is the digest in that repository? swarm-registry.sh has $2 $3"
    code=$(status HEAD "$base/$2/manifests/$3")
    [ "$code" = 404 ] || die "$2@$3 is still served after its deletion ($code)" "swarm-registry.sh gc"
    log "deleted $2@$3"
    ;;
  gc)
    [ $# -eq 1 ] || usage
    docker-registry garbage-collect --delete-untagged=false "$SWARM_RUN/registry.yml" >/dev/null
    ;;
  catalog)
    [ $# -eq 1 ] || usage
    curl -fsS -m 10 "$base/_catalog?n=1000" | tr -d '{}[]"' | sed 's/^repositories://' | tr ',' '\n' | sed '/^$/d'
    ;;
  *)
    usage
    ;;
esac
