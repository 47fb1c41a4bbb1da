#!/usr/bin/env bash
# Installs Debian's Chromium for the browser test (test/examples/web-demo.test.ts), when it is missing.
# playwright-core drives it at /usr/bin/chromium; no browser is downloaded from anywhere else.
# It never fails the caller: where Chromium cannot be installed, it says why and the browser test is
# skipped (with the same hint).
set -uo pipefail
if [ -x /usr/bin/chromium ]; then
  echo "chromium: $(/usr/bin/chromium --version 2>/dev/null || echo present)"
  exit 0
fi
skip() {
  echo "install-chromium: $1; the browser test will be skipped (install Debian's chromium package as root)" >&2
  exit 0
}
command -v apt-get >/dev/null 2>&1 || skip "no apt-get here"
as_root=()
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null || skip "not root, and no password-less sudo"
  as_root=(sudo -n)
fi
echo "install-chromium: installing Debian's chromium package"
"${as_root[@]}" apt-get update -qq || skip "apt-get update failed"
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null \
  || skip "apt-get install chromium failed"
/usr/bin/chromium --version
