#!/usr/bin/env bash
# Check docker-compose.yml with the compose tool: Debian's docker-compose package parses and
# validates the file without a Docker daemon (`docker-compose config -q`). The package is
# installed with apt-get when missing (without docker.io, which it only recommends).
set -uo pipefail
cd "$(dirname "$0")/.."
if ! command -v docker-compose >/dev/null 2>&1; then
    scripts/apt-install.sh --no-install-recommends docker-compose || exit 1
fi
# The file insists on these secrets (${VAR:?...}); any value will do for a check.
export CRM_INTERNAL_TOKEN="${CRM_INTERNAL_TOKEN:-compose-check}"
export CRM_JWT_SECRET="${CRM_JWT_SECRET:-compose-check}"
if docker-compose -f docker-compose.yml config -q; then
    echo "docker-compose.yml: valid ($(docker-compose version --short 2>/dev/null || echo compose))"
else
    echo "docker-compose.yml is not valid (see above)" >&2
    exit 1
fi
