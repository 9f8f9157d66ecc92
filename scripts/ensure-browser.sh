#!/usr/bin/env bash
# Make sure a Chromium is there for the browser tests (tests/web): Debian's `chromium`
# package, installed with apt-get when missing (waiting for the dpkg lock, showing apt's
# error). Playwright drives it through its executable path; `playwright install` is never used
# (it downloads browser builds of its own). CRM_CHROMIUM names another Chromium.
# In CI (CI=true) a browser that cannot be installed fails here, before the tests run.
set -uo pipefail
cd "$(dirname "$0")/.."

have_browser() {
    [ -n "${CRM_CHROMIUM:-}" ] && [ -x "${CRM_CHROMIUM}" ] && return 0
    command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1
}

if ! have_browser; then
    echo "Chromium is missing (for the browser tests)" >&2
    scripts/apt-install.sh chromium
fi
if ! have_browser; then
    echo "Chromium is not available: the browser tests will fail." >&2
    echo "Install it with:  sudo apt-get install -y chromium  (or set CRM_CHROMIUM)" >&2
    [ "${CI:-}" = "true" ] && exit 1
fi
exit 0
