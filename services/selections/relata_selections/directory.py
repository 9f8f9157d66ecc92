"""The relations service as the directory of relations: checks hand-added ids and reads the
fields an export asks for (``POST /relations/lookup``, at most 1000 ids a call)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from relata_common.client import LOOKUP_MAX, InternalClient
from relata_common.errors import FieldError, InvalidInput

__all__ = ["LOOKUP_MAX", "RelationsDirectory"]


class RelationsDirectory:
    def __init__(self, client: InternalClient) -> None:
        self.client = client

    async def lookup(self, ids: Sequence[uuid.UUID]) -> list[dict[str, Any]]:
        """The states of up to ``LOOKUP_MAX`` relations (one call); unknown ids are left out."""
        if len(ids) > LOOKUP_MAX:
            raise ValueError(f"look up at most {LOOKUP_MAX} relations at once")
        return await self.client.lookup_relations(ids)

    async def lookup_many(
        self, ids: Sequence[uuid.UUID], *, concurrency: int = 4
    ) -> list[dict[str, Any]]:
        return await self.client.lookup_relations(ids, concurrency=concurrency)

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
