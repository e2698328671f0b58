#!/usr/bin/env bash
# Make a node of the swarm test lab (tests/swarm-up.sh) go away and come back, as a test
# needs it: "a node leaving mid-update". TEMPS_SWARM_SLOT picks the lab (default 0).
#
#   swarm-node.sh stop NODE     SIGTERM its dockerd (its containers stop with it), then
#                               kill whatever is left in its namespace; the swarm keeps it
#                               as a member, Down once the manager misses its heartbeats
#   swarm-node.sh kill NODE     the same without the graceful part: SIGKILL to every process
#                               of the node (a machine losing power)
#   swarm-node.sh start NODE    start its dockerd again (same data-root: it is the same
#                               member) and wait until the manager sees it Ready
#   swarm-node.sh cut NODE      take its link down: the node and its containers keep
#                               running, but nothing reaches them (a network partition)
#   swarm-node.sh mend NODE     bring the link up again and wait until it is Ready
#   swarm-node.sh pause NODE    SIGSTOP its dockerd and containerd (a hung engine; its
#                               containers keep answering)
#   swarm-node.sh resume NODE   SIGCONT them and wait until it is Ready
#   swarm-node.sh leave NODE    `docker swarm leave --force` on the node (a worker leaving
#                               for good; the manager lists it Down)
#   swarm-node.sh join NODE     remove its old entry on the manager and join again as a
#                               worker (its node ID changes), wait until it is Ready
#   swarm-node.sh wait NODE STATE [SECONDS]
#                               wait (default 60 s) until the manager reports the node's
#                               status as STATE (ready, down, unknown, disconnected)
#   swarm-node.sh status        the manager's `docker node ls`
# node1 is the manager: stopping, cutting or pausing it leaves the swarm without one until
# it is back. Every wait is bounded; a wait that gives up exits 1 with a message.
set -euo pipefail
cd "$(dirname "$0")/.."
SWARM_SCRIPT=swarm-node
# shellcheck source=tests/swarm-lib.sh
. tests/swarm-lib.sh

usage() {
  die "usage: swarm-node.sh stop|kill|start|cut|mend|pause|resume|leave|join NODE | wait NODE STATE [SECONDS] | status" \
    "the comments at the top of tests/swarm-node.sh say what each does"
}
[ $# -ge 1 ] || usage
action=$1
[ "$(id -u)" = 0 ] || die "the swarm lab needs root" "run it as root"
[ -s "$SWARM_ENV" ] || die "no swarm lab is up ($SWARM_ENV is missing)" "bash tests/swarm-up.sh"

# node_status NODE: what the manager says of the node, lower case (ready, down, ...).
node_status() {
  local id
  id=$(node_id "$1")
  ndocker node1 node inspect --format '{{.Status.State}}' "$id" 2>/dev/null
}
# node_id NODE: the node's current swarm ID (by hostname: after a leave and join the
# manager may list an old entry too, the one that is not down is the current one).
node_id() {
  local line ids=()
  while read -r line; do
    ids+=("$line")
  done < <(ndocker node1 node ls --filter "name=$1" --format '{{.Hostname}} {{.ID}} {{.Status}}' 2>/dev/null |
    awk -v n="$1" '$1 == n {print ($3 == "Down" ? "1" : "0") " " $2}' | sort | awk '{print $2}')
  [ ${#ids[@]} -gt 0 ] || return 1
  printf '%s\n' "${ids[0]}"
}
is_status() { [ "$(node_status "$1")" = "$2" ]; }
wait_status() {
  local node=$1 state=$2 seconds=${3:-60}
  wait_for "$seconds" "the manager to report $node $state" is_status "$node" "$state" ||
    die "the manager did not report $node $state within $seconds s (now: $(node_status "$node" || echo unknown))" \
      "the node's log: $(node_log "$node")"
}
engine_pids() {
  local node=$1 pid
  if pid_alive "$(node_pidfile "$node")"; then pid_of "$(node_pidfile "$node")"; echo; fi
  for pid in $(ns_pids "$(node_ns "$node")"); do
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = containerd ] && printf '%s\n' "$pid"
  done
  return 0
}

case "$action" in
  status)
    ndocker node1 node ls
    exit 0
    ;;
esac
[ $# -ge 2 ] || usage
node=$2
node_index "$node" >/dev/null
log "$action $node"
case "$action" in
  stop)
    stop_node "$node"
    ;;
  kill)
    if pid_alive "$(node_pidfile "$node")"; then kill -KILL "$(pid_of "$(node_pidfile "$node")")" || true; fi
    kill_ns "$(node_ns "$node")"
    rm -f "$(node_pidfile "$node")"
    ;;
  start)
    pid_alive "$(node_pidfile "$node")" && die "$node's dockerd is running already" "swarm-node.sh stop $node first"
    start_node "$node"
    [ "$node" = node1 ] && wait_for 60 "node1 to manage the swarm again" ndocker node1 node ls
    wait_status "$node" ready
    ;;
  cut)
    ip -n "$SWARM_NETNS" link set "$(node_port "$node")" down
    ;;
  mend)
    ip -n "$SWARM_NETNS" link set "$(node_port "$node")" up
    [ "$node" = node1 ] && wait_for 60 "node1 to manage the swarm again" ndocker node1 node ls
    wait_status "$node" ready
    ;;
  pause)
    # shellcheck disable=SC2046
    kill -STOP $(engine_pids "$node")
    ;;
  resume)
    # shellcheck disable=SC2046
    kill -CONT $(engine_pids "$node")
    [ "$node" = node1 ] && wait_for 60 "node1 to manage the swarm again" ndocker node1 node ls
    wait_status "$node" ready
    ;;
  leave)
    [ "$node" = node1 ] && die "node1 is the swarm's only manager" "make a worker leave: node2 or node3"
    ndocker "$node" swarm leave --force >/dev/null
    ;;
  join)
    [ "$node" = node1 ] && die "node1 is the swarm's only manager" "join a worker: node2 or node3"
    if [ "$(ndocker "$node" info --format '{{.Swarm.LocalNodeState}}')" != active ]; then
      for id in $(ndocker node1 node ls --filter "name=$node" --format '{{.Hostname}} {{.ID}}' |
        awk -v n="$node" '$1 == n {print $2}'); do
        ndocker node1 node rm --force "$id" >/dev/null
      done
      ndocker "$node" swarm join --token "$(ndocker node1 swarm join-token -q worker)" \
        --advertise-addr "$(node_addr "$node")" --listen-addr "$(node_addr "$node"):2377" \
        "$(node_addr node1):2377" >/dev/null
    fi
    wait_status "$node" ready
    ;;
  wait)
    [ $# -ge 3 ] || usage
    wait_status "$node" "$3" "${4:-60}"
    ;;
  *)
    usage
    ;;
esac
