from __future__ import annotations

from functools import lru_cache

from relata_common.settings import CommonSettings


class SelectionsSettings(CommonSettings):
    service_name: str = "selections"
    database_name: str = "relata_selections"
    consumer_group: str = "selections"
    lists_url: str = "http://127.0.0.1:8003"
    """Where the lists service answers: it evaluates lists and filters into relation ids."""
    relations_url: str = "http://127.0.0.1:8001"
    """Where the relations service answers: hand-added ids are checked and exports read there."""
    lists_timeout: float = 60.0
    """Seconds to wait for the lists service to evaluate a large list."""
    relations_timeout: float = 30.0
    export_concurrency: int = 4
    """How many POST /relations/lookup calls of one export run at once."""
    daily_refresh_interval: float = 60.0
    """Seconds between looks for selections due for their daily refresh."""
    event_id_cap: int = 1000
    """At most this many added and removed ids ride along in one event; counts are exact."""


@lru_cache
def get_settings() -> SelectionsSettings:
    return SelectionsSettings()
