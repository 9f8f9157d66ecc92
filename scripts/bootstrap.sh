#!/usr/bin/env bash
# Install uv when missing, then the locked environment (every service and the tools).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v uv >/dev/null 2>&1 && [ ! -x "$HOME/.local/bin/uv" ]; then
    echo "installing uv" >&2
    python3 -m pip install --quiet --user uv || python3 -m pip install --quiet uv
fi
UV="$(command -v uv 2>/dev/null || echo "$HOME/.local/bin/uv")"
"$UV" sync --frozen --quiet
