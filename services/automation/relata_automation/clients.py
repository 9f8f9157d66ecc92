"""The services automation changes things through: every change goes through the owning
service's API (and so its history, validation and events), never around it."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx

from relata_automation.settings import AutomationSettings
from relata_common.client import Answer, InternalClient
from relata_common.errors import ServiceUnavailable
from relata_common.events import Actor

SERVICES = ("relations", "lists", "selections", "contactmoments")

__all__ = ["Answer", "Services", "open_services"]


class Services:
    """The services automation works through, over the process's one internal client. A
    refusal (4xx) is an answer here: the caller decides what it means for its job."""

    def __init__(self, client: InternalClient) -> None:
        self.client = client

    async def call(
        self,
        service: str,
        method: str,
        path: str,
        *,
        json: Any = None,
        actor: Actor | None = None,
        if_match: int | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> Answer:
        return await self.client.call(
            service,
            method,
            path,
            json=json,
            actor=actor,
            if_match=if_match,
            params=params,
            refusals="return",
        )

    # --- relations ----------------------------------------------------------------------------

    async def relation(self, relation_id: uuid.UUID) -> Answer:
        return await self.call("relations", "GET", f"/relations/{relation_id}")

    async def lookup(self, ids: list[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
        """Relation states by id; unknown ids are left out."""
        states = await self.client.lookup_relations(ids)
        return {uuid.UUID(state["relation_id"]): state for state in states}

    async def patch_relation(
        self, relation_id: uuid.UUID, fields: dict[str, Any], *, version: int, actor: Actor
    ) -> Answer:
        return await self.call(
            "relations",
            "PATCH",
            f"/relations/{relation_id}",
            json={"fields": fields},
            if_match=version,
            actor=actor,
        )

    async def set_archived(
        self, relation_id: uuid.UUID, archived: bool, *, version: int, actor: Actor
    ) -> Answer:
        action = "archive" if archived else "unarchive"
        return await self.call(
            "relations",
            "POST",
            f"/relations/{relation_id}/{action}",
            if_match=version,
            actor=actor,
        )

    # --- lists and selections -----------------------------------------------------------------

    async def list_member_ids(
        self, list_id: uuid.UUID, *, within: uuid.UUID | None = None
    ) -> list[uuid.UUID]:
        """The members of a list (only those also in ``within``, when given)."""
        node: dict[str, Any] = {"kind": "in_list", "list_id": str(list_id)}
        if within is not None:
            node = {"all": [node, {"kind": "in_list", "list_id": str(within)}]}
        answer = await self.call("lists", "POST", "/evaluate/ids", json={"filter": node})
        if not answer.ok:
            raise ServiceUnavailable(f"the lists service refused: {answer.error()}")
        return [uuid.UUID(i) for i in answer.body["relation_ids"]]

    async def selection_member_ids(self, selection_id: uuid.UUID) -> list[uuid.UUID] | None:
        """Every member of a selection, or None when there is no such selection."""
        ids: list[uuid.UUID] = []
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 1000}
            if cursor:
                params["cursor"] = cursor
            answer = await self.call(
                "selections", "GET", f"/selections/{selection_id}/members", params=params
            )
            if answer.status == 404:
                return None
            if not answer.ok:
                raise ServiceUnavailable(f"the selections service refused: {answer.error()}")
            ids += [uuid.UUID(m["relation_id"]) for m in answer.body["members"]]
            cursor = answer.body.get("next_cursor")
            if not cursor:
                return ids


@contextlib.asynccontextmanager
async def open_services(
    settings: AutomationSettings,
    transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
) -> AsyncIterator[Services]:
    """The services, for as long as the process needs them (in tests, ``transports`` reach
    in-process services)."""
    async with InternalClient.from_settings(
        settings, SERVICES, timeout=settings.service_timeout, transports=transports
    ) as client:
        yield Services(client)
