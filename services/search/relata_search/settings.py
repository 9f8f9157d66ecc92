"""The search service's settings (``CRM_``-prefixed environment variables, like every service)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field

from relata_common.events import LIST_MEMBERSHIP_TOPIC, RELATIONS_TOPIC
from relata_common.settings import CommonSettings


class SearchSettings(CommonSettings):
    service_name: str = "search"
    database_name: str = "relata_search"
    index_dir: Path = Field(
        default=Path("var/search-index"),
        description="This process's own tantivy index directory (one writer per directory).",
    )
    relations_topic: str = RELATIONS_TOPIC
    membership_topic: str = LIST_MEMBERSHIP_TOPIC
    consumer_group: str = Field(
        default="search", description="Prefix of the consumer group; a rebuild adds a generation."
    )
    run_consumers: bool = Field(
        default=True, description="Also consume the topics in this process (`serve`)."
    )
    index_writer_heap_mb: int = 128
    # Low fetch waits keep change-to-searchable short: Tansu holds a fetch for the full wait.
    consumer_fetch_max_wait_ms: int = 20
    consumer_batch_timeout_ms: int = 20
    follow_poll_seconds: float = 1.0
    search_max_limit: int = 50
    search_threads: int = Field(
        default=2, description="Threads running searches (tantivy releases the GIL meanwhile)."
    )


@lru_cache
def get_settings() -> SearchSettings:
    return SearchSettings()
