from __future__ import annotations

from functools import lru_cache

from relata_common.filters import MAX_FILTER_DEPTH, MAX_FILTER_NODES
from relata_common.settings import CommonSettings


class ListsSettings(CommonSettings):
    service_name: str = "lists"
    database_name: str = "relata_lists"
    browse_threshold: int = 10_000
    """A list or ad-hoc filter with more members than this shows its count, not its rows."""
    max_filter_depth: int = MAX_FILTER_DEPTH
    max_filter_nodes: int = MAX_FILTER_NODES
    relations_url: str = "http://127.0.0.1:8001"
    """Where the relations service answers, for custom field definitions in the catalogue."""


@lru_cache
def get_settings() -> ListsSettings:
    return ListsSettings()
