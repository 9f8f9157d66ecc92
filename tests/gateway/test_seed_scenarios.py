"""The association from the README, through the gateway alone, as its staff and the modules
around it would use it: no internal token, no service called directly.

The functional administrator sets up the membership administration (a view, its form with a
button, the list "Members in Utrecht", a role for the membership desk). Anouk, at that desk,
creates a member, links her to her employer as director, logs a call with a follow-up, gets
her e-mail through the mail add-in, sees her enter "Members in Utrecht", finds the duplicate
the events module made when she registered again, merges it choosing per field, undoes the
merge, presses a button on her card, bulk-edits the list after a dry run, schedules a selection
daily and sees her donations on the card.
"""

from __future__ import annotations

import uuid
from datetime import date
from email.message import EmailMessage
from typing import Any

import httpx
import pytest

from relata_common.events import DONATIONS_TOPIC
from relata_common.publishing import Publisher
from tests.automation.conftest import (  # noqa: F401 - the automation service's fixtures
    automation_api,
    automation_database,
    automation_settings,
    automation_worker,
)
from tests.gateway.conftest import Admin
from tests.gateway.public import create_relation
from tests.helpers import CATCHING_UP, eventually
from tests.lists.conftest import Platform
from tests.selections.conftest import (  # noqa: F401 - fixtures used through pytest
    selections_api,
    selections_database,
    selections_settings,
    selections_transports,
    town,
)

PERSONS = {"kind": "field", "field": "relation_type", "op": "equals", "value": "person"}
ORGANISATIONS = {"kind": "field", "field": "relation_type", "op": "equals", "value": "organisation"}
EVERYONE = {"any": [PERSONS, ORGANISATIONS]}
IN_UTRECHT = {
    "all": [PERSONS, {"kind": "field", "field": "city", "op": "equals", "value": "Utrecht"}]
}
PERSON_FIELDS = ["first_name", "last_name", "emails", "addresses", "salutation"]
MEMBERSHIP_DESK = [
    "relations.create",
    "relations.merge",
    "duplicates.review",
    "buttons.run",
    "bulk.edit",
    "lists.manage",
    "selections.manage",
]
DONATIONS = Publisher.for_module("donations")


@pytest.fixture
def automation_transports(
    relations_api: httpx.AsyncClient, lists_api: httpx.AsyncClient, cm_api: httpx.AsyncClient
) -> dict[str, Any]:
    return {
        "relations": relations_api._transport,
        "lists": lists_api._transport,
        "contactmoments": cm_api._transport,
    }


@pytest.fixture
def extra_services(
    automation_api: httpx.AsyncClient,  # noqa: F811
    selections_api: httpx.AsyncClient,  # noqa: F811
) -> dict[str, httpx.AsyncClient]:
    return {"automation": automation_api, "selections": selections_api}


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


class Desk:
    """Anouk's working day: every call goes through the gateway with her token."""

    def __init__(self, gateway: httpx.AsyncClient, headers: dict[str, str], view: dict) -> None:
        self.gateway = gateway
        self.headers = headers
        self.view = view
        self.base = f"/views/{view['view_id']}"

    async def get(self, path: str, **params: Any) -> Any:
        return ok(await self.gateway.get(self.base + path, params=params, headers=self.headers))

    async def post(self, path: str, body: Any, status: int = 200, **headers: str) -> Any:
        response = await self.gateway.post(
            self.base + path, json=body, headers=self.headers | headers
        )
        return ok(response, status)

    async def patch(self, path: str, body: Any, **headers: str) -> Any:
        response = await self.gateway.patch(
            self.base + path, json=body, headers=self.headers | headers
        )
        return ok(response)

    async def card(self, relation_id: str) -> dict[str, Any]:
        return await self.get(f"/relations/{relation_id}")

    async def members(self, list_id: str) -> set[str]:
        page = await self.get(f"/lists/{list_id}/members")
        return {row["relation_id"] for row in page["relations"]}


