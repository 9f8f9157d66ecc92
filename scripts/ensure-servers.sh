#!/usr/bin/env bash
# Make sure PostgreSQL and Redis answer on loopback, starting the machine's own when they
# do not. The Kafka-protocol broker needs nothing here: the tests start their own.
set -uo pipefail

postgres_answers() {
    python3 - <<'PY'
import socket, sys
try:
    socket.create_connection(("127.0.0.1", 5432), timeout=1).close()
except OSError:
    sys.exit(1)
PY
}

redis_answers() {
    python3 - <<'PY'
import socket, sys
try:
    s = socket.create_connection(("127.0.0.1", 6379), timeout=1)
    s.sendall(b"PING\r\n")
    sys.exit(0 if s.recv(16).startswith(b"+PONG") else 1)
except OSError:
    sys.exit(1)
PY
}

if ! postgres_answers; then
    echo "PostgreSQL does not answer on 127.0.0.1:5432; starting it" >&2
    if command -v pg_ctlcluster >/dev/null 2>&1; then
        pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    fi
    for _ in $(seq 1 30); do postgres_answers && break; sleep 1; done
fi
if ! redis_answers; then
    echo "Redis does not answer on 127.0.0.1:6379; starting it" >&2
    if command -v redis-server >/dev/null 2>&1; then
        redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no || true
    fi
    for _ in $(seq 1 30); do redis_answers && break; sleep 1; done
fi
postgres_answers || { echo "PostgreSQL is not available" >&2; exit 1; }
redis_answers || { echo "Redis is not available" >&2; exit 1; }
