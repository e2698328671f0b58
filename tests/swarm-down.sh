#!/usr/bin/env bash
# Tear the swarm test lab down (tests/swarm-up.sh builds it), in this order: the services,
# the containers, each node's dockerd by its pid (then whatever is left in its network
# namespace), the registry, the namespaces and veths, the nodes' cgroups, the lab's
# folders; /run/netns is left as it was found. Safe to run twice, and on a half-built lab.
# TEMPS_SWARM_SLOT picks the lab (default 0).
set -euo pipefail
cd "$(dirname "$0")/.."
SWARM_SCRIPT=swarm-down
# shellcheck source=tests/swarm-lib.sh
. tests/swarm-lib.sh

[ "$(id -u)" = 0 ] || die "the swarm lab needs root" "run it as root"
lock_lab

node_answers() { pid_alive "$(node_pidfile "$1")" && ndocker "$1" version >/dev/null 2>&1; }

# A paused node (tests/swarm-node.sh pause) would answer nothing: wake every node first.
for node in "${SWARM_NODES[@]}"; do
  pids=$(ns_pids "$(node_ns "$node")")
  # shellcheck disable=SC2086
  [ -z "$pids" ] || kill -CONT $pids 2>/dev/null || true
done

# The services first, while the manager answers, so that no node restarts their tasks.
if node_answers node1; then
  services=$(ndocker node1 service ls -q 2>/dev/null || true)
  if [ -n "$services" ]; then
    log "removing services: $(tr '\n' ' ' <<<"$services")"
    # shellcheck disable=SC2086
    ndocker node1 service rm $services >/dev/null 2>&1 || true
  fi
fi
# Then every node's containers (in parallel: each waits for its containers' stop).
for node in "${SWARM_NODES[@]}"; do
  if node_answers "$node"; then
    (
      containers=$(ndocker "$node" ps -aq 2>/dev/null || true)
      # shellcheck disable=SC2086
      [ -z "$containers" ] || ndocker "$node" rm -f $containers >/dev/null 2>&1 || true
    ) &
  fi
done
wait
# Each dockerd by its pid, then what is left in its namespace (containerd, shims).
for node in "${SWARM_NODES[@]}"; do
  stop_node "$node" &
done
wait
# The registry: the only process in the bridge's namespace.
if pid_alive "$SWARM_RUN/registry.pid" docker-registry; then
  kill -TERM "$(pid_of "$SWARM_RUN/registry.pid")" 2>/dev/null || true
fi
kill_ns "$SWARM_NETNS"

# The namespaces (their veth ends go with them), then the root namespace's veth.
for node in "${SWARM_NODES[@]}"; do
  if [ -e "/run/netns/$(node_ns "$node")" ]; then
    ip netns del "$(node_ns "$node")"
  fi
done
if [ -e "/run/netns/$SWARM_NETNS" ]; then
  ip netns del "$SWARM_NETNS"
fi
if ip link show dev "$SWARM_UPLINK" >/dev/null 2>&1; then
  ip link del "$SWARM_UPLINK"
fi

# The nodes' cgroups, deepest first, in every controller.
for node in "${SWARM_NODES[@]}"; do
  for dir in /sys/fs/cgroup/*/"$(node_cgroup "$node")" /sys/fs/cgroup/"$(node_cgroup "$node")"; do
    [ -d "$dir" ] || continue
    find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null ||
      log "could not remove every cgroup under $dir"
  done
done

# The folders: nothing of the lab is mounted in the root mount namespace (each node
# mounts in its own), but a mount found there is undone rather than deleted through.
for dir in "$SWARM_RUN" "$SWARM_DATA"; do
  [ -e "$dir" ] || continue
  for target in $(findmnt -rn -o TARGET | grep "^$dir/" | sort -r || true); do
    umount -l "$target" || true
  done
  rm -rf "$dir"
done

# /run/netns as it was found: removed when a lab made it and no namespace is left in it.
if [ -e "$SWARM_NETNS_MARK" ] && [ -d /run/netns ] && [ -z "$(ls -A /run/netns)" ]; then
  while findmnt -rn /run/netns >/dev/null 2>&1; do umount /run/netns || break; done
  rmdir /run/netns
  rm -f "$SWARM_NETNS_MARK"
fi
log "the lab is down"
