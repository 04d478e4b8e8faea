#!/usr/bin/env bash
# Installs the system programs the test suite drives for real, when they are missing:
# Debian's chromium (the HTML report is rendered and printed in a headless browser; the web
# page of kpirules serve is driven in it through Playwright, which never downloads a browser).
# Uses apt-get directly as root, through sudo otherwise.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-test-tools: chromium is missing and apt-get is not available; install Chromium and put 'chromium' on PATH" >&2
  exit 1
fi
as_root=()
if [ "$(id -u)" != 0 ]; then
  as_root=(sudo)
fi
echo "install-test-tools: installing chromium with apt-get" >&2
"${as_root[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq chromium >/dev/null
command -v chromium >/dev/null
