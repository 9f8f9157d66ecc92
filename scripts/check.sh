#!/usr/bin/env bash
# Static checks of the whole tree: lint (with complexity and unused-argument rules),
# formatting and types. Every check runs, so one run names every problem; the exit
# status is non-zero when any of them failed.
set -uo pipefail
cd "$(dirname "$0")/.."
UV="$(scripts/uv-path.sh)"

failed=()
run() {
    echo "== $*"
    "$UV" run --frozen "$@" || failed+=("$*")
}

run ruff check .
run ruff format --check .
run mypy

if [ "${#failed[@]}" -gt 0 ]; then
    printf 'failed: %s\n' "${failed[@]}" >&2
    exit 1
fi
