#!/usr/bin/env bash
# Make sure a Docker engine answers on this machine: install Debian's engine and
# busybox-static when missing, start one dockerd when none answers, wait (bounded).
# Never starts a second daemon and never touches the bridge configuration.
set -euo pipefail

log() { printf 'docker-up: %s\n' "$*" >&2; }

if docker info >/dev/null 2>&1; then
  log "engine already answers"
else
  need=()
  command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
  [ -x /bin/busybox ] || need+=(busybox-static)
  if [ ${#need[@]} -gt 0 ]; then
    log "installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
  # A daemon may be starting already (pid file present and process alive): just wait for it.
  if pgrep -x dockerd >/dev/null 2>&1; then
    log "dockerd is running but not answering yet; waiting"
  else
    log "starting dockerd"
    mkdir -p /var/log
    nohup dockerd >>/var/log/temps-dockerd.log 2>&1 &
  fi
  for _ in $(seq 1 120); do
    docker info >/dev/null 2>&1 && break
    sleep 0.5
  done
  if ! docker info >/dev/null 2>&1; then
    log "the engine did not answer within 60 s; last daemon log lines:"
    tail -n 30 /var/log/temps-dockerd.log >&2 || true
    exit 1
  fi
  log "engine answers"
fi

# busybox-static is also what the fixtures are built from.
if [ ! -x /bin/busybox ]; then
  log "installing busybox-static"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends busybox-static >/dev/null
fi
