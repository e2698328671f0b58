#!/usr/bin/env bash
# The swarm test lab: three extra Docker engines on this machine, joined into one swarm,
# and a local registry every node pulls from. Idempotent: when the lab is up and sound it
# is left as it is (in about a second); when it is broken it is torn down and built anew.
# Run as root (Debian 12); installs what is missing with apt, non-interactively.
#
# What it builds (slot 0; see tests/swarm-lib.sh for another slot's names):
#   - a network namespace `temps-swarm-net` holding a bridge, and one veth from the root
#     namespace into it (`tswarm0`, 10.199.0.1/24): the default daemon, docker0 and the
#     root namespace's firewall are not touched;
#   - three nodes, `node1` to `node3`, each a dockerd in its own network namespace
#     (`temps-swarm-nodeN`, 10.199.0.1N on the bridge) and its own private mount namespace
#     and hostname, with its own data-root, exec-root, pid file, unix socket, containerd
#     and cgroup parent (`/temps-swarm-nodeN` in every controller);
#   - a swarm: node1 is its one manager (`swarm init` on 10.199.0.11:2377), node2 and node3
#     join as workers, so a worker that stops, leaves or loses its link mid-update leaves
#     the manager (and its Raft quorum) untouched;
#   - a registry (Debian's docker-registry, deletes enabled, no cache) on 10.199.0.2:5000,
#     in the bridge's namespace: reachable from every node and from the root namespace,
#     from nowhere else; every node lists it in `insecure-registries`;
#   - the registry seeded with the offline test images (tests/fixtures/build.sh, built on
#     the default engine when missing): saved from the default engine, loaded into node1,
#     pushed from there, then removed from node1 again, so every node pulls from the
#     registry.
#
# When done it writes /run/temps-swarm/env, a shell file (KEY="VALUE" lines):
#   TEMPS_SWARM_SLOT            the lab's slot (0)
#   TEMPS_SWARM_MANAGER         DOCKER_HOST of the manager: unix:///run/temps-swarm/node1.sock
#   TEMPS_SWARM_MANAGER_ADDR    the manager's address (10.199.0.11); it listens on :2377
#   TEMPS_SWARM_REGISTRY        the registry as every node (and the root namespace) reaches
#                               it: 10.199.0.2:5000 (plain HTTP)
#   TEMPS_SWARM_HOST_ADDR       the root namespace's own address on the lab network
#   TEMPS_SWARM_NODES           "node1 node2 node3"
#   TEMPS_SWARM_WORKERS         "node2 node3"
#   TEMPS_SWARM_NODEn_HOST      DOCKER_HOST of node n: unix:///run/temps-swarm/noden.sock
#   TEMPS_SWARM_NODEn_ADDR      node n's address, where its host-mode ports answer
#   TEMPS_SWARM_NODEn_ID        node n's swarm node ID
#   TEMPS_SWARM_IMAGES          the seeded images' keys: "WEB_V1 WEB_V2 CRASH_V1 ..."
#   TEMPS_SWARM_IMAGE_<KEY>     a seeded image by tag, e.g. TEMPS_SWARM_IMAGE_WEB_V1 is
#                               10.199.0.2:5000/temps-test/web:v1
#   TEMPS_SWARM_DIGEST_<KEY>    the same image by digest: 10.199.0.2:5000/temps-test/web@sha256:…
#   TEMPS_SWARM_SCRIPTS         the folder of tests/swarm-node.sh and tests/swarm-registry.sh
#
# `swarm-up.sh --check` only tells: exit 0 when the lab is up and sound, 1 when not.
# TEMPS_SWARM_SLOT=1..9 builds another lab beside this one (tests/swarm-lib.sh).
#
# Tear it down with tests/swarm-down.sh. Make a node stop, leave or lose its link with
# tests/swarm-node.sh; delete a manifest from the registry with tests/swarm-registry.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
SWARM_SCRIPT=swarm-up
# shellcheck source=tests/swarm-lib.sh
. tests/swarm-lib.sh

started=$(date +%s.%N)
case "${1:-}" in
  '') ;;
  --check) check=1 ;;
  *) die "unknown argument '$1'" "swarm-up.sh [--check]" ;;
esac
[ "$(id -u)" = 0 ] || die "the swarm lab needs root (network namespaces, a dockerd per node)" "run it as root"
lock_lab

# The fixture images the registry is seeded with (tests/fixtures/build.sh makes them).
FIXTURES=(temps-test/web:v1 temps-test/web:v2 temps-test/crash:v1 temps-test/nohealth:v1
  temps-test/checked:v1 temps-test/sick:v1 temps-test/quiet:v1 temps-test/flaky:v1
  temps-test/slow:v1 temps-test/slow:v2 temps-test/stubborn:v1 temps-test/souring:v1)

