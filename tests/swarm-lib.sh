# shellcheck shell=bash disable=SC2034  # (the scripts that source this use the names)
# The names and small functions the swarm lab's scripts share (sourced, not run):
# tests/swarm-up.sh, tests/swarm-down.sh, tests/swarm-node.sh, tests/swarm-registry.sh.
#
# One lab per slot: TEMPS_SWARM_SLOT (0 to 9, default 0) picks its names, folders and
# addresses, so a second lab can run beside the first one (slot 0 is the one the tests
# read, from /run/temps-swarm/env; another slot's tests read it through TEMPS_SWARM_ENV).
#
#   slot 0                    slot S (1-9)
#   /run/temps-swarm          /run/temps-swarmS          sockets, pid files, logs, env
#   /var/lib/temps-swarm      /var/lib/temps-swarmS      data-roots, registry storage
#   temps-swarm-net           temps-swarmS-net           network namespace of the bridge
#   temps-swarm-node1..3      temps-swarmS-node1..3      one network namespace per node
#   tswarm0                   tswarmS                    the root namespace's veth
#   10.199.0.0/24             10.199.S.0/24              .1 host, .2 registry, .11-.13 nodes

SWARM_SLOT=${TEMPS_SWARM_SLOT:-0}
case "$SWARM_SLOT" in
  [0-9]) ;;
  *) printf 'swarm: TEMPS_SWARM_SLOT must be one digit, not %s\n' "$SWARM_SLOT" >&2; exit 2 ;;
esac
if [ "$SWARM_SLOT" = 0 ]; then SWARM_LAB=temps-swarm; else SWARM_LAB=temps-swarm$SWARM_SLOT; fi
SWARM_RUN=/run/$SWARM_LAB
SWARM_DATA=/var/lib/$SWARM_LAB
SWARM_NETNS=$SWARM_LAB-net
SWARM_UPLINK=tswarm$SWARM_SLOT
SWARM_NET=10.199.$SWARM_SLOT
SWARM_HOST_ADDR=$SWARM_NET.1
SWARM_REGISTRY_ADDR=$SWARM_NET.2
SWARM_REGISTRY_PORT=5000
SWARM_REGISTRY=$SWARM_REGISTRY_ADDR:$SWARM_REGISTRY_PORT
# Overlay networks (the ingress one too) take their subnets from a pool of the lab's own.
SWARM_POOL=10.$((200 + SWARM_SLOT)).0.0/16
SWARM_NODES=(node1 node2 node3)
SWARM_ENV=$SWARM_RUN/env
# Made when /run/netns did not exist before a lab: the last lab down removes it again.
SWARM_NETNS_MARK=/run/temps-swarm.netns-made

# lock_lab: hold this slot's lab alone until the script exits (bounded wait), so that two
# scripts never build or tear down the same lab at once. A script that another one runs
# (swarm-up runs swarm-down) inherits its lock.
lock_lab() {
  [ -z "${SWARM_LOCKED:-}" ] || return 0
  mkdir -p /run/lock
  exec 9>"/run/lock/$SWARM_LAB.lock"
  if ! flock -w 300 9; then
    die "another script has held the lab $SWARM_LAB for 5 minutes" "is a tests/swarm-up.sh or swarm-down.sh stuck? (fuser /run/lock/$SWARM_LAB.lock)"
  fi
  export SWARM_LOCKED=1
}

log() { printf '%s: %s\n' "${SWARM_SCRIPT:-swarm}" "$*" >&2; }
die() {
  printf '%s: error: %s\n' "${SWARM_SCRIPT:-swarm}" "$1" >&2
  [ $# -lt 2 ] || printf 'hint: %s\n' "$2" >&2
  exit 1
}

# node_index node2 -> 2
node_index() {
  case "$1" in
    node[1-9]) printf '%s\n' "${1#node}" ;;
    *) die "no node named '$1' (the nodes are ${SWARM_NODES[*]})" ;;
  esac
}
node_ns() { printf '%s-%s\n' "$SWARM_LAB" "$1"; }
node_addr() { printf '%s.%s\n' "$SWARM_NET" "$((10 + $(node_index "$1")))"; }
node_sock() { printf '%s/%s.sock\n' "$SWARM_RUN" "$1"; }
node_host() { printf 'unix://%s\n' "$(node_sock "$1")"; }
node_pidfile() { printf '%s/%s/dockerd.pid\n' "$SWARM_RUN" "$1"; }
node_log() { printf '%s/%s.log\n' "$SWARM_RUN" "$1"; }
# The veth end on the bridge side, in the bridge's namespace.
node_port() { printf 'n%s\n' "$(node_index "$1")"; }
node_cgroup() { printf '%s-%s\n' "$SWARM_LAB" "$1"; }

