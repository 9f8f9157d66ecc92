"""Custom field definitions for the catalogue, read from the relations service (which owns
them) and cached briefly. Evaluation does not need them: custom values are compared by their
JSON type."""

from __future__ import annotations

import time

import httpx

from relata_common.logging import get_logger
from relata_common.web import INTERNAL_TOKEN_HEADER
from relata_lists.catalogue import FieldSpec, custom_field

log = get_logger(__name__)


class CustomFieldSource:
    def __init__(self, client: httpx.AsyncClient, base_url: str, token: str, ttl: float = 30.0):
        self.client = client
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.ttl = ttl
        self._fields: dict[str, FieldSpec] = {}
        self._fetched_at = 0.0
        self.available = False

    async def get(self) -> dict[str, FieldSpec]:
        if time.monotonic() - self._fetched_at < self.ttl:
            return self._fields
        try:
            response = await self.client.get(
                f"{self.base_url}/custom-fields",
                headers={INTERNAL_TOKEN_HEADER: self.token},
                timeout=2.0,
            )
            response.raise_for_status()
            self._fields = {
                f"custom.{d['key']}": custom_field(
                    d["key"], d["label"], d["type"], d.get("choices")
                )
                for d in response.json()
            }
            self.available = True
        except (httpx.HTTPError, ValueError, KeyError) as error:
            log.warning("custom field definitions unavailable", error=repr(error))
            self.available = False
        self._fetched_at = time.monotonic()
        return self._fields
