from __future__ import annotations

from functools import lru_cache

from relata_common.settings import CommonSettings


class RelationsSettings(CommonSettings):
    service_name: str = "relations"
    database_name: str = "relata_relations"
    import_chunk_size: int = 1000
    import_max_line_bytes: int = 64 * 1024


@lru_cache
def get_settings() -> RelationsSettings:
    return RelationsSettings()
