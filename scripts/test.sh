#!/usr/bin/env bash
# Sets up a fresh Debian machine and runs every check and test: formatting, clippy
# (native and wasm), the Prometheus rule tests, unit, image (lavapipe), CLI, server
# (with a real Prometheus) and browser tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh all

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (native)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo clippy (wasm32: WebGPU and WebGL2 bundles)"
for feature in webgpu webgl; do
  cargo clippy -p candlefish-renderer -p candlefish-app --lib --target wasm32-unknown-unknown \
    --features "candlefish-app/$feature" --locked -- -D warnings
done

step "promtool test rules (server/prometheus)"
promtool check rules server/prometheus/rules.yml
promtool test rules server/prometheus/rules_test.yml

step "cargo test (workspace)"
# Benches run once each as tests, at the smallest problem size.
CANDLEFISH_BENCH_QUICK=1 cargo test --workspace --all-targets --locked

if [[ -x scripts/browser-tests.sh ]]; then
  step "browser tests (headless Chromium)"
  CANDLEFISH_USE_TEST_BUILD=1 scripts/browser-tests.sh
fi
echo
echo "all checks passed"
