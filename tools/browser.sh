#!/bin/sh
# Makes sure Debian's Chromium is at /usr/bin/chromium for the browser tests: Playwright
# drives it, since `playwright install` cannot download a browser of its own everywhere.
set -eu
CHROMIUM=/usr/bin/chromium
if [ -x "$CHROMIUM" ]; then
    exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian's chromium for the browser tests"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >/dev/null \
        || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >/dev/null; }
    exit 0
fi
echo "the browser tests need $CHROMIUM: run 'sudo apt-get install -y chromium' (Debian, Ubuntu)," >&2
echo "or leave them out with PYTEST_ARGS='--ignore=tests/browser'" >&2
exit 1
