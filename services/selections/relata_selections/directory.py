"""The relations service as the directory of relations: checks hand-added ids and reads the
fields an export asks for (``POST /relations/lookup``, at most 1000 ids a call)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any

import httpx
import orjson

from relata_common.errors import FieldError, InvalidInput
from relata_common.logging import get_logger
from relata_common.web import INTERNAL_TOKEN_HEADER
from relata_selections.sources import ServiceUnavailable

log = get_logger(__name__)

LOOKUP_MAX = 1000


class RelationsDirectory:
    def __init__(
        self, client: httpx.AsyncClient, base_url: str, token: str, timeout: float = 30.0
    ) -> None:
        self.client = client
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    async def lookup(self, ids: Sequence[uuid.UUID]) -> list[dict[str, Any]]:
        """The states of up to 1000 relations; unknown ids are left out."""
        if not ids:
            return []
        if len(ids) > LOOKUP_MAX:
            raise ValueError(f"look up at most {LOOKUP_MAX} relations at once")
        try:
            response = await self.client.post(
                f"{self.base_url}/relations/lookup",
                content=orjson.dumps({"ids": [str(i) for i in ids]}),
                headers={INTERNAL_TOKEN_HEADER: self.token, "Content-Type": "application/json"},
                timeout=self.timeout,
            )
        except httpx.HTTPError as error:
            log.warning("relations service unreachable", error=repr(error))
            raise ServiceUnavailable("the relations service does not answer") from None
        if response.status_code != 200:
            log.warning("relations lookup failed", status=response.status_code)
            raise ServiceUnavailable(f"the relations service answered {response.status_code}")
        return orjson.loads(response.content)

    async def lookup_many(
        self, ids: Sequence[uuid.UUID], *, concurrency: int = 4
    ) -> list[dict[str, Any]]:
        limit = asyncio.Semaphore(concurrency)

        async def one(chunk: Sequence[uuid.UUID]) -> list[dict[str, Any]]:
            async with limit:
                return await self.lookup(chunk)

        chunks = [ids[i : i + LOOKUP_MAX] for i in range(0, len(ids), LOOKUP_MAX)]
        found = await asyncio.gather(*(one(c) for c in chunks))
        return [state for part in found for state in part]

    async def check_active(
        self, ids: Sequence[uuid.UUID], loc: tuple[str | int, ...] = ("body", "relation_ids")
    ) -> None:
        """Refuse (422, naming each) ids that are unknown, merged or erased."""
        states = {uuid.UUID(s["relation_id"]): s for s in await self.lookup_many(ids)}
        errors = []
        for index, relation_id in enumerate(ids):
            state = states.get(relation_id)
            if state is None:
                errors.append(FieldError((*loc, index), f"relation {relation_id} not found"))
            elif state.get("status") == "merged":
                errors.append(
                    FieldError(
                        (*loc, index),
                        f"relation {relation_id} was merged into {state.get('merged_into')}: "
                        "use that one",
                    )
                )
            elif state.get("status") not in (None, "active"):
                errors.append(FieldError((*loc, index), f"relation {relation_id} was erased"))
        if errors:
            raise InvalidInput(errors)
