#!/usr/bin/env bash
# Make sure the dashboard's browser test has a browser: install Debian's chromium and
# chromium-driver when missing (non-interactive). Starts nothing: the test starts its own
# chromedriver, and chromium headless, and stops them.
set -euo pipefail

log() { printf 'browser-up: %s\n' "$*" >&2; }

need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
if [ ${#need[@]} -eq 0 ]; then
  log "chromium and chromedriver are installed"
  exit 0
fi

log "installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
# A fresh machine has no package lists yet; a stale list may name versions gone from the mirror.
if ! apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
log "installed: $(chromium --version 2>/dev/null || echo chromium?); $(chromedriver --version 2>/dev/null || echo chromedriver?)"