async def set_up_the_association(gateway: httpx.AsyncClient, admin: Admin) -> dict[str, Any]:
    """What the functional administrator does once: a button rule, the view with its form,
    the list, the desk's role and Anouk."""
    button = ok(
        await gateway.post(
            "/automation/rules",
            json={
                "name": "Welcome pack sent",
                "trigger": {"kind": "button", "label": "Welcome pack sent"},
                "actions": [{"kind": "set_field", "field": "salutation", "value": "Dear member"}],
            },
            headers=admin.headers,
        ),
        201,
    )
    form = [
        {"name": "Person", "fields": [*PERSON_FIELDS, "organisation_name"]},
        {"name": "Relations", "fields": ["functions", "contact_moments", "lists"]},
        {
            "name": "Giving",
            "fields": ["donations", "registrations"],
            "buttons": [button["rule_id"]],
        },
    ]
    view = await admin.view("Membership administration", EVERYONE, form)
    utrecht = ok(
        await gateway.post(
            f"/views/{view['view_id']}/lists",
            json={"name": "Members in Utrecht", "filter": IN_UTRECHT},
            headers=admin.headers,
        ),
        201,
    )
    ok(
        await gateway.put(
            "/admin/roles/membership-desk",
            json={
                "labels": {"nl": "Ledenadministratie", "en": "Membership desk"},
                "rights": MEMBERSHIP_DESK,
            },
            headers=admin.headers,
        ),
        201,
    )
    anouk = await admin.user("anouk", role="membership-desk")
    await admin.grant(anouk, view, can_edit=True)
    return {"view": view, "utrecht": utrecht["list_id"], "button": button, "anouk": anouk}


def e_mail(sender: str, subject: str) -> bytes:
    message = EmailMessage()
    message["From"] = f"Sanne Bakker <{sender}>"
    message["To"] = "ledenadministratie@vereniging.example"
    message["Subject"] = subject
    message["Date"] = "Mon, 07 Dec 2026 09:12:00 +0100"
    message["Message-ID"] = f"<{uuid.uuid4().hex}@bakker.example>"
    message.set_content("Beste ledenadministratie, mijn adres is gewijzigd.")
    message.add_attachment(
        b"%PDF-1.4 machtiging", maintype="application", subtype="pdf", filename="machtiging.pdf"
    )
    return message.as_bytes()


