"""Settings shared by every service, read from ``CRM_``-prefixed environment variables."""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

DEV_INTERNAL_TOKEN = "relata-dev-internal-token"
PUBLISHED_SECRETS = frozenset(
    {
        DEV_INTERNAL_TOKEN,
        "relata-dev-jwt-secret-change-me-in-production-32b",
        "relata-private-internal-token",
        "test-internal-token",
    }
)
"""Every secret value written in Relata's source (defaults, test and harness tokens): known to
anyone who reads it, so no installation may run with one (tests/common/test_secrets.py keeps
this list complete)."""
MIN_SECRET_LENGTH = 32


def refuse_published(name: str, secret: SecretStr, allowed: bool) -> None:
    """Raise naming the setting when ``secret`` is short or published in the source, unless
    test secrets are ``allowed``."""
    value = secret.get_secret_value()
    if allowed:
        return
    if value in PUBLISHED_SECRETS or len(value) < MIN_SECRET_LENGTH:
        raise ValueError(
            f"CRM_{name.upper()} is missing, shorter than {MIN_SECRET_LENGTH} characters or "
            "published in Relata's source: set a long random value (`crm up` generates one)"
        )


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
    api_statement_timeout_ms: int = 30_000
    """The longest a statement of a service's API may run (answered 503 with Retry-After), so
    a query a user shaped cannot keep the database busy long after its caller gave up (the
    gateway waits seconds); workers and migrations are not bounded by it. 0: no bound."""
    kafka_bootstrap: str = "127.0.0.1:9092"
    topic_partitions: int = 12
    topic_replication: int = 1
    redis_url: str = "redis://127.0.0.1:6379/0"
    internal_token: SecretStr = SecretStr(DEV_INTERNAL_TOKEN)
    allow_test_secrets: bool = False
    """Accept the secrets written in the source (the test settings only): any other process
    refuses to start with one."""
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
    inbox_retention_days: int = 30
    """Days a worker remembers an applied event (to ignore a redelivery); then pruned."""
    inbox_prune_seconds: float = 3600.0

    @model_validator(mode="after")
    def _no_published_secrets(self) -> CommonSettings:
        refuse_published("internal_token", self.internal_token, self.allow_test_secrets)
        return self

    @property
    def database_url(self) -> str:
        # Through the URL object: a server given by socket (``?host=/run/...``) keeps its query.
        return (
            make_url(self.postgres_url)
            .set(database=self.database_name)
            .render_as_string(hide_password=False)
        )
