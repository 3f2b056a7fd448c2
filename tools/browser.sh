#!/bin/sh
# Makes sure Debian's Chromium is at /usr/bin/chromium for the browser tests (Playwright
# drives it: `playwright install` cannot download a browser of its own everywhere), and a
# Chinese font, without which the Chinese pages' screenshots show empty boxes.
set -eu
CHROMIUM=/usr/bin/chromium
CJK_FONT=/usr/share/fonts/truetype/wqy/wqy-microhei.ttc

can_install() {
    [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1
}

install() {
    echo "installing Debian's $* for the browser tests"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends "$@" >/dev/null \
        || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "$@" >/dev/null; }
}

if [ ! -x "$CHROMIUM" ]; then
    if ! can_install; then
        echo "the browser tests need $CHROMIUM: run 'sudo apt-get install -y chromium fonts-wqy-microhei'" >&2
        echo "(Debian, Ubuntu), or leave them out with PYTEST_ARGS='--ignore=tests/browser'" >&2
        exit 1
    fi
    install chromium
fi
if [ ! -f "$CJK_FONT" ]; then
    if can_install; then
        install fonts-wqy-microhei
    else
        echo "note: without fonts-wqy-microhei the Chinese pages' screenshots show empty boxes" >&2
    fi
fi
