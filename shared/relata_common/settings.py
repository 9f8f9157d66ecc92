"""Settings shared by every service, read from ``CRM_``-prefixed environment variables."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url


class CommonSettings(BaseSettings):
    """What every service process needs to find its infrastructure.

    A service subclasses this, names its database and adds its own settings.
    """

    model_config = SettingsConfigDict(env_prefix="CRM_", extra="ignore")

    service_name: str = "relata"
    database_name: str = "relata"
    postgres_url: str = Field(
        default="postgresql+asyncpg://postgres@127.0.0.1:5432",
        description="Server URL without a database; each service appends its own database name.",
    )
    database_pool_size: int = 10
    kafka_bootstrap: str = "127.0.0.1:9092"
    topic_partitions: int = 12
    topic_replication: int = 1
    redis_url: str = "redis://127.0.0.1:6379/0"
    internal_token: SecretStr = SecretStr("relata-dev-internal-token")
    log_level: str = "INFO"
    log_json: bool = True
    log_requests: bool = False
    """Log a line per HTTP request handled, with its correlation id (so one request can be
    followed through every service it touched)."""
    consumer_max_records: int = 500
    consumer_group_suffix: str = ""
    """Appended to every consumer group name: lets separate deployments (or tests) sharing one
    Kafka cluster consume independently."""
    consumer_retry_attempts: int = 3

    @property
    def database_url(self) -> str:
        # Through the URL object: a server given by socket (``?host=/run/...``) keeps its query.
        return (
            make_url(self.postgres_url)
            .set(database=self.database_name)
            .render_as_string(hide_password=False)
        )
