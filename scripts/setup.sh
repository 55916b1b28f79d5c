#!/usr/bin/env bash
# Installs what Candlefish needs on a fresh Debian machine, skipping what is already
# there: Debian packages (Mesa's lavapipe for a CPU Vulkan adapter, Chromium for the
# browser tests, brotli, Prometheus and promtool), the wasm target, the exact
# wasm-bindgen-cli, npm tools.
# Usage: scripts/setup.sh [native|web|all]   (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-all}"

say() { printf '\033[1msetup:\033[0m %s\n' "$*"; }

# prometheus: promtool for the alerting-rule tests, and the server a test scrapes with.
need_debs=(mesa-vulkan-drivers libvulkan1 libegl1 libegl-mesa0 libgl1-mesa-dri brotli prometheus)
if [[ "$what" != native ]]; then
  need_debs+=(chromium)
fi
missing=()
for p in "${need_debs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]]; then
    say "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: missing Debian packages: ${missing[*]}" >&2
    echo "setup: run as root, or: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi

command -v cargo >/dev/null || { echo "setup: cargo not found: install Rust with rustup (https://rustup.rs)" >&2; exit 1; }

if [[ "$what" != native ]]; then
  if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    say "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
  fi
  # wasm-bindgen-cli must match the wasm-bindgen in Cargo.lock exactly.
  want=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/, ""); print; exit}' Cargo.lock)
  if [[ -n "$want" ]]; then
    have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
    if [[ "$have" != "$want" ]]; then
      say "installing wasm-bindgen-cli $want (takes a few minutes once)"
      # --locked fails here: a locked dependency is missing from the registry.
      cargo install -q wasm-bindgen-cli --version "=$want"
    fi
  fi
  if [[ -f package.json ]] && [[ ! -d node_modules || package-lock.json -nt node_modules ]]; then
    command -v npm >/dev/null || { echo "setup: npm not found: install Node.js 20+" >&2; exit 1; }
    say "installing npm tools (playwright-core, binaryen)"
    npm ci --no-audit --no-fund --loglevel=error
  fi
fi
say "ok ($what)"