# elapsed: seconds since the script started, one decimal.
elapsed() { awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}'; }

# image_key temps-test/web:v1 -> WEB_V1
image_key() {
  local name=${1#temps-test/}
  name=${name//[^A-Za-z0-9]/_}
  printf '%s\n' "${name^^}"
}

install_missing() {
  local need=()
  command -v ip >/dev/null 2>&1 || need+=(iproute2)
  command -v nsenter >/dev/null 2>&1 || need+=(util-linux)
  command -v curl >/dev/null 2>&1 || need+=(curl)
  command -v docker-registry >/dev/null 2>&1 || need+=(docker-registry)
  [ ${#need[@]} -gt 0 ] || return 0
  log "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # A fresh machine has no package lists yet; a stale list may name versions gone from the mirror.
  if ! apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
  # The package's own service is not the lab's registry: where an init system started
  # it, it keeps running on its own port (5000 on every address is not taken by the lab's,
  # which listens on its own address only).
}

# lab_sound: the lab described by the env file answers as it should.
lab_sound() {
  local node state ready key ref repo digest
  [ -s "$SWARM_ENV" ] || return 1
  # shellcheck disable=SC1090
  . "$SWARM_ENV"
  ip -br addr show dev "$SWARM_UPLINK" 2>/dev/null | grep -q "$SWARM_HOST_ADDR/" || return 1
  for node in "${SWARM_NODES[@]}"; do
    pid_alive "$(node_pidfile "$node")" || return 1
    # A short timeout: a paused or wedged node must not hold up the verdict.
    state=$(timeout 5 docker -H "$(node_host "$node")" info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null) || return 1
    [ "$state" = active ] || return 1
  done
  ready=$(timeout 5 docker -H "$(node_host node1)" node ls --format '{{.Status}}/{{.Availability}}' 2>/dev/null) || return 1
  [ "$(grep -c '^Ready/Active$' <<<"$ready")" = "${#SWARM_NODES[@]}" ] || return 1
  [ "$(wc -l <<<"$ready")" = "${#SWARM_NODES[@]}" ] || return 1
  curl -fsS -m 3 -o /dev/null "http://$SWARM_REGISTRY/v2/" || return 1
  [ -n "${TEMPS_SWARM_IMAGES:-}" ] || return 1
  for key in $TEMPS_SWARM_IMAGES; do
    ref=TEMPS_SWARM_DIGEST_$key
    ref=${!ref:-}
    [ -n "$ref" ] || return 1
    repo=${ref#"$SWARM_REGISTRY"/}
    digest=${repo#*@}
    repo=${repo%@*}
    curl -fsS -m 3 -o /dev/null -I \
      -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
      "http://$SWARM_REGISTRY/v2/$repo/manifests/$digest" || return 1
  done
}

# lab_traces: anything of this slot's lab exists (to be torn down before building anew).
lab_traces() {
  local node
  [ -e "$SWARM_RUN" ] || [ -e "$SWARM_DATA" ] || [ -e "/run/netns/$SWARM_NETNS" ] && return 0
  ip link show dev "$SWARM_UPLINK" >/dev/null 2>&1 && return 0
  for node in "${SWARM_NODES[@]}"; do
    [ -e "/run/netns/$(node_ns "$node")" ] && return 0
  done
  return 1
}

build_network() {
  local node ns port
  if [ ! -d /run/netns ] && [ ! -e "$SWARM_NETNS_MARK" ]; then
    : >"$SWARM_NETNS_MARK"
  fi
  ip netns add "$SWARM_NETNS"
  ip -n "$SWARM_NETNS" link set lo up
  ip -n "$SWARM_NETNS" link add br0 type bridge
  ip -n "$SWARM_NETNS" addr add "$SWARM_REGISTRY_ADDR/24" dev br0
  ip -n "$SWARM_NETNS" link set br0 up
  # The root namespace's one way in: a veth whose other end is a port of the bridge.
  ip link add "$SWARM_UPLINK" type veth peer name uplink netns "$SWARM_NETNS"
  ip -n "$SWARM_NETNS" link set uplink master br0 up
  ip addr add "$SWARM_HOST_ADDR/24" dev "$SWARM_UPLINK"
  ip link set "$SWARM_UPLINK" up
  for node in "${SWARM_NODES[@]}"; do
    ns=$(node_ns "$node")
    port=$(node_port "$node")
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    ip -n "$SWARM_NETNS" link add "$port" type veth peer name eth0 netns "$ns"
    ip -n "$SWARM_NETNS" link set "$port" master br0 up
    ip -n "$ns" addr add "$(node_addr "$node")/24" dev eth0
    ip -n "$ns" link set eth0 up
  done
}

start_registry() {
  mkdir -p "$SWARM_DATA/registry"
  cat >"$SWARM_RUN/registry.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $SWARM_DATA/registry
  # A test deletes a manifest by digest to play "the registry lost a digest".
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: $SWARM_REGISTRY
EOF
  # In a subshell, so that it is no job of this shell's (wait_jobs waits for those).
  (
    setsid ip netns exec "$SWARM_NETNS" docker-registry serve "$SWARM_RUN/registry.yml" \
      </dev/null >>"$SWARM_RUN/registry.log" 2>&1 9>&- &
    printf '%s\n' "$!" >"$SWARM_RUN/registry.pid"
  )
  if ! wait_for 30 "the registry to answer on $SWARM_REGISTRY" \
    curl -fsS -m 2 -o /dev/null "http://$SWARM_REGISTRY/v2/"; then
    tail -n 20 "$SWARM_RUN/registry.log" >&2 || true
    die "the registry did not answer on http://$SWARM_REGISTRY/v2/" "its log: $SWARM_RUN/registry.log"
  fi
}

write_daemon_config() {
  local node=$1
  mkdir -p "$SWARM_RUN/$node" "$SWARM_DATA/$node"
  cat >"$SWARM_RUN/$node/daemon.json" <<EOF
{
  "data-root": "$SWARM_DATA/$node",
  "exec-root": "$SWARM_RUN/$node/exec",
  "pidfile": "$(node_pidfile "$node")",
  "hosts": ["$(node_host "$node")"],
  "cgroup-parent": "/$(node_cgroup "$node")",
  "deprecated-key-path": "$SWARM_DATA/$node/key.json",
  "insecure-registries": ["$SWARM_REGISTRY"],
  "log-level": "warn",
  "storage-driver": "overlay2"
}
EOF
}

build_swarm() {
  local node manager=node1 token
  ndocker "$manager" swarm init \
    --advertise-addr "$(node_addr "$manager")" \
    --listen-addr "$(node_addr "$manager"):2377" \
    --default-addr-pool "$SWARM_POOL" --default-addr-pool-mask-length 24 >/dev/null
  token=$(ndocker "$manager" swarm join-token -q worker)
  for node in "${SWARM_NODES[@]}"; do
    [ "$node" = "$manager" ] && continue
    ndocker "$node" swarm join --token "$token" \
      --advertise-addr "$(node_addr "$node")" \
      --listen-addr "$(node_addr "$node"):2377" \
      "$(node_addr "$manager"):2377" >/dev/null &
  done
  wait_jobs "a node to join the swarm"
  all_ready() {
    local ready
    ready=$(timeout 5 docker -H "$(node_host node1)" node ls --format '{{.Status}}/{{.Availability}}') || return 1
    [ "$(grep -c '^Ready/Active$' <<<"$ready")" = "${#SWARM_NODES[@]}" ]
  }
  wait_for 60 "every node to be Ready in the swarm" all_ready ||
    die "the swarm has not every node Ready: $(ndocker node1 node ls 2>&1 | tr '\n' ' ')" \
      "the nodes' logs: $SWARM_RUN/node*.log"
}

# wait_jobs WHAT: wait for every background job; fail when one failed.
wait_jobs() {
  local job failed=0
  for job in $(jobs -p); do
    wait "$job" || failed=1
  done
  [ "$failed" = 0 ] || die "$1 failed" "the nodes' logs: $SWARM_RUN/node*.log"
}

seed_registry() {
  local image missing=()
  for image in "${FIXTURES[@]}"; do
    docker image inspect "$image" >/dev/null 2>&1 || missing+=("$image")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "building the fixture images (${missing[*]} missing)"
    bash tests/fixtures/build.sh
  fi
  docker save "${FIXTURES[@]}" | timeout 120 docker -H "$(node_host node1)" load >/dev/null
  for image in "${FIXTURES[@]}"; do
    ndocker node1 tag "$image" "$SWARM_REGISTRY/$image"
    timeout 60 docker -H "$(node_host node1)" push "$SWARM_REGISTRY/$image" >/dev/null &
  done
  wait_jobs "pushing the fixtures from node1 (the registry's log: $SWARM_RUN/registry.log)"
  for image in "${FIXTURES[@]}"; do
    DIGESTS[$image]=$(ndocker node1 image inspect --format '{{index .RepoDigests 0}}' "$SWARM_REGISTRY/$image")
    [ -n "${DIGESTS[$image]}" ] || die "node1 knows no digest of $SWARM_REGISTRY/$image after its push"
  done
  # Every node pulls from the registry, node1 too.
  # shellcheck disable=SC2046
  ndocker node1 image rm -f $(ndocker node1 image ls -aq | sort -u) >/dev/null
}

write_env() {
  local node index image key tmp
  tmp=$SWARM_ENV.tmp
  {
    printf '# The swarm test lab, written by tests/swarm-up.sh on %s. Source it.\n' "$(date -u +%FT%TZ)"
    printf 'TEMPS_SWARM_SLOT="%s"\n' "$SWARM_SLOT"
    printf 'TEMPS_SWARM_MANAGER="%s"\n' "$(node_host node1)"
    printf 'TEMPS_SWARM_MANAGER_ADDR="%s"\n' "$(node_addr node1)"
    printf 'TEMPS_SWARM_REGISTRY="%s"\n' "$SWARM_REGISTRY"
    printf 'TEMPS_SWARM_HOST_ADDR="%s"\n' "$SWARM_HOST_ADDR"
    printf 'TEMPS_SWARM_NODES="%s"\n' "${SWARM_NODES[*]}"
    printf 'TEMPS_SWARM_WORKERS="%s"\n' "${SWARM_NODES[*]:1}"
    for node in "${SWARM_NODES[@]}"; do
      index=$(node_index "$node")
      printf 'TEMPS_SWARM_NODE%s_HOST="%s"\n' "$index" "$(node_host "$node")"
      printf 'TEMPS_SWARM_NODE%s_ADDR="%s"\n' "$index" "$(node_addr "$node")"
      printf 'TEMPS_SWARM_NODE%s_ID="%s"\n' "$index" \
        "$(ndocker "$node" info --format '{{.Swarm.NodeID}}')"
    done
    keys=()
    for image in "${FIXTURES[@]}"; do keys+=("$(image_key "$image")"); done
    printf 'TEMPS_SWARM_IMAGES="%s"\n' "${keys[*]}"
    for image in "${FIXTURES[@]}"; do
      key=$(image_key "$image")
      printf 'TEMPS_SWARM_IMAGE_%s="%s"\n' "$key" "$SWARM_REGISTRY/$image"
      printf 'TEMPS_SWARM_DIGEST_%s="%s"\n' "$key" "${DIGESTS[$image]}"
    done
    printf 'TEMPS_SWARM_SCRIPTS="%s"\n' "$(pwd)/tests"
  } >"$tmp"
  mv "$tmp" "$SWARM_ENV"
}

# lab_memory: the resident memory of every process of the lab, in MiB.
lab_memory() {
  local pids=() node kib=0 pid rss
  for node in "${SWARM_NODES[@]}"; do
    mapfile -t -O "${#pids[@]}" pids < <(ns_pids "$(node_ns "$node")")
  done
  mapfile -t -O "${#pids[@]}" pids < <(ns_pids "$SWARM_NETNS")
  for pid in "${pids[@]}"; do
    rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
    kib=$((kib + ${rss:-0}))
  done
  printf '%s\n' "$((kib / 1024))"
}

if [ -n "${check:-}" ]; then
  lab_sound
  exit
fi
# Neither apt (which may start a service) nor docker-up.sh (which may start the default
# engine) hands the lab's lock (fd 9) to a daemon that outlives this script.
install_missing 9>&-
bash tests/docker-up.sh 9>&-

if lab_sound; then
  log "the lab is up (env: $SWARM_ENV; $(lab_memory) MiB resident); left as it is"
  exit 0
fi
if lab_traces; then
  log "the lab is not sound: tearing it down to build it anew"
  bash tests/swarm-down.sh
fi

mkdir -p "$SWARM_RUN" "$SWARM_DATA"
log "building the network (bridge namespace $SWARM_NETNS, $SWARM_UPLINK $SWARM_HOST_ADDR/24) (at $(elapsed) s)"
build_network
start_registry
for node in "${SWARM_NODES[@]}"; do
  write_daemon_config "$node"
done
log "starting ${SWARM_NODES[*]} (at $(elapsed) s)"
for node in "${SWARM_NODES[@]}"; do
  start_node "$node" &
done
wait_jobs "starting a node"
log "joining the swarm (node1 manager, ${SWARM_NODES[*]:1} workers) (at $(elapsed) s)"
build_swarm
log "seeding the registry $SWARM_REGISTRY (at $(elapsed) s)"
declare -A DIGESTS
seed_registry
write_env
log "the lab is up in $(elapsed) s ($(lab_memory) MiB resident); env: $SWARM_ENV"
