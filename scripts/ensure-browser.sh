#!/usr/bin/env bash
# Make sure a Chromium is there for the browser tests (tests/web): Debian's `chromium`
# package, installed with apt-get when missing. Playwright drives it through its executable
# path; `playwright install` is never used (it downloads browser builds of its own).
# In CI (CI=true) a browser that cannot be installed fails here, before the tests run.
set -uo pipefail

have_browser() {
    [ -n "${CRM_CHROMIUM:-}" ] && [ -x "${CRM_CHROMIUM}" ] && return 0
    command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1
}

if ! have_browser; then
    echo "Chromium is missing; installing Debian's chromium package" >&2
    SUDO=""
    [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && SUDO="sudo"
    if command -v apt-get >/dev/null 2>&1; then
        $SUDO apt-get update -qq >/dev/null 2>&1 || true
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null 2>&1 || true
    fi
fi
if ! have_browser; then
    echo "Chromium is not available: the browser tests will fail (apt-get install chromium)" >&2
    [ "${CI:-}" = "true" ] && exit 1
fi
exit 0
