from __future__ import annotations

from functools import lru_cache

from relata_common.settings import CommonSettings


class RelationsSettings(CommonSettings):
    service_name: str = "relations"
    database_name: str = "relata_relations"
    import_chunk_size: int = 2500
    """Import rows written per transaction. Measured on 2 cores (bench/relations_bench.py):
    1,000 gave 4,870 rows/s, 2,500 gave 6,060 to 6,120 and 5,000 gave 5,470."""
    import_max_line_bytes: int = 64 * 1024


@lru_cache
def get_settings() -> RelationsSettings:
    return RelationsSettings()
