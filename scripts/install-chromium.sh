#!/usr/bin/env bash
# Installs Debian's Chromium for the browser test (test/examples/web-demo.test.ts), when it is missing.
# playwright-core drives it at /usr/bin/chromium; no browser is downloaded from anywhere else.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  echo "chromium: $(/usr/bin/chromium --version 2>/dev/null || echo present)"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-chromium: no apt-get here; install Chromium at /usr/bin/chromium by hand, or the browser test is skipped" >&2
  exit 0
fi
as_root=()
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then as_root=(sudo); else
    echo "install-chromium: not root and no sudo; run 'apt-get install chromium' as root, or the browser test is skipped" >&2
    exit 0
  fi
fi
echo "install-chromium: installing Debian's chromium package"
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
/usr/bin/chromium --version
