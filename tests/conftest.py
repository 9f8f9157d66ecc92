"""Test harness: real PostgreSQL, Redis and a Kafka-protocol broker.

By default the machine's PostgreSQL and Redis are used and a Tansu broker is started on a free
loopback port. With ``CRM_TESTCONTAINERS=1`` (and Docker) the three run in containers instead.
A server that does not answer fails the run: these tests never skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import asyncpg
import pytest
import redis.asyncio as aioredis

from relata_cli.tansu import TansuBroker
from relata_common.db import asyncpg_dsn, drop_database, ensure_database

# The test settings: the tokens written in the tests are accepted (every other process
# refuses a secret published in the source; tests/common/test_secrets.py checks that).
os.environ.setdefault("CRM_ALLOW_TEST_SECRETS", "true")

pytest_plugins = ["tests.read_model", "tests.relations.fixtures"]

USE_CONTAINERS = os.environ.get("CRM_TESTCONTAINERS") == "1"
DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432"
DEFAULT_REDIS = "redis://127.0.0.1:6379/15"


@dataclass(frozen=True)
class Infrastructure:
    postgres_url: str
    redis_url: str
    kafka_bootstrap: str


@pytest.fixture(scope="session")
def infrastructure() -> Iterator[Infrastructure]:
    if USE_CONTAINERS:
        yield from _containers()
        return
    with TansuBroker() as broker:
        yield Infrastructure(
            postgres_url=os.environ.get("CRM_TEST_POSTGRES_URL", DEFAULT_POSTGRES),
            redis_url=os.environ.get("CRM_TEST_REDIS_URL", DEFAULT_REDIS),
            kafka_bootstrap=broker.bootstrap,
        )


def _containers() -> Iterator[Infrastructure]:
    from testcontainers.kafka import KafkaContainer
    from testcontainers.postgres import PostgresContainer
    from testcontainers.redis import RedisContainer

    with (
        PostgresContainer("postgres:16", driver="asyncpg") as postgres,
        RedisContainer("redis:7") as redis_container,
        KafkaContainer("confluentinc/cp-kafka:7.6.0").with_kraft() as kafka,
    ):
        server = postgres.get_connection_url().rsplit("/", 1)[0]
        host = redis_container.get_container_host_ip()
        port = redis_container.get_exposed_port(6379)
        yield Infrastructure(server, f"redis://{host}:{port}/15", kafka.get_bootstrap_server())


@pytest.fixture(scope="session")
async def postgres_server(infrastructure: Infrastructure) -> str:
    """The PostgreSQL server URL, checked to answer (a failure here fails the run)."""
    connection = await asyncpg.connect(
        asyncpg_dsn(f"{infrastructure.postgres_url}/postgres"), timeout=10
    )
    await connection.close()
    return infrastructure.postgres_url


@pytest.fixture(scope="session")
def kafka_bootstrap(infrastructure: Infrastructure) -> str:
    return infrastructure.kafka_bootstrap


@pytest.fixture
async def redis_client(infrastructure: Infrastructure) -> AsyncIterator[aioredis.Redis]:
    """A Redis database of its own for the test, emptied before and after."""
    client = aioredis.from_url(infrastructure.redis_url)
    await client.ping()
    await client.flushdb()
    yield client
    await client.flushdb()
    await client.aclose()


@pytest.fixture
async def database_name(postgres_server: str) -> AsyncIterator[str]:
    """A fresh, empty database for one test, dropped afterwards."""
    name = f"relata_test_{uuid.uuid4().hex[:12]}"
    await ensure_database(f"{postgres_server}/{name}")
    yield name
    await drop_database(f"{postgres_server}/{name}")


@pytest.fixture
def topic_prefix() -> str:
    """Tests share one broker: each names its topics apart."""
    return f"t{uuid.uuid4().hex[:8]}"
