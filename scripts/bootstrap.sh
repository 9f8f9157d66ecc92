#!/usr/bin/env bash
# Make sure uv is there, then install the locked environment (every service and the tools).
#
# uv is used where it is found (PATH, ~/.local/bin). Otherwise it is installed from PyPI into a
# tools environment of its own, .tools/venv, made with the distribution's Python: no pip on
# the system and no `pip install --user`, which Debian 13 and Ubuntu 24.04 refuse (PEP 668).
# Quick when everything is in place already: nothing is downloaded then.
set -euo pipefail
cd "$(dirname "$0")/.."
UV="$(scripts/uv-path.sh)"
TOOLS=.tools/venv

install_uv() {
    command -v python3 >/dev/null 2>&1 || {
        echo "Python 3 is missing; install it with:" >&2
        echo "  sudo apt-get install -y python3 python3-venv" >&2
        exit 1
    }
    if [ ! -x "$TOOLS/bin/python" ]; then
        rm -rf "$TOOLS"
        # Debian and Ubuntu ship venv's ensurepip separately, in python3-venv.
        if ! python3 -m venv "$TOOLS" >/dev/null 2>&1; then
            rm -rf "$TOOLS"
            echo "Python's venv module is missing; install it with:" >&2
            echo "  sudo apt-get install -y python3-venv" >&2
            exit 1
        fi
    fi
    echo "installing uv from PyPI into $TOOLS" >&2
    "$TOOLS/bin/python" -m pip install --quiet --disable-pip-version-check uv
}

[ -x "$UV" ] || install_uv
UV="$(scripts/uv-path.sh)"
"$UV" sync --frozen --quiet
