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
name=chromium
package=chromium
skipped="the browser test will be skipped"
source "$(dirname "$0")/apt-install.sh"
apt_install
/usr/bin/chromium --version
