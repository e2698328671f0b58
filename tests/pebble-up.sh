#!/usr/bin/env bash
# The ACME server the proxy's HTTPS tests get certificates from: install Debian's pebble
# (with pebble-challtestsrv, its DNS) when missing.
set -euo pipefail

if ! command -v pebble >/dev/null 2>&1 || ! command -v pebble-challtestsrv >/dev/null 2>&1; then
  printf 'pebble-up: installing pebble\n' >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends pebble >/dev/null
fi
