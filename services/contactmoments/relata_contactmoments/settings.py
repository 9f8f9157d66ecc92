from __future__ import annotations

from functools import lru_cache

from relata_common.settings import CommonSettings


class ContactMomentsSettings(CommonSettings):
    service_name: str = "contactmoments"
    database_name: str = "relata_contactmoments"
    consumer_group: str = "contactmoments"
    max_email_bytes: int = 10 * 1024 * 1024


@lru_cache
def get_settings() -> ContactMomentsSettings:
    return ContactMomentsSettings()
