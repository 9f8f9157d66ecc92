from __future__ import annotations

from functools import lru_cache

from pydantic import SecretStr, model_validator

from relata_common.settings import CommonSettings, refuse_published


class GatewaySettings(CommonSettings):
    service_name: str = "gateway"
    database_name: str = "relata_gateway"
    jwt_secret: SecretStr = SecretStr("relata-dev-jwt-secret-change-me-in-production-32b")
    access_token_minutes: int = 15
    login_session_hours: int = 12
    """How long one login lasts: its access token is refreshed until then, or until logout."""
    login_failures_per_user: int = 10
    login_failures_per_address: int = 100
    login_failure_window_seconds: int = 900
    """Failed logins allowed per username and per client address in this many seconds;
    beyond them a login is refused with 429 until the window ends."""
    relations_url: str = "http://127.0.0.1:8001"
    contactmoments_url: str = "http://127.0.0.1:8002"
    lists_url: str = "http://127.0.0.1:8003"
    selections_url: str = "http://127.0.0.1:8004"
    search_url: str = "http://127.0.0.1:8005"
    automation_url: str = "http://127.0.0.1:8006"
    call_timeout: float = 2.0
    """Seconds a card waits for one service before it leaves that part out."""
    card_cache_seconds: int = 300
    fact_settle_seconds: float = 2.0
    """Seconds after a donation or registration event at which its card part is dropped once
    more: the part is read from the lists read model, which applies the same event in its own
    consumer, so a card read in between would keep the old part until it expires."""
    recent_items: int = 20
    activity_retention_days: int = 90
    """Days the "recently edited" feed keeps a change (the relation's history keeps it all)."""
    activity_prune_seconds: float = 3600.0
    max_mail_bytes: int = 10 * 1024 * 1024
    """The largest raw e-mail POST /mail/messages takes (413 above it); the contact moments
    service allows as much."""
    mail_timeout: float = 15.0
    """Seconds the contact moments service may take to ingest one e-mail."""

    @model_validator(mode="after")
    def _no_published_jwt_secret(self) -> GatewaySettings:
        refuse_published("jwt_secret", self.jwt_secret, self.allow_test_secrets)
        return self


@lru_cache
def get_settings() -> GatewaySettings:
    return GatewaySettings()
