#!/usr/bin/env bash
# The command-line tools the API tests use as real HTTP clients and certificate makers,
# and the Prometheus the metrics tests scrape with: install Debian's curl, openssl and
# prometheus when missing.
set -euo pipefail

need=()
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
if [ ${#need[@]} -gt 0 ]; then
  printf 'tools-up: installing %s\n' "${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" ca-certificates >/dev/null
fi
