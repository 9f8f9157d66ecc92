#!/usr/bin/env bash
# Print the uv to use: one on PATH, the usual per-user install, or the tools environment that
# scripts/bootstrap.sh creates (.tools/venv). Prints the last when there is none yet.
cd "$(dirname "$0")/.."
for candidate in "$(command -v uv 2>/dev/null)" "$HOME/.local/bin/uv" "$PWD/.tools/venv/bin/uv"; do
    if [ -n "$candidate" ] && [ -x "$candidate" ]; then
        echo "$candidate"
        exit 0
    fi
done
echo "$PWD/.tools/venv/bin/uv"
