from __future__ import annotations

from functools import lru_cache

from relata_common.settings import CommonSettings


class AutomationSettings(CommonSettings):
    service_name: str = "automation"
    database_name: str = "relata_automation"
    consumer_group: str = "automation"
    relations_url: str = "http://127.0.0.1:8001"
    contactmoments_url: str = "http://127.0.0.1:8002"
    lists_url: str = "http://127.0.0.1:8003"
    selections_url: str = "http://127.0.0.1:8004"
    service_timeout: float = 30.0
    min_stars: int = 2
    """Pairs scoring fewer stars are not proposed for review."""
    max_block: int = 50
    """A blocking key shared by more relations than this (an office phone, a common name on a
    common birthday) is not used to find candidates: it would compare too many unrelated pairs."""
    max_candidates: int = 200
    """At most this many candidates are scored for one changed relation."""
    executor_interval: float = 0.5
    """Seconds between looks for pending automatic merges and rule runs."""


@lru_cache
def get_settings() -> AutomationSettings:
    return AutomationSettings()
