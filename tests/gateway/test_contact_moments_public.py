"""Contact moments through the gateway alone, as the web application and a mail-client add-in
use them: logging, changing (If-Match) and deleting with the history kept, follow-ups and the
dashboard's open follow-ups, e-mail ingestion with a scoped API key; each limited to what the
view shows (404 outside it, 403 without the form's section or edit rights)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from relata_gateway.settings import GatewaySettings
from tests.gateway.conftest import Admin
from tests.gateway.public import create_relation
from tests.helpers import CATCHING_UP, eventually

MAIL = Path(__file__).parents[1] / "contactmoments" / "mail"
MAIL_LIMIT = 16 * 1024
PERSONS = {"kind": "field", "field": "relation_type", "op": "equals", "value": "person"}
ORGANISATIONS = {"kind": "field", "field": "relation_type", "op": "equals", "value": "organisation"}
MEMBERS_FORM = [
    {"name": "Person", "fields": ["first_name", "last_name", "emails"]},
    {"name": "Contact", "fields": ["contact_moments"]},
]
MOMENT = {
    "kind": "phone",
    "direction": "in",
    "subject": "Question about the fee",
    "notes": "Wants to pay yearly.",
    "occurred_at": "2026-11-20T10:00:00+01:00",
}
RFC822 = {"Content-Type": "message/rfc822"}


@pytest.fixture
def gateway_settings(gateway_settings: GatewaySettings) -> GatewaySettings:
    """A small mail limit, so that going over it costs no ten megabytes."""
    return gateway_settings.model_copy(update={"max_mail_bytes": MAIL_LIMIT})


@dataclass
class World:
    members: dict[str, Any]
    organisations: dict[str, Any]
    slim: dict[str, Any]
    anna: dict[str, str]  # edits Members; has Slim (no contact moments) too
    bert: dict[str, str]  # reads Members
    jurgen: dict[str, Any]  # a person, in Members
    acme: dict[str, Any]  # an organisation, outside Members

    def moment_url(self, moment_id: str, view: dict[str, Any] | None = None) -> str:
        return f"/views/{(view or self.members)['view_id']}/contact-moments/{moment_id}"

    def relation_url(self, relation: dict[str, Any], view: dict[str, Any] | None = None) -> str:
        return f"/views/{(view or self.members)['view_id']}/relations/{relation['relation_id']}"


async def _world(gateway: httpx.AsyncClient, admin: Admin) -> World:
    members = await admin.view("Members", PERSONS, MEMBERS_FORM)
    organisations = await admin.view(
        "Organisations",
        ORGANISATIONS,
        [{"name": "Organisation", "fields": ["organisation_name", "emails", "contact_moments"]}],
    )
    slim = await admin.view("Slim", PERSONS, [{"name": "Name", "fields": ["last_name"]}])
    anna, bert = await admin.user("anna"), await admin.user("bert")
    await admin.grant(anna, members, can_edit=True)
    await admin.grant(anna, slim, can_edit=True)
    await admin.grant(bert, members)
    jurgen = await create_relation(
        gateway,
        anna,
        members,
        first_name="Jürgen",
        last_name="Müller",
        emails=[{"address": "juergen.mueller@example.de"}],
    )
    acme = await create_relation(
        gateway,
        admin.headers,
        organisations,
        "organisation",
        organisation_name="Acme",
        emails=[{"address": "info@acme.example"}],
    )
    return World(members, organisations, slim, anna, bert, jurgen, acme)


async def _log(gateway: httpx.AsyncClient, world: World, **fields: str) -> dict[str, Any]:
    response = await gateway.post(
        f"{world.relation_url(world.jurgen)}/contact-moments",
        json=MOMENT | fields,
        headers=world.anna,
    )
    assert response.status_code == 201, response.text
    assert response.headers["ETag"] == '"1"'
    return response.json()


async def _api_key(admin: Admin, user: dict[str, str], **body: Any) -> dict[str, str]:
    response = await admin.client.post(
        f"/users/{user['X-User-Id']}/api-keys",
        json={"name": "add-in", **body},
        headers=admin.headers,
    )
    assert response.status_code == 201, response.text
    return {"X-API-Key": response.json()["key"]}


async def _ingest(
    gateway: httpx.AsyncClient, headers: dict[str, str], raw: bytes
) -> httpx.Response:
    return await gateway.post("/mail/messages", content=raw, headers=headers | RFC822)


async def test_log_edit_and_delete_keep_the_history(gateway: httpx.AsyncClient, admin: Admin):
    """Catches: a stale or missing If-Match let through, a read-only user changing a moment,
    a delete that takes the history with it."""
    world = await _world(gateway, admin)
    logged = await _log(gateway, world)
    url = world.moment_url(logged["contact_moment_id"])
    assert logged["logged_by"] == "Anna" and logged["follow_ups"] == []
    read = await gateway.get(url, headers=world.bert)
    assert read.status_code == 200 and read.headers["ETag"] == '"1"'
    assert read.json()["relation_ids"] == [world.jurgen["relation_id"]]

    change = {"subject": "Fee: paid"}
    refused = await gateway.patch(url, json=change, headers=world.bert | {"If-Match": '"1"'})
    assert refused.status_code == 403
    assert (await gateway.patch(url, json=change, headers=world.anna)).status_code == 428
    changed = await gateway.patch(url, json=change, headers=world.anna | {"If-Match": '"1"'})
    assert changed.status_code == 200, changed.text
    assert changed.headers["ETag"] == '"2"' and changed.json()["subject"] == "Fee: paid"
    stale = await gateway.patch(
        url, json={"notes": "lost update"}, headers=world.anna | {"If-Match": '"1"'}
    )
    assert stale.status_code == 412
    cleared = await gateway.patch(
        url, json={"subject": None}, headers=world.anna | {"If-Match": '"2"'}
    )
    assert cleared.status_code == 422 and cleared.json()["detail"][0]["loc"] == ["body", "subject"]
    moved = await gateway.patch(
        url,
        json={"relation_ids": [world.acme["relation_id"]]},
        headers=world.anna | {"If-Match": '"2"'},
    )
    assert moved.status_code == 422 and moved.json()["detail"][0]["loc"] == ["body", "relation_ids"]

    assert (await gateway.delete(url, headers=world.bert)).status_code == 403
    assert (await gateway.delete(url, headers=world.anna | {"If-Match": '"1"'})).status_code == 412
    assert (await gateway.delete(url, headers=world.anna | {"If-Match": '"2"'})).status_code == 204
    assert (await gateway.get(url, headers=world.anna)).status_code == 410
    timeline = await gateway.get(
        f"{world.relation_url(world.jurgen)}/contact-moments", headers=world.anna
    )
    assert timeline.json()["contact_moments"] == []

    history = (await gateway.get(f"{url}/history", headers=world.bert)).json()
    assert [h["kind"] for h in history] == [
        "contactmoment.deleted",
        "contactmoment.changed",
        "contactmoment.logged",
    ]
    assert {h["actor_name"] for h in history} == {"Anna"}
    assert history[1]["changes"] == [
        {"field": "subject", "old": "Question about the fee", "new": "Fee: paid"}
    ]


async def test_outside_the_view_404_and_without_the_section_403(
    gateway: httpx.AsyncClient, admin: Admin
):
    """Catches: a moment of a relation outside the view readable or writable through it; a
    form without contact moments showing them; a moment naming a relation the view hides, or
    an edit through the view dropping that hidden link."""
    world = await _world(gateway, admin)
    of_acme = await gateway.post(
        f"{world.relation_url(world.acme, world.organisations)}/contact-moments",
        json=MOMENT,
        headers=admin.headers,
    )
    assert of_acme.status_code == 201, of_acme.text
    outside = world.moment_url(of_acme.json()["contact_moment_id"])
    assert (await gateway.get(outside, headers=world.anna)).status_code == 404
    assert (await gateway.get(f"{outside}/history", headers=world.anna)).status_code == 404
    patched = await gateway.patch(
        outside, json={"subject": "x"}, headers=world.anna | {"If-Match": '"1"'}
    )
    assert patched.status_code == 404
    assert (await gateway.delete(outside, headers=world.anna)).status_code == 404
    follow_up = {"assignee_id": world.anna["X-User-Id"], "due_on": "2026-12-10"}
    posted = await gateway.post(f"{outside}/follow-ups", json=follow_up, headers=world.anna)
    assert posted.status_code == 404

    ours = await _log(gateway, world)
    slim = world.moment_url(ours["contact_moment_id"], world.slim)
    assert (await gateway.get(slim, headers=world.anna)).status_code == 403
    assert (await gateway.get(f"{slim}/history", headers=world.anna)).status_code == 403
    posted = await gateway.post(f"{slim}/follow-ups", json=follow_up, headers=world.anna)
    assert posted.status_code == 403
    slim_timeline = f"{world.relation_url(world.jurgen, world.slim)}/contact-moments"
    assert (await gateway.get(slim_timeline, headers=world.anna)).status_code == 403
    logged = await gateway.post(slim_timeline, json=MOMENT, headers=world.anna)
    assert logged.status_code == 403

    # A mail to Acme from Jürgen links both: Members shows Jürgen only, and no addresses.
    key = await _api_key(admin, world.anna, scopes=["mail.ingest"])
    raw = (MAIL / "multipart_attachments.eml").read_bytes()

    async def ingested() -> bool:
        return (await _ingest(gateway, key, raw)).status_code in (200, 201)

    await eventually(ingested, timeout=CATCHING_UP)
    mail = (await _ingest(gateway, key, raw)).json()
    url = world.moment_url(mail["contact_moment_id"])
    seen = (await gateway.get(url, headers=world.anna)).json()
    assert seen["relation_ids"] == [world.jurgen["relation_id"]]
    assert seen["email"]["from"] is None and seen["email"]["cc"] is None
    assert "info@acme.example" not in str(seen["email"])
    changed = await gateway.patch(
        url,
        json={"relation_ids": [world.jurgen["relation_id"]], "subject": "Annual report"},
        headers=world.anna | {"If-Match": f'"{seen["version"]}"'},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["relation_ids"] == [world.jurgen["relation_id"]]
    # Acme's side still has it: the hidden link was kept.
    acme_timeline = await gateway.get(
        f"{world.relation_url(world.acme, world.organisations)}/contact-moments",
        headers=admin.headers,
    )
    subjects = [m["subject"] for m in acme_timeline.json()["contact_moments"]]
    assert "Annual report" in subjects


async def test_follow_ups_and_my_open_follow_ups(gateway: httpx.AsyncClient, admin: Admin):
    """Catches: the dashboard showing a follow-up of a relation none of the assignee's views
    shows, naming a relation by fields her view hides, or keeping done ones; a read-only
    user or a stale If-Match changing a follow-up; a follow-up reached under another moment."""
    world = await _world(gateway, admin)
    cees = await admin.user("cees")
    surnames = await admin.view(
        "Surnames", PERSONS, [{"name": "Name", "fields": ["last_name", "contact_moments"]}]
    )
    await admin.grant(cees, surnames)
    first, second = await _log(gateway, world), await _log(gateway, world, subject="Visit")
    first_url, second_url = (
        world.moment_url(first["contact_moment_id"]),
        world.moment_url(second["contact_moment_id"]),
    )

    async def follow_up(url: str, assignee: dict[str, str], due_on: str, **more: str) -> dict:
        response = await gateway.post(
            f"{url}/follow-ups",
            json={"assignee_id": assignee["X-User-Id"], "due_on": due_on, **more},
            headers=world.anna,
        )
        assert response.status_code == 201, response.text
        assert response.headers["ETag"] == '"1"'
        return response.json()

    later = await follow_up(first_url, world.bert, "2026-12-10", note="Send the invoice")
    sooner = await follow_up(second_url, world.bert, "2026-12-08")
    for_cees = await follow_up(first_url, cees, "2026-12-09")
    assert later["assignee_name"] == "Bert" and later["done"] is False
    nobody = await gateway.post(
        f"{first_url}/follow-ups",
        json={"assignee_id": world.jurgen["relation_id"], "due_on": "2026-12-10"},
        headers=world.anna,
    )
    assert nobody.status_code == 422 and nobody.json()["detail"][0]["loc"] == [
        "body",
        "assignee_id",
    ]
    refused = await gateway.post(
        f"{first_url}/follow-ups",
        json={"assignee_id": world.bert["X-User-Id"], "due_on": "2026-12-10"},
        headers=world.bert,
    )
    assert refused.status_code == 403
    # Bert's follow-up of a moment with Acme only: no view of his shows Acme.
    of_acme = await gateway.post(
        f"{world.relation_url(world.acme, world.organisations)}/contact-moments",
        json=MOMENT,
        headers=admin.headers,
    )
    acme_url = world.moment_url(of_acme.json()["contact_moment_id"], world.organisations)
    hidden = await gateway.post(
        f"{acme_url}/follow-ups",
        json={"assignee_id": world.bert["X-User-Id"], "due_on": "2026-12-01"},
        headers=admin.headers,
    )
    assert hidden.status_code == 201, hidden.text

    mine = (await gateway.get("/dashboard/follow-ups", headers=world.bert)).json()
    assert [f["follow_up_id"] for f in mine] == [sooner["follow_up_id"], later["follow_up_id"]]
    assert mine[0]["subject"] == "Visit" and mine[1]["note"] == "Send the invoice"
    assert mine[0]["relations"] == [
        {
            "relation_id": world.jurgen["relation_id"],
            "view_id": world.members["view_id"],
            "display_name": "Jürgen Müller",
        }
    ]
    of_cees = (await gateway.get("/dashboard/follow-ups", headers=cees)).json()
    assert [f["follow_up_id"] for f in of_cees] == [for_cees["follow_up_id"]]
    assert of_cees[0]["relations"][0]["display_name"] == "Müller"  # Surnames shows no first name

    done_url = f"{first_url}/follow-ups/{later['follow_up_id']}"
    done = {"done": True}
    assert (
        await gateway.patch(done_url, json=done, headers=world.bert | {"If-Match": '"1"'})
    ).status_code == 403
    assert (
        await gateway.patch(done_url, json=done, headers=world.anna | {"If-Match": '"0"'})
    ).status_code == 412
    elsewhere = f"{second_url}/follow-ups/{later['follow_up_id']}"
    assert (
        await gateway.patch(elsewhere, json=done, headers=world.anna | {"If-Match": '"1"'})
    ).status_code == 404
    moved = await gateway.patch(
        done_url, json={"due_on": "2026-12-07"}, headers=world.anna | {"If-Match": '"1"'}
    )
    assert moved.status_code == 200 and moved.headers["ETag"] == '"2"'
    mine = (await gateway.get("/dashboard/follow-ups", headers=world.bert)).json()
    assert [f["follow_up_id"] for f in mine] == [later["follow_up_id"], sooner["follow_up_id"]]
    completed = await gateway.patch(done_url, json=done, headers=world.anna | {"If-Match": '"2"'})
    assert completed.status_code == 200 and completed.json()["done"] is True
    mine = (await gateway.get("/dashboard/follow-ups", headers=world.bert)).json()
    assert [f["follow_up_id"] for f in mine] == [sooner["follow_up_id"]]

    moment = (await gateway.get(first_url, headers=world.bert)).json()
    assert [(f["assignee_name"], f["done"]) for f in moment["follow_ups"]] == [
        ("Bert", True),
        ("Cees", False),
    ]


async def test_mail_ingestion_with_a_scoped_api_key(gateway: httpx.AsyncClient, admin: Admin):
    """Catches: a key without the mail.ingest scope ingesting, a mail key reading or writing
    anything else, a replay making a second moment, attachments not recorded, and a body over
    the limit (declared, or found while streaming) or of another type read at all."""
    world = await _world(gateway, admin)
    mail_key = await _api_key(admin, world.anna, scopes=["mail.ingest"])
    plain_key = await _api_key(admin, world.anna)
    raw = (MAIL / "multipart_attachments.eml").read_bytes()

    refused = await _ingest(gateway, plain_key, raw)
    assert refused.status_code == 403 and "mail.ingest" in refused.text
    assert (await gateway.get("/me", headers=mail_key)).status_code == 403
    logged = await gateway.post(
        f"{world.relation_url(world.jurgen)}/contact-moments", json=MOMENT, headers=mail_key
    )
    assert logged.status_code == 403

    async def ingested() -> bool:
        return (await _ingest(gateway, mail_key, raw)).status_code != 422

    await eventually(ingested, timeout=CATCHING_UP)  # the service learns addresses from events
    again = await _ingest(gateway, mail_key, raw)
    assert again.status_code == 200 and again.json()["created"] is False
    variant = await _ingest(gateway, mail_key, (MAIL / "duplicate_of_multipart.eml").read_bytes())
    assert variant.status_code == 200
    assert variant.json()["contact_moment_id"] == again.json()["contact_moment_id"]
    body = again.json()
    assert body["direction"] == "in"
    assert body["relations"] == [
        {
            "relation_id": world.jurgen["relation_id"],
            "view_id": world.members["view_id"],
            "display_name": "Jürgen Müller",
        }
    ]
    attachments = [
        {"filename": "report.pdf", "content_type": "application/pdf", "size": 53},
        {"filename": "Grüße März.bin", "content_type": "application/octet-stream", "size": 1024},
        {"filename": "lögo.png", "content_type": "image/png", "size": 8},
    ]
    assert body["attachments"] == attachments
    moment = (
        await gateway.get(world.moment_url(body["contact_moment_id"]), headers=world.bert)
    ).json()
    assert moment["source"] == "email" and moment["email"]["attachments"] == attachments
    assert moment["email"]["message_id"] == "multipart-0001@mail.example.de"

    # A logged-in user may post a mail too (the add-in on her own session): a new one is 201.
    fresh = raw.replace(b"multipart-0001@", b"multipart-0002@")
    by_user = await _ingest(gateway, world.anna, fresh)
    assert by_user.status_code == 201, by_user.text
    assert by_user.json()["created"] is True

    unknown = await _ingest(gateway, mail_key, (MAIL / "only_unknown_addresses.eml").read_bytes())
    assert unknown.status_code == 422
    as_json = await gateway.post(
        "/mail/messages", content=raw, headers=mail_key | {"Content-Type": "application/json"}
    )
    assert as_json.status_code == 415
    too_large = raw + b"x" * MAIL_LIMIT
    assert (await _ingest(gateway, mail_key, too_large)).status_code == 413

    async def undeclared() -> AsyncIterator[bytes]:  # chunked: no Content-Length to refuse
        for start in range(0, len(too_large), 4096):
            yield too_large[start : start + 4096]

    streamed = await gateway.post("/mail/messages", content=undeclared(), headers=mail_key | RFC822)
    assert streamed.status_code == 413
    assert (await gateway.post("/mail/messages", content=raw, headers=RFC822)).status_code == 401


def test_openapi_documents_the_contact_moment_routes():
    from relata_gateway.app import create_api

    document = create_api().openapi()
    mail = document["paths"]["/mail/messages"]["post"]
    assert mail["x-api-key-scope"] == "mail.ingest"
    assert "message/rfc822" in mail["requestBody"]["content"]
    assert {"200", "201", "403", "413", "415", "422"} <= set(mail["responses"])
    moment = document["paths"]["/views/{view_id}/contact-moments/{moment_id}"]
    assert {"get", "patch", "delete"} <= set(moment)
    assert {"404", "412", "428"} <= set(moment["patch"]["responses"])
    schemas = document["components"]["schemas"]
    for name in ("MomentInput", "MomentPatch", "FollowUpInput", "FollowUpPatch", "MyFollowUp"):
        assert schemas[name]["examples"], name
