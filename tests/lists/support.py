"""Helpers for the lists tests: lists, evaluation, and facts as other modules publish them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import httpx

from relata_common.events import (
    CONTACTMOMENTS_TOPIC,
    DONATIONS_TOPIC,
    LIST_MEMBERSHIP_TOPIC,
    REGISTRATIONS_TOPIC,
    Envelope,
)
from tests.helpers import envelopes, eventually, read_topic


def field(name: str, op: str, value: Any = None) -> dict[str, Any]:
    return {"kind": "field", "field": name, "op": op, "value": value}


def period(amount: int, unit: str = "days") -> dict[str, Any]:
    return {"amount": amount, "unit": unit}


async def matching(lists_api: httpx.AsyncClient, node: dict[str, Any]) -> set[str]:
    """The ids of every relation matching a filter now (ad-hoc, full evaluation)."""
    response = await lists_api.post("/evaluate/ids", json={"filter": node})
    assert response.status_code == 200, response.text
    return {str(i) for i in response.json()["relation_ids"]}


async def known(lists_api: httpx.AsyncClient, *relations: dict[str, Any]) -> None:
    """Wait until the read model holds these relations at their current versions."""
    ids = {r["relation_id"] for r in relations}
    numbers = [r["relation_number"] for r in relations]

    async def there() -> bool:
        return await matching(lists_api, field("relation_number", "in", numbers)) >= ids

    await eventually(there, timeout=60.0)


async def new_list(lists_api: httpx.AsyncClient, node: dict[str, Any], name: str = "L") -> str:
    response = await lists_api.post("/lists", json={"name": name, "filter": node})
    assert response.status_code == 201, response.text
    return response.json()["list_id"]


async def in_list(lists_api: httpx.AsyncClient, list_id: str, among: set[str]) -> set[str]:
    """Which of these relations are in the list now (asked per relation, so a list too large
    to browse, with other tests' relations in it, does not matter)."""
    found = set()
    for relation_id in among:
        response = await lists_api.get(f"/relations/{relation_id}/lists")
        if list_id in {item["list_id"] for item in response.json()}:
            found.add(relation_id)
    return found


async def wait_members(
    lists_api: httpx.AsyncClient, list_id: str, expected: set[str], among: set[str]
) -> None:
    """Wait until the members of the list among these relations are ``expected``."""

    async def settled() -> bool:
        return await in_list(lists_api, list_id, among) == expected

    try:
        await eventually(settled, timeout=60.0)
    except TimeoutError:
        held = await in_list(lists_api, list_id, among)
        raise AssertionError(f"members {held}, expected {expected}") from None


@dataclass
class Scope:
    """Evaluation and membership restricted to a test's own relations (the read model also
    holds relations other tests published on the shared topics)."""

    api: httpx.AsyncClient
    mine: set[str]

    async def matching(self, node: dict[str, Any]) -> set[str]:
        return await matching(self.api, node) & self.mine

    async def wait(self, list_id: str, expected: set[str]) -> None:
        await wait_members(self.api, list_id, expected, self.mine)


def contact_moment(
    relation_ids: list[str],
    *,
    kind: str = "phone",
    occurred_at: datetime | None = None,
    moment_id: uuid.UUID | None = None,
    version: int = 1,
    deleted: bool = False,
    event: str = "contactmoment.logged",
) -> Envelope:
    moment_id = moment_id or uuid.uuid4()
    state = {
        "contact_moment_id": str(moment_id),
        "version": version,
        "kind": kind,
        "direction": "out",
        "subject": "a call",
        "occurred_at": (occurred_at or datetime.now(UTC)).isoformat(),
        "relation_ids": relation_ids,
        "deleted": deleted,
    }
    return Envelope(
        type=event,
        producer="contactmoments",
        subject_id=str(moment_id),
        subject_version=version,
        payload={"state": state},
    )


def donation(relation_id: str, amount: str, received_on: date) -> Envelope:
    payload = {
        "donation_id": str(uuid.uuid4()),
        "relation_id": relation_id,
        "amount": amount,
        "received_on": received_on.isoformat(),
    }
    return Envelope(
        type="donation.received", producer="donations", subject_id=relation_id, payload=payload
    )


def registration(
    relation_id: str, event_code: str, registration_id: uuid.UUID, cancelled: bool = False
) -> Envelope:
    payload = {
        "registration_id": str(registration_id),
        "relation_id": relation_id,
        "event_code": event_code,
        "status": "cancelled" if cancelled else "registered",
    }
    kind = "registration.cancelled" if cancelled else "registration.created"
    return Envelope(type=kind, producer="events", subject_id=relation_id, payload=payload)


async def membership_events(
    bootstrap: str, relation_ids: set[str], *, at_least: int
) -> list[Envelope]:
    """Entered/left events about these relations on crm.lists.membership."""

    def mine(records: list[Any]) -> list[Envelope]:
        return [e for e in envelopes(records) if e.subject_id in relation_ids]

    records = await read_topic(
        bootstrap, LIST_MEMBERSHIP_TOPIC, until=lambda rs: len(mine(rs)) >= at_least
    )
    return mine(records)


__all__ = ["CONTACTMOMENTS_TOPIC", "DONATIONS_TOPIC", "REGISTRATIONS_TOPIC"]
