#!/usr/bin/env bash
# Builds the site and the server, then runs the browser tests in headless Chromium
# against the real server on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo xtask dist
cargo build --locked -p candlefish-server
node --test --test-reporter=spec www/tests/
