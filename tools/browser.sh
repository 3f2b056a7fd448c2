#!/bin/sh
# Makes sure Debian's Chromium is at /usr/bin/chromium for the browser tests (Playwright
# drives it: `playwright install` cannot download a browser of its own everywhere), with a
# Chinese font, without which the Chinese pages' screenshots show empty boxes.
set -eu
CHROMIUM=/usr/bin/chromium
CJK_FONT=/usr/share/fonts/truetype/wqy/wqy-microhei.ttc
PACKAGES="chromium fonts-wqy-microhei"
if [ -x "$CHROMIUM" ] && [ -f "$CJK_FONT" ]; then
    exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian's $PACKAGES for the browser tests"
    export DEBIAN_FRONTEND=noninteractive
    # shellcheck disable=SC2086 # the package list is split on purpose
    apt-get install -y -q --no-install-recommends $PACKAGES >/dev/null \
        || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends $PACKAGES >/dev/null; }
    exit 0
fi
echo "the browser tests need $CHROMIUM and a Chinese font: run 'sudo apt-get install -y $PACKAGES'" >&2
echo "(Debian, Ubuntu), or leave them out with PYTEST_ARGS='--ignore=tests/browser'" >&2
exit 1
