"""One request, one correlation id, in the log of every service it touched.

The services run in-process here, so they share one log; a transport wrapper binds ``hop`` (the
service's name) in the log context while a service handles a call, as each process's own
``service`` field does in production. Each service logs a line per request handled
(``CRM_LOG_REQUESTS``).
"""

from __future__ import annotations

import io
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest
import structlog
from structlog.contextvars import bound_contextvars

from relata_common.logging import REQUESTS_LOGGER, configure_logging, correlation_id_var
from relata_gateway import cache
from tests.automation.conftest import (  # noqa: F401 - the automation service's fixtures
    automation_api,
    automation_database,
    automation_settings,
)
from tests.gateway.conftest import INTERNAL, Admin, Switchable
from tests.helpers import eventually
from tests.relations.fixtures import create, person
from tests.selections.conftest import (  # noqa: F401 - the selections service's fixtures
    selections_api,
    selections_database,
    selections_settings,
)

PERSONS = {"kind": "field", "field": "relation_type", "op": "equals", "value": "person"}
FORM = [{"name": "P", "fields": ["last_name", "lists", "contact_moments", "properties"]}]


class Tagged(httpx.AsyncBaseTransport):
    """A service's in-process transport that binds ``hop`` in the log context for each call
    (the app runs inside the call, so its log lines carry it)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, hop: str) -> None:
        self.inner = inner
        self.hop = hop

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        with bound_contextvars(hop=self.hop):
            return await self.inner.handle_async_request(request)


def _tagged(client: httpx.AsyncClient, hop: str) -> httpx.AsyncClient:
    """The client's service, tagged (the client's own log lines are not the service's)."""
    return httpx.AsyncClient(
        transport=Tagged(client._transport, hop), base_url=client.base_url, headers=client.headers
    )


@dataclass
class Log:
    stream: io.StringIO

    def ids_by_hop(self) -> dict[str, set[str]]:
        """The correlation ids each service logged since the last call, by service."""
        found: dict[str, set[str]] = {}
        for line in self.stream.getvalue().splitlines():
            try:
                entry = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if "hop" in entry:
                found.setdefault(entry["hop"], set()).add(entry.get("correlation_id"))
        self.stream.seek(0)
        self.stream.truncate()
        return found


@pytest.fixture
def log() -> Iterator[Log]:
    """The processes' JSON log, with a line per request, into a buffer (restored after)."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    configure_logging("test", json=True, requests=True)
    stream = io.StringIO()
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)  # what configure_logging installs
    handler.setStream(stream)
    try:
        yield Log(stream)
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        logging.getLogger(REQUESTS_LOGGER).setLevel(logging.NOTSET)
        structlog.reset_defaults()


@pytest.fixture
def extra_services(automation_api: httpx.AsyncClient) -> dict[str, httpx.AsyncClient]:  # noqa: F811
    return {"automation": automation_api}


@pytest.fixture
def automation_transports(
    relations_api: httpx.AsyncClient,
    selections_api: httpx.AsyncClient,  # noqa: F811
) -> dict[str, Any]:
    return {
        "relations": Tagged(relations_api._transport, "relations"),
        "selections": Tagged(selections_api._transport, "selections"),
    }


@pytest.fixture
def selections_transports(
    relations_api: httpx.AsyncClient, lists_api: httpx.AsyncClient
) -> dict[str, httpx.AsyncBaseTransport]:
    return {
        "relations": Tagged(relations_api._transport, "relations"),
        "lists": Tagged(lists_api._transport, "lists"),
    }


async def test_a_card_leaves_its_correlation_id_in_every_service_it_touched(
    gateway: httpx.AsyncClient,
    admin: Admin,
    relations_api: httpx.AsyncClient,
    transports: dict[str, Switchable],
    redis_client: Any,
    log: Log,
):
    """A card is read from the relations, lists, contact moments and automation services:
    each logs the gateway request's correlation id. Fails when the internal client stops
    sending X-Correlation-ID (tried: each service then logs an id of its own, as the direct
    call below shows it would)."""
    view = await admin.view("People", PERSONS, FORM)
    staff = await admin.user("cora")
    await admin.grant(staff, view)
    jan = await create(relations_api, person("Correlated"))
    url = f"/views/{view['view_id']}/relations/{jan['relation_id']}"

    async def shown() -> bool:
        return (await gateway.get(url, headers=staff)).status_code == 200

    await eventually(shown)
    await cache.invalidate(redis_client, jan["relation_id"])  # every part read again
    for name, transport in transports.items():
        transport.inner = Tagged(transport.inner, name)
    log.ids_by_hop()

    correlation = f"card-{uuid.uuid4()}"
    async with _tagged(gateway, "gateway") as tagged:
        card = await tagged.get(url, headers={**staff, "X-Correlation-ID": correlation})
    assert card.status_code == 200, card.text
    assert card.headers["X-Correlation-ID"] == correlation
    assert not card.json()["unavailable"]
    seen = log.ids_by_hop()
    assert set(seen) == {"gateway", "relations", "lists", "contactmoments", "automation"}
    assert all(ids == {correlation} for ids in seen.values()), seen

    # The same call without the header, in a context that has the id: the service logs
    # another one (the id reaches a service only through the header).
    marker = correlation_id_var.set(correlation)
    try:
        async with httpx.AsyncClient(
            transport=transports["relations"], base_url="http://relations", headers=INTERNAL
        ) as bare:
            assert (await bare.get(f"/relations/{jan['relation_id']}")).status_code == 200
    finally:
        correlation_id_var.reset(marker)
    (other,) = log.ids_by_hop()["relations"]
    assert other != correlation


async def test_selections_and_automation_pass_the_id_on(
    relations_api: httpx.AsyncClient,
    selections_api: httpx.AsyncClient,  # noqa: F811
    automation_api: httpx.AsyncClient,  # noqa: F811
    log: Log,
):
    """Selections → relations and lists, automation → selections and relations: each hop
    logs the id of the call that caused it."""
    people = [await create(relations_api, person(f"Hop{i}")) for i in range(2)]

    async def called(entry: str, client: httpx.AsyncClient, path: str, body: dict) -> Any:
        correlation = f"{entry}-{uuid.uuid4()}"
        log.ids_by_hop()
        async with _tagged(client, entry) as tagged:
            answer = await tagged.post(path, json=body, headers={"X-Correlation-ID": correlation})
        assert answer.status_code in (200, 201), answer.text
        seen = log.ids_by_hop()
        assert all(ids == {correlation} for ids in seen.values()), seen
        return answer.json(), set(seen)

    manual = {"kind": "manual", "relation_ids": [p["relation_id"] for p in people]}
    made, hops = await called(
        "selections", selections_api, "/selections", {"name": "Hops", "source": manual}
    )
    assert hops == {"selections", "relations"}
    hop0 = {"kind": "field", "field": "last_name", "op": "equals", "value": "Hop0"}
    _, hops = await called(
        "selections",
        selections_api,
        "/selections",
        {"name": "Hop0", "source": {"kind": "filter", "filter": hop0}},
    )
    assert hops == {"selections", "lists"}
    bulk = {
        "source": {"kind": "selection", "id": made["selection_id"]},
        "change": {"kind": "set_field", "field": "salutation", "value": "Beste"},
    }
    _, hops = await called("automation", automation_api, "/bulk-edits", bulk)
    assert hops == {"automation", "selections", "relations"}
