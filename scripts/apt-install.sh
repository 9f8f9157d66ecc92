#!/usr/bin/env bash
# Install Debian packages with apt-get, waiting for the dpkg lock while another apt run holds
# it (up to APT_LOCK_TIMEOUT seconds, default 600) and showing apt's own error when it fails.
# Usage: scripts/apt-install.sh [APT-OPTION...] PACKAGE...
set -uo pipefail
[ "$#" -gt 0 ] || { echo "usage: $0 PACKAGE..." >&2; exit 2; }
command -v apt-get >/dev/null 2>&1 || {
    echo "no apt-get on this machine: install $* with its package manager" >&2
    exit 1
}
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || {
        echo "installing $* needs root: as root run  apt-get install -y $*" >&2
        exit 1
    }
    SUDO=(sudo)
fi
LOCK=(-o "DPkg::Lock::Timeout=${APT_LOCK_TIMEOUT:-600}")
echo "installing $* (apt-get install -y $*)" >&2
# -q keeps the progress bars out of logs; errors and the package list still show.
"${SUDO[@]}" apt-get "${LOCK[@]}" -q update >/dev/null || {
    echo "apt-get update failed (its error is above); the package lists may be stale" >&2
}
if ! "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get "${LOCK[@]}" -q install -y "$@"; then
    echo "apt-get install $* failed: see apt's error above" >&2
    exit 1
fi
