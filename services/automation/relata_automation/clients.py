"""The services automation changes things through: every change goes through the owning
service's API (and so its history, validation and events), never around it."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from relata_common.errors import ServiceUnavailable
from relata_common.events import Actor
from relata_common.logging import get_logger
from relata_common.web import INTERNAL_TOKEN_HEADER

log = get_logger(__name__)

SERVICES = ("relations", "lists", "selections", "contactmoments")
LOOKUP_MAX = 1000


@dataclass
class Answer:
    """A service's answer: status, JSON body and ETag version (if any)."""

    status: int
    body: Any
    version: int | None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def error(self) -> str:
        detail = self.body.get("detail") if isinstance(self.body, dict) else self.body
        return f"{self.status}: {detail}"


class Services:
    """One shared HTTP client per service, with the internal token and the actor's headers."""

    def __init__(
        self, clients: Mapping[str, httpx.AsyncClient], urls: Mapping[str, str], token: str
    ) -> None:
        self.clients = clients
        self.urls = {name: url.rstrip("/") for name, url in urls.items()}
        self.token = token

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
        headers = {INTERNAL_TOKEN_HEADER: self.token}
        if actor is not None:
            headers["X-Actor-Kind"] = actor.kind.value
            if actor.id:
                headers["X-Actor-Id"] = actor.id
        if if_match is not None:
            headers["If-Match"] = f'"{if_match}"'
        content = None
        if json is not None:
            content = orjson.dumps(json)
            headers["Content-Type"] = "application/json"
        try:
            response = await self.clients[service].request(
                method,
                f"{self.urls[service]}{path}",
                content=content,
                headers=headers,
                params=params,
            )
        except httpx.HTTPError as error:
            log.warning("service unreachable", service=service, error=repr(error))
            raise ServiceUnavailable(f"the {service} service does not answer") from None
        if response.status_code >= 500:
            raise ServiceUnavailable(f"the {service} service answered {response.status_code}")
        body = orjson.loads(response.content) if response.content else None
        tag = response.headers.get("ETag", "").strip('"')
        return Answer(response.status_code, body, int(tag) if tag.isdigit() else None)

    # --- relations ----------------------------------------------------------------------------

    async def relation(self, relation_id: uuid.UUID) -> Answer:
        return await self.call("relations", "GET", f"/relations/{relation_id}")

    async def lookup(self, ids: list[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
        """Relation states by id, 1000 a call; unknown ids are left out."""
        found: dict[uuid.UUID, dict[str, Any]] = {}
        for start in range(0, len(ids), LOOKUP_MAX):
            chunk = [str(i) for i in ids[start : start + LOOKUP_MAX]]
            answer = await self.call("relations", "POST", "/relations/lookup", json={"ids": chunk})
            if not answer.ok:
                raise ServiceUnavailable(f"relations lookup failed: {answer.error()}")
            found |= {uuid.UUID(state["relation_id"]): state for state in answer.body}
        return found

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

    async def list_member_ids(self, list_id: uuid.UUID) -> list[uuid.UUID]:
        answer = await self.call(
            "lists",
            "POST",
            "/evaluate/ids",
            json={"filter": {"kind": "in_list", "list_id": str(list_id)}},
        )
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
    urls: Mapping[str, str],
    token: str,
    *,
    timeout: float,
    transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
) -> AsyncIterator[Services]:
    """Clients for every service (in tests, ``transports`` reach in-process services)."""
    transports = transports or {}
    async with contextlib.AsyncExitStack() as stack:
        clients = {
            name: await stack.enter_async_context(
                httpx.AsyncClient(transport=transports.get(name), timeout=timeout)
            )
            for name in SERVICES
        }
        yield Services(clients, urls, token)
