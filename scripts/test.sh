#!/usr/bin/env bash
# Weft's test command: installs what the tests need that cargo cannot fetch, then runs every
# test of the workspace. On a fresh machine with only the Rust toolchain, this is all it takes.
#
# The browser tests (tests/e2e/browser.rs) drive Debian's Chromium through chromedriver; they
# are installed with apt-get when missing (as root, or through sudo), as are python3 and its
# venv module for the mail tests' SMTP server (aiosmtpd, installed from PyPI). Extra arguments go to
# `cargo test` (e.g. `bash scripts/test.sh trust::` runs the tests whose name has `trust::`).
set -euo pipefail
cd "$(dirname "$0")/.."

need_browser() {
  ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1
}

# The mail tests (tests/e2e/mail.rs) send through a real SMTP server: aiosmtpd, from PyPI,
# in a virtual environment under target/ (made once).
smtp_venv=target/smtp-venv
need_smtp() {
  ! "$smtp_venv/bin/python" -c "import aiosmtpd" >/dev/null 2>&1
}
need_python() {
  ! command -v python3 >/dev/null 2>&1 || ! python3 -c "import venv, ensurepip" >/dev/null 2>&1
}

apt_packages=()
if need_browser; then apt_packages+=(chromium chromium-driver); fi
if need_smtp && need_python; then apt_packages+=(python3 python3-venv); fi

if [ ${#apt_packages[@]} -gt 0 ]; then
  echo "installing ${apt_packages[*]} for the browser and mail tests…" >&2
  if [ "$(id -u)" -eq 0 ]; then
    as_root=()
  elif command -v sudo >/dev/null 2>&1; then
    as_root=(sudo)
  else
    echo "${apt_packages[*]} are missing and there is no sudo: install these Debian" >&2
    echo "packages (or run this script as root)." >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${as_root[@]}" apt-get update -qq
  "${as_root[@]}" apt-get install -y -qq "${apt_packages[@]}" >/dev/null
fi

if need_smtp; then
  echo "installing aiosmtpd (PyPI) into $smtp_venv for the mail tests…" >&2
  rm -rf "$smtp_venv"
  python3 -m venv "$smtp_venv"
  "$smtp_venv/bin/pip" install --quiet --disable-pip-version-check aiosmtpd
fi

exec cargo test --workspace "$@"
