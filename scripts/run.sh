#!/usr/bin/env bash
# Sets up a fresh Debian machine, builds the site (wasm bundles, scene pack, poster)
# into www/dist and serves it with the site + telemetry server on 127.0.0.1:8080
# (override with CANDLEFISH_PORT); its dashboard and /metrics on the private listener
# 127.0.0.1:9464 (CANDLEFISH_METRICS_ADDR). Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh all
cargo xtask dist
port="${CANDLEFISH_PORT:-8080}"
echo
metrics="${CANDLEFISH_METRICS_ADDR:-127.0.0.1:9464}"
echo "Open http://127.0.0.1:${port}/"
echo "Live dashboard (private listener, with /metrics and /api/stats): http://${metrics}/dashboard"
exec cargo run --release --locked -p candlefish-server -- --site-dir www/dist --port "$port" --metrics-addr "$metrics"
