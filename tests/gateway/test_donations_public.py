"""What a relation did elsewhere, through the gateway alone: donations and event registrations
published onto Kafka as the donations and events modules publish them, read on the card and on
their paged endpoints."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import httpx

from relata_common.events import DONATIONS_TOPIC, REGISTRATIONS_TOPIC
from relata_common.publishing import Publisher
from relata_gateway.app import create_api
from tests.gateway.conftest import Admin
from tests.gateway.public import create_relation
from tests.helpers import eventually
from tests.lists.conftest import Platform

PERSONS = {"kind": "field", "field": "relation_type", "op": "equals", "value": "person"}
DONOR_FORM = [
    {"name": "Person", "fields": ["first_name", "last_name", "organisation_name"]},
    {"name": "Donations", "fields": ["donations", "registrations"]},
]
PLAIN_FORM = [{"name": "Person", "fields": ["first_name", "last_name"]}]
DONATIONS = Publisher.for_module("donations")
EVENTS = Publisher.for_module("events")


async def donate(
    platform: Platform,
    relation_id: str,
    amount: str,
    received_on: date,
    currency: str = "EUR",
    campaign: str | None = None,
) -> str:
    donation_id = str(uuid.uuid4())
    payload = {
        "donation_id": donation_id,
        "relation_id": relation_id,
        "amount": amount,
        "currency": currency,
        "received_on": received_on.isoformat(),
        "campaign": campaign,
    }
    envelope = DONATIONS.envelope("donation.received", relation_id, payload)
    await platform.publish(DONATIONS_TOPIC, envelope)
    return donation_id


async def register(
    platform: Platform,
    relation_id: str,
    event_code: str,
    event_date: date,
    registration_id: uuid.UUID | None = None,
    cancelled: bool = False,
) -> uuid.UUID:
    registration_id = registration_id or uuid.uuid4()
    payload = {
        "registration_id": str(registration_id),
        "relation_id": relation_id,
        "event_code": event_code,
        "event_date": event_date.isoformat(),
        "status": "cancelled" if cancelled else "registered",
    }
    kind = "registration.cancelled" if cancelled else "registration.created"
    await platform.publish(REGISTRATIONS_TOPIC, EVENTS.envelope(kind, relation_id, payload))
    return registration_id


async def card_of(
    gateway: httpx.AsyncClient, headers: dict[str, str], view: dict, relation_id: str
) -> dict[str, Any]:
    response = await gateway.get(
        f"/views/{view['view_id']}/relations/{relation_id}", headers=headers
    )
    assert response.status_code == 200, response.text
    return response.json()


async def until_card(
    gateway: httpx.AsyncClient, headers: dict[str, str], view: dict, relation_id: str, check
) -> dict[str, Any]:
    """The card once ``check(card)`` holds (events reach the read model within moments)."""
    seen: dict[str, Any] = {}

    async def holds() -> bool:
        seen["card"] = await card_of(gateway, headers, view, relation_id)
        return bool(check(seen["card"]))

    await eventually(holds)
    return seen["card"]


async def test_donations_and_registrations_on_the_card_and_paged(
    gateway: httpx.AsyncClient, admin: Admin, platform: Platform
):
    """Catches: the card leaving out the donation summary or the registrations although the
    form shows them, wrong totals or first/last gift, pages that repeat or skip donations, a
    page order other than newest first, and a cancellation not showing on its event."""
    view = await admin.view("Donors", PERSONS, DONOR_FORM)
    dora = await admin.user("dora")
    await admin.grant(dora, view, can_edit=True)
    relation_id = (await create_relation(gateway, dora, view, first_name="Dora", last_name="Gift"))[
        "relation_id"
    ]
    gifts = [
        ("25.00", date(2024, 12, 20), "EUR", "Christmas appeal"),
        ("10.00", date(2025, 3, 1), "EUR", None),
        ("40.00", date(2025, 6, 14), "USD", "Summer fair"),
        ("15.50", date(2026, 1, 5), "EUR", None),
        ("35.00", date(2026, 11, 2), "EUR", "Christmas appeal"),
    ]
    for amount, day, currency, campaign in gifts:
        await donate(platform, relation_id, amount, day, currency, campaign)
    gala = await register(platform, relation_id, "GALA-2026", date(2026, 12, 12))
    walk = await register(platform, relation_id, "WALK-2025", date(2025, 9, 1))
    await register(platform, relation_id, "WALK-2025", date(2025, 9, 1), walk, cancelled=True)

    card = await until_card(
        gateway,
        dora,
        view,
        relation_id,
        lambda c: (
            c["donations"]["count"] == 5
            and len(c["registrations"]) == 2
            and c["registrations"][1]["registrations"][0]["status"] == "cancelled"
        ),
    )
    assert card["donations"]["total"] == [
        {"currency": "EUR", "amount": "85.50", "count": 4},
        {"currency": "USD", "amount": "40.00", "count": 1},
    ]
    assert card["donations"]["first_gift"] == {
        "received_on": "2024-12-20",
        "amount": "25.00",
        "currency": "EUR",
    }
    assert card["donations"]["last_gift"]["received_on"] == "2026-11-02"
    gala_event, walk_event = card["registrations"]
    assert gala_event["event_code"] == "GALA-2026" and gala_event["event_date"] == "2026-12-12"
    assert gala_event["registrations"][0]["registration_id"] == str(gala)
    assert gala_event["registrations"][0]["status"] == "registered"
    assert gala_event["registrations"][0]["registered_at"] is not None
    assert walk_event["event_code"] == "WALK-2025"
    assert walk_event["registrations"][0]["registered_at"] is not None  # kept on cancelling

    url = f"/views/{view['view_id']}/relations/{relation_id}/donations"
    pages, after = [], None
    while True:
        params = {"limit": 2} | ({"after": after} if after else {})
        response = await gateway.get(url, params=params, headers=dora)
        assert response.status_code == 200, response.text
        pages.append(response.json()["donations"])
        after = response.json()["next"]
        if after is None:
            break
    assert [len(p) for p in pages] == [2, 2, 1]
    days = [d["received_on"] for p in pages for d in p]
    assert days == sorted((g[1].isoformat() for g in gifts), reverse=True)
    assert pages[0][0]["campaign"] == "Christmas appeal" and pages[0][0]["amount"] == "35.00"
    assert pages[1][0]["currency"] == "USD" and pages[1][0]["campaign"] == "Summer fair"

    events = await gateway.get(
        f"/views/{view['view_id']}/relations/{relation_id}/registrations",
        params={"limit": 1},
        headers=dora,
    )
    assert events.status_code == 200, events.text
    assert [e["event_code"] for e in events.json()["events"]] == ["GALA-2026"]
    rest = await gateway.get(
        f"/views/{view['view_id']}/relations/{relation_id}/registrations",
        params={"after": events.json()["next"]},
        headers=dora,
    )
    assert [e["event_code"] for e in rest.json()["events"]] == ["WALK-2025"]
    assert rest.json()["next"] is None

    bad = await gateway.get(url, params={"after": "yesterday"}, headers=dora)
    assert bad.status_code == 422, bad.text
    assert bad.json()["detail"][0]["loc"] == ["query", "after"]


async def test_a_form_without_the_sections_shows_none_and_refuses_the_pages(
    gateway: httpx.AsyncClient, admin: Admin, platform: Platform
):
    """Catches: donations or registrations leaving the gateway through a view whose form does
    not show them (on the card or through the pages), and pages answering for a relation the
    view does not show or for a view not granted."""
    donors = await admin.view("Donors", PERSONS, DONOR_FORM)
    plain = await admin.view("Persons", PERSONS, PLAIN_FORM)
    pim = await admin.user("pim")
    await admin.grant(pim, donors, can_edit=True)
    await admin.grant(pim, plain)
    relation_id = (await create_relation(gateway, pim, donors, last_name="Secret"))["relation_id"]
    await donate(platform, relation_id, "500.00", date(2026, 10, 1))
    await register(platform, relation_id, "GALA-2026", date(2026, 12, 12))
    await until_card(
        gateway, pim, donors, relation_id, lambda c: c["donations"]["count"] == 1
    )  # the facts are there

    card = await card_of(gateway, pim, plain, relation_id)
    assert card["donations"] is None and card["registrations"] is None
    assert "500" not in str(card) and "GALA" not in str(card)
    for section in ("donations", "registrations"):
        refused = await gateway.get(
            f"/views/{plain['view_id']}/relations/{relation_id}/{section}", headers=pim
        )
        assert refused.status_code == 403, refused.text

    organisation = await gateway.post(
        f"/views/{donors['view_id']}/relations",
        json={"relation_type": "organisation", "fields": {"organisation_name": "Acme"}},
        headers=admin.headers,
    )
    assert organisation.status_code == 201, organisation.text
    outside = organisation.json()["relation_id"]
    await donate(platform, outside, "70.00", date(2026, 10, 1))
    for section in ("donations", "registrations"):
        hidden = await gateway.get(
            f"/views/{donors['view_id']}/relations/{outside}/{section}", headers=pim
        )
        assert hidden.status_code == 404, hidden.text
    stranger = await admin.user("stranger")
    not_granted = await gateway.get(
        f"/views/{donors['view_id']}/relations/{relation_id}/donations", headers=stranger
    )
    assert not_granted.status_code == 404


async def test_a_new_donation_appears_on_an_opened_card(
    gateway: httpx.AsyncClient, admin: Admin, platform: Platform
):
    """Catches: the gateway worker not dropping the cached donations or registrations part
    when a donation or registration event arrives (the opened card would show the old
    summary until the cache expires, minutes later)."""
    view = await admin.view("Donors", PERSONS, DONOR_FORM)
    ria = await admin.user("ria")
    await admin.grant(ria, view, can_edit=True)
    relation_id = (await create_relation(gateway, ria, view, last_name="Often"))["relation_id"]
    opened = await card_of(gateway, ria, view, relation_id)  # cached from here on
    assert opened["donations"] == {"count": 0, "total": [], "first_gift": None, "last_gift": None}
    assert opened["registrations"] == []

    await donate(platform, relation_id, "12.50", date(2026, 11, 30))
    card = await until_card(gateway, ria, view, relation_id, lambda c: c["donations"]["count"] == 1)
    assert card["donations"]["last_gift"]["amount"] == "12.50"
    await donate(platform, relation_id, "7.50", date(2026, 12, 1))
    card = await until_card(gateway, ria, view, relation_id, lambda c: c["donations"]["count"] == 2)
    assert card["donations"]["total"] == [{"currency": "EUR", "amount": "20.00", "count": 2}]
    await register(platform, relation_id, "GALA-2026", date(2026, 12, 12))
    await until_card(gateway, ria, view, relation_id, lambda c: len(c["registrations"]) == 1)


def test_the_pages_are_documented_with_examples():
    document = create_api().openapi()
    for section, schema in (("donations", "DonationPage"), ("registrations", "RegistrationPage")):
        operation = document["paths"][f"/views/{{view_id}}/relations/{{relation_id}}/{section}"]
        answers = operation["get"]["responses"]
        assert {"200", "403", "404", "422"} <= set(answers), section
        assert document["components"]["schemas"][schema]["examples"], schema
    card = document["components"]["schemas"]["Card"]["properties"]
    assert card["donations"]["examples"] and card["registrations"]["examples"]
