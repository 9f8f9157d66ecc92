"""Custom field definitions for the catalogue, read from the relations service (which owns
them) and cached briefly. Evaluation does not need them: custom values are compared by their
JSON type."""

from __future__ import annotations

import time

from relata_common.client import InternalClient
from relata_common.errors import DomainError
from relata_common.fields import FieldSpec, custom_field
from relata_common.logging import get_logger

log = get_logger(__name__)


class CustomFieldSource:
    def __init__(self, client: InternalClient, ttl: float = 30.0) -> None:
        self.client = client
        self.ttl = ttl
        self._fields: dict[str, FieldSpec] = {}
        self._fetched_at = 0.0
        self.available = False

    async def get(self) -> dict[str, FieldSpec]:
        if time.monotonic() - self._fetched_at < self.ttl:
            return self._fields
        try:
            answer = await self.client.call("relations", "GET", "/custom-fields")
            self._fields = {
                f"custom.{d['key']}": custom_field(
                    d["key"], d["label"], d["type"], d.get("choices")
                )
                for d in answer.body
            }
            self.available = True
        # Unavailable (503) or refused (4xx): the catalogue goes on without custom fields.
        except (DomainError, ValueError, KeyError) as error:
            log.warning("custom field definitions unavailable", error=repr(error))
            self.available = False
        self._fetched_at = time.monotonic()
        return self._fields