# ndocker NODE ARGS...: the docker CLI against one node, never waiting more than 30 s.
ndocker() {
  local node=$1
  shift
  timeout 30 docker -H "$(node_host "$node")" "$@"
}

# pid_alive PIDFILE [COMMAND]: the pid in the file names a running process of that
# command (default dockerd): not a zombie (on a machine whose init reaps late, a killed
# daemon may linger as one), and not a stranger that got the pid of a lab's daemon gone
# long ago (after a reboot, say).
pid_alive() {
  local pid state comm
  [ -s "$1" ] || return 1
  pid=$(tr -dc 0-9 <"$1")
  [ -n "$pid" ] || return 1
  state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 1
  comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ] && [ "$comm" = "${2:-dockerd}" ]
}
# pid_of PIDFILE: the pid in the file.
pid_of() { tr -dc 0-9 <"$1"; }

# wait_for SECONDS WHAT COMMAND...: run COMMAND every 0.25 s until it succeeds; fail after
# SECONDS with a message naming WHAT.
wait_for() {
  local seconds=$1 what=$2 deadline
  shift 2
  deadline=$(($(date +%s) + seconds))
  until "$@" >/dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      log "gave up after ${seconds} s waiting for $what"
      return 1
    fi
    sleep 0.25
  done
}

# ns_pids NETNS: the pids of every process in that network namespace.
ns_pids() {
  [ -e "/run/netns/$1" ] || return 0
  ip netns pids "$1" 2>/dev/null || true
}

# start_node NODE: start the node's dockerd in its network namespace, in a private mount
# namespace (sysfs remounted for that network namespace, the cgroup tree bound back over
# it, /run/containerd hidden so it starts a containerd of its own) with its own hostname.
# Returns once its socket answers (bounded).
start_node() {
  local node=$1 run=$SWARM_RUN/$1 keep
  keep=$run/cgroup
  mkdir -p "$run" "$keep"
  # A containerd killed with its node may have left its pid file: the next dockerd would
  # wait for that one instead of starting its own.
  rm -f "$(node_pidfile "$node")" "$(node_sock "$node")" "$run/exec/containerd/containerd.pid"
  # The daemon is the last exec of this chain, so it keeps the pid; setsid detaches it from
  # the caller's terminal and process group (a Ctrl-C on a test run leaves the lab alone),
  # and it does not inherit the lab's lock (fd 9).
  # shellcheck disable=SC2016  # (expanded by the inner bash, from its environment)
  (SWARM_NODE=$node SWARM_KEEP=$keep SWARM_CONFIG=$run/daemon.json \
    setsid unshare --mount --uts --propagation private -- \
    nsenter --net="/run/netns/$(node_ns "$node")" -- \
    bash -c '
      set -e
      hostname "$SWARM_NODE"
      mount --rbind /sys/fs/cgroup "$SWARM_KEEP"
      mount -t sysfs sysfs /sys
      mount --rbind "$SWARM_KEEP" /sys/fs/cgroup
      umount -l "$SWARM_KEEP"
      if [ -d /run/containerd ]; then mount -t tmpfs tmpfs /run/containerd; fi
      exec dockerd --config-file "$SWARM_CONFIG"
    ' </dev/null >>"$(node_log "$node")" 2>&1 9>&- &)
  if ! wait_for 60 "$node's dockerd to answer" ndocker "$node" version; then
    tail -n 20 "$(node_log "$node")" >&2 || true
    die "$node's dockerd did not answer on $(node_sock "$node")" "its log: $(node_log "$node")"
  fi
}

# stop_node NODE: SIGTERM the node's dockerd, wait (bounded), then SIGKILL whatever is
# left in its network namespace (containerd, shims, containers).
stop_node() {
  local node=$1 pidfile pid
  pidfile=$(node_pidfile "$node")
  if pid_alive "$pidfile"; then
    pid=$(pid_of "$pidfile")
    kill -TERM "$pid" 2>/dev/null || true
    # shellcheck disable=SC2016  # (expanded by eval, at each try)
    wait_for 30 "$node's dockerd (pid $pid) to stop" eval '! pid_alive "$pidfile"' ||
      kill -KILL "$pid" 2>/dev/null || true
  fi
  kill_ns "$(node_ns "$node")"
  rm -f "$pidfile"
}

# kill_ns NETNS: SIGKILL every process left in a network namespace, and wait (bounded).
kill_ns() {
  local pids
  pids=$(ns_pids "$1")
  [ -n "$pids" ] || return 0
  # shellcheck disable=SC2086
  kill -KILL $pids 2>/dev/null || true
  wait_for 10 "the processes in $1 to die" ns_empty "$1" || true
}
ns_empty() { [ -z "$(ns_pids "$1")" ]; }
