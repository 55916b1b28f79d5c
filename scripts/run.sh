#!/usr/bin/env bash
# Sets up a fresh Debian machine and runs the main job: renders the demo scene
# headless to out/frame.png (the site build and server join here as they land).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh native
mkdir -p out
cargo run --release --locked -p candlefish-app --bin candlefish -- \
  render --scene school --time 3.5 --width 1280 --height 720 --out out/frame.png
