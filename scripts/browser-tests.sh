#!/usr/bin/env bash
# Builds the site and the server, then runs the browser tests in headless Chromium
# against the real server on 127.0.0.1.
# With CANDLEFISH_USE_TEST_BUILD=1 (scripts/test.sh) it reuses the `candlefish` and
# `candlefish-server` binaries that `cargo test --workspace` has just built.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${CANDLEFISH_USE_TEST_BUILD:-}" == 1 ]]; then
  for bin in target/debug/candlefish target/debug/candlefish-server; do
    [[ -x "$bin" ]] || { echo "browser-tests: $bin is missing (run cargo test --workspace first)" >&2; exit 1; }
  done
  CANDLEFISH_BIN=target/debug/candlefish cargo xtask dist
else
  cargo xtask dist
  cargo build --locked -p candlefish-server
fi
# One test file at a time: each starts its own server and browsers.
node --test --test-concurrency=1 --test-reporter=spec www/tests/
