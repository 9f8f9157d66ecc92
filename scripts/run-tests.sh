#!/usr/bin/env bash
# Run the test suite; "no tests ran" (pytest's exit code 5) is a failure, not a pass.
set -uo pipefail
cd "$(dirname "$0")/.."
UV="$(scripts/uv-path.sh)"
"$UV" run pytest "$@"
status=$?
if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests: failing" >&2
    exit 1
fi
exit "$status"
