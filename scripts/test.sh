#!/usr/bin/env bash
# Weft's test command: installs what the tests need that cargo cannot fetch, then runs every
# test of the workspace. On a fresh machine with only the Rust toolchain, this is all it takes.
#
# The browser tests (tests/e2e/browser.rs) drive Debian's Chromium through chromedriver; they
# are installed with apt-get when missing (as root, or through sudo). Extra arguments go to
# `cargo test` (e.g. `bash scripts/test.sh trust::` runs the tests whose name has `trust::`).
set -euo pipefail
cd "$(dirname "$0")/.."

need_browser() {
  ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1
}

if need_browser; then
  echo "installing chromium and chromedriver for the browser tests…" >&2
  if [ "$(id -u)" -eq 0 ]; then
    as_root=()
  elif command -v sudo >/dev/null 2>&1; then
    as_root=(sudo)
  else
    echo "chromium and chromedriver are missing and there is no sudo: install the Debian" >&2
    echo "packages chromium and chromium-driver (or run this script as root)." >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${as_root[@]}" apt-get update -qq
  "${as_root[@]}" apt-get install -y -qq chromium chromium-driver >/dev/null
fi

exec cargo test --workspace "$@"