@pytest.mark.usefixtures("automation_worker")
async def test_the_association_works_through_the_gateway_alone(
    gateway: httpx.AsyncClient, admin: Admin, platform: Platform
):
    """The seed's scenarios end to end. Catches: any step of the daily work that only works
    behind the internal token, or whose result does not reach what the user sees next."""
    setup = await set_up_the_association(gateway, admin)
    view, anouk = setup["view"], setup["anouk"]
    desk = Desk(gateway, anouk, view)
    mine = ok(await gateway.get("/me", headers=anouk))
    assert set(MEMBERSHIP_DESK) <= set(mine["rights"])

    # 1. She creates the member and her employer.
    address = "sanne@bakker.example"
    sanne = await create_relation(
        gateway,
        anouk,
        view,
        first_name="Sanne",
        last_name="Bakker",
        emails=[{"address": address}],
        addresses=[{"street": "Stationsplein", "house_number": "1", "city": "Amersfoort"}],
    )
    employer = await create_relation(
        gateway, anouk, view, "organisation", organisation_name="Bakker Advies BV"
    )
    member = sanne["relation_id"]

    # 2. She links her to her employer as director; both cards show it.
    director = await desk.post(
        f"/relations/{member}/functions",
        {"role": "director", "object_id": employer["relation_id"], "start_date": "2024-01-01"},
        201,
    )
    assert director["role_label"] and director["object_name"] == "Bakker Advies BV"
    of_employer = await desk.get(f"/relations/{employer['relation_id']}/functions")
    assert [f["function_id"] for f in of_employer] == [director["function_id"]]

    # 3. She logs a call with a follow-up for herself; it is on her dashboard.
    call = await desk.post(
        f"/relations/{member}/contact-moments",
        {
            "kind": "phone",
            "direction": "in",
            "subject": "Change of address",
            "notes": "Moving to Utrecht.",
            "occurred_at": "2026-12-07T09:00:00+01:00",
        },
        201,
    )
    await desk.post(
        f"/contact-moments/{call['contact_moment_id']}/follow-ups",
        {"assignee_id": anouk["X-User-Id"], "due_on": "2026-12-14"},
        201,
    )
    follow_ups = ok(await gateway.get("/dashboard/follow-ups", headers=anouk))
    assert [f["contact_moment_id"] for f in follow_ups] == [call["contact_moment_id"]]

    # 4. Her e-mail arrives through the mail add-in's key (scope mail.ingest only).
    key = ok(
        await gateway.post(
            f"/admin/users/{anouk['X-User-Id']}/api-keys",
            json={"name": "Outlook add-in", "scopes": ["mail.ingest"]},
            headers=admin.headers,
        ),
        201,
    )
    mail = e_mail(address, "Nieuw adres")
    add_in = {"X-API-Key": key["key"], "Content-Type": "message/rfc822"}

    async def ingested() -> bool:
        answer = await gateway.post("/mail/messages", content=mail, headers=add_in)
        return answer.status_code in (200, 201)

    await eventually(ingested, timeout=CATCHING_UP)
    replay = ok(await gateway.post("/mail/messages", content=mail, headers=add_in))
    assert replay["created"] is False
    assert [r["relation_id"] for r in replay["relations"]] == [member]
    assert [a["filename"] for a in replay["attachments"]] == ["machtiging.pdf"]

    # 5. She moves to Utrecht and enters "Members in Utrecht", and the list says why.
    current = await gateway.get(f"{desk.base}/relations/{member}", headers=anouk)
    await desk.patch(
        f"/relations/{member}",
        {
            "fields": {
                "addresses": [{"street": "Oudegracht", "house_number": "12", "city": "Utrecht"}]
            }
        },
        **{"If-Match": current.headers["ETag"]},
    )

    async def in_utrecht() -> bool:
        return member in await desk.members(setup["utrecht"])

    await eventually(in_utrecht, timeout=CATCHING_UP)
    why = await desk.get(f"/lists/{setup['utrecht']}/members/{member}/why")
    assert why["member"] is True
    assert "entered" in [entry["change"] for entry in why["history"]]

    # 6. The events module registers her again: a duplicate, flagged in the queue.
    events_module = await admin.user("events-module")
    await admin.grant(events_module, view, can_edit=True)
    again = await create_relation(
        gateway,
        events_module,
        view,
        first_name="Sanna",
        last_name="Bakker",
        emails=[{"address": address}],
        addresses=[{"street": "Oudegracht", "house_number": "12", "city": "Utrecht"}],
    )
    pairs: list[dict[str, Any]] = []

    async def flagged() -> bool:
        pairs[:] = (await desk.get("/duplicates"))["pairs"]
        return bool(pairs)

    await eventually(flagged, timeout=CATCHING_UP)
    [pair] = pairs
    assert {r["relation_id"] for r in pair["relations"]} == {member, again["relation_id"]}
    assert pair["stars"] >= 1 and pair["reasons"]

    # 7. She merges it, keeping her own first name, then undoes the merge.
    merged = await desk.post(
        f"/duplicates/{pair['pair_id']}/decision",
        {"decision": "merge", "survivor_id": member, "choices": {"first_name": "survivor"}},
    )
    assert merged["status"] == "merged"
    assert (await desk.card(member))["display_name"] == "Sanne Bakker"
    await desk.post(f"/merges/{merged['merge_id']}/undo", {})

    async def both_back() -> bool:
        answer = await gateway.get(f"{desk.base}/relations/{again['relation_id']}", headers=anouk)
        return answer.status_code == 200

    await eventually(both_back, timeout=CATCHING_UP)

    # 8. She presses the button on her card.
    card = await desk.card(member)
    assert [b["rule_id"] for b in card["buttons"]] == [setup["button"]["rule_id"]]
    await desk.post(f"/relations/{member}/buttons/{setup['button']['rule_id']}", {})

    async def welcomed() -> bool:
        return (await desk.card(member))["tabs"][0]["fields"]["salutation"] == "Dear member"

    await eventually(welcomed, timeout=CATCHING_UP)

    # 9. She bulk-edits the list after a dry run listing every change.
    edit = {"source": {"list_id": setup["utrecht"]}, "changes": {"salutation": "Dear friend"}}
    dry = await desk.post("/bulk-edits", edit)
    planned = {p["relation_id"]: p["changes"] for p in dry["planned"]}
    assert planned[member] == [{"field": "salutation", "old": "Dear member", "new": "Dear friend"}]
    started = await gateway.post(
        f"{desk.base}/bulk-edits", json={**edit, "dry_run": False}, headers=anouk
    )
    assert started.status_code == 202, started.text

    async def edited() -> bool:
        batch = ok(await gateway.get(started.headers["Location"], headers=anouk))
        return batch["status"] == "done"

    await eventually(edited, timeout=CATCHING_UP)

    # 10. She schedules a selection of the list daily, before the morning mailing.
    selection = await desk.post(
        "/selections", {"name": "Newsletter Utrecht", "list_id": setup["utrecht"]}, 201
    )
    daily = await desk.patch(f"/selections/{selection['selection_id']}", {"daily_at": "06:30"})
    assert daily["daily_at"].startswith("06:30")

    # 11. The donations module publishes her gifts: the card shows them.
    for amount, day in (("25.00", date(2026, 1, 15)), ("35.00", date(2026, 11, 2))):
        payload = {
            "donation_id": str(uuid.uuid4()),
            "relation_id": member,
            "amount": amount,
            "currency": "EUR",
            "received_on": day.isoformat(),
            "campaign": "Winter 2026",
        }
        await platform.publish(
            DONATIONS_TOPIC, DONATIONS.envelope("donation.received", member, payload)
        )

    async def donations_shown() -> bool:
        donations = (await desk.card(member)).get("donations") or {}
        return donations.get("count") == 2

    await eventually(donations_shown, timeout=CATCHING_UP)
    donations = (await desk.card(member))["donations"]
    assert donations["last_gift"]["amount"] == "35.00"
