#!/usr/bin/env bash
# Make sure PostgreSQL and Redis answer and PostgreSQL lets us in, before `make up` or
# `make test` (the first argument, `up` or `test`, says which settings apply).
#
# The servers are the machine's own on loopback unless their setting (CRM_POSTGRES_URL /
# CRM_REDIS_URL for `up`, CRM_TEST_... for `test`) names another: started when installed but
# stopped; when not installed, the one line that installs them is printed.
# The Kafka-protocol broker needs nothing here: `crm up` and the tests start their own.
set -uo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
    up) POSTGRES_SETTING=CRM_POSTGRES_URL REDIS_SETTING=CRM_REDIS_URL ;;
    test) POSTGRES_SETTING=CRM_TEST_POSTGRES_URL REDIS_SETTING=CRM_TEST_REDIS_URL ;;
    *) echo "usage: $0 up|test" >&2; exit 2 ;;
esac

# Whether a setting leaves the server on this machine's loopback default port (a URL with a
# password for 127.0.0.1:5432 still means the local PostgreSQL, which may need starting).
local_server() {
    local url="$1" port="$2"
    [ -z "$url" ] || [[ "$url" =~ [@/](127\.0\.0\.1|localhost)(:$port)?([/?]|$) ]]
}

answers() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

redis_answers() {
    timeout 2 bash -c 'exec 3<>/dev/tcp/127.0.0.1/6379 && printf "PING\r\n" >&3 &&
        read -r line <&3 && [[ "$line" == +PONG* ]]' 2>/dev/null
}

wait_for() {
    for _ in $(seq 1 30); do "$@" && return 0; sleep 1; done
    return 1
}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi
}

start_postgres() {
    local version
    for version in $(pg_lsclusters -h 2>/dev/null | awk '$4 != "online" {print $1 "/" $2}'); do
        echo "PostgreSQL is installed but stopped; starting cluster $version" >&2
        as_root pg_ctlcluster --skip-systemctl-redirect "${version%/*}" "${version#*/}" start ||
            echo "could not start it: run  sudo pg_ctlcluster ${version%/*} ${version#*/} start" >&2
    done
}

missing=()
if local_server "${!POSTGRES_SETTING:-}" 5432 && ! answers 5432; then
    if command -v pg_lsclusters >/dev/null 2>&1; then
        start_postgres
        wait_for answers 5432 || { echo "PostgreSQL does not answer on 127.0.0.1:5432" >&2; exit 1; }
    else
        missing+=(postgresql)
    fi
fi
if local_server "${!REDIS_SETTING:-}" 6379 && ! redis_answers; then
    if command -v redis-server >/dev/null 2>&1; then
        echo "Redis does not answer on 127.0.0.1:6379; starting it" >&2
        redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
            >/dev/null
        wait_for redis_answers || { echo "Redis does not answer on 127.0.0.1:6379" >&2; exit 1; }
    else
        missing+=(redis-server)
    fi
fi
if [ "${#missing[@]}" -gt 0 ]; then
    echo "missing: ${missing[*]}. Install with:" >&2
    echo "  sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi
"$(scripts/uv-path.sh)" run --frozen python scripts/check_postgres.py "$POSTGRES_SETTING"
