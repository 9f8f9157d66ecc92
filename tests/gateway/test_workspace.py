"""What the staff web application needs beside cards and lists, against the real services:
the application itself, the view's filter catalogue, the named activity feed, history,
functions, the contact-moment timeline, presence and live events; each passing only what the
view's form shows and answering 404 for relations outside the view."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import orjson
import redis.asyncio as aioredis

from relata_gateway import live
from relata_gateway.app import create_api
from relata_gateway.cards import CardContext
from relata_gateway.clients import build_services
from relata_gateway.forms import Form
from relata_gateway.security import User
from relata_gateway.settings import GatewaySettings
from relata_gateway.views import View
from tests.gateway.conftest import Admin, Switchable
from tests.helpers import CATCHING_UP, eventually
from tests.relations.fixtures import create, person

PERSONS = {"kind": "field", "field": "relation_type", "op": "equals", "value": "person"}
TABS = [
    {"name": "Person", "fields": ["first_name", "last_name", "addresses"]},
    {"name": "More", "fields": ["lists", "contact_moments", "history", "functions"]},
]
MOVED = [{"street": "Oudegracht", "house_number": "12", "city": "Utrecht"}]


async def test_the_application_is_served_at_app():
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_api()), base_url="http://g")
    async with client:
        root = await client.get("/")
        assert root.status_code == 307 and root.headers["location"] == "/app/"
        page = await client.get("/app/")
        assert page.status_code == 200 and 'src="js/main.js"' in page.text
        script = await client.get("/app/js/main.js")
        assert script.status_code == 200
        assert "javascript" in script.headers["content-type"]


async def _setup(gateway: httpx.AsyncClient, admin: Admin, relations_api: httpx.AsyncClient):
    view = await admin.view("Members", PERSONS, TABS)
    anna = await admin.user("anna")
    bert = await admin.user("bert")
    await admin.grant(anna, view, can_edit=True)
    await admin.grant(bert, view)
    jan = await create(
        relations_api,
        person(
            "Vries",
            first_name="Jan",
            emails=[{"address": "jan@vries.example"}],
            addresses=[{"street": "Stationsplein", "house_number": "1", "city": "Amersfoort"}],
        ),
    )
    card = f"/views/{view['view_id']}/relations/{jan['relation_id']}"

    async def shown() -> bool:
        return (await gateway.get(card, headers=anna)).status_code == 200

    await eventually(shown, timeout=CATCHING_UP)
    return view, anna, bert, jan, card


async def test_catalogue_history_timeline_functions_and_presence(
    gateway: httpx.AsyncClient, admin: Admin, relations_api: httpx.AsyncClient
):
    view, anna, bert, jan, card = await _setup(gateway, admin, relations_api)
    v = view["view_id"]
    me = (await gateway.get("/me", headers=anna)).json()
    assert me["username"] == "anna" and me["display_name"] == "Anna"
    refreshed = await gateway.post("/auth/refresh", headers=anna)
    assert refreshed.status_code == 200, refreshed.text
    fresh = {"Authorization": f"Bearer {refreshed.json()['access_token']}"}
    assert (await gateway.get("/me", headers=fresh)).json()["username"] == "anna"
    assert (await gateway.post("/auth/refresh")).status_code == 401

    # Whom a follow-up can be assigned to: active colleagues by name, nothing more (an answer
    # that also gave usernames, roles or rights fails the second assertion).
    colleagues = (await gateway.get("/colleagues", headers=bert)).json()
    assert {"Anna", "Bert"} <= {c["display_name"] for c in colleagues}
    assert all(set(c) == {"user_id", "display_name"} for c in colleagues)
    assert (await gateway.get("/colleagues")).status_code == 401

    # The filter builder's catalogue: fields and criteria the form shows, the view's lists.
    catalogue = (await gateway.get(f"/views/{v}/fields", headers=anna)).json()
    names = {f["name"] for f in catalogue["fields"]}
    assert {"relation_type", "first_name", "last_name", "city", "postal_code"} <= names
    assert not names & {"email", "phone", "birth_date", "infix", "iban"}
    assert set(catalogue["criteria"]) == {"function", "contact", "in_list"}
    assert [ref["name"] for ref in catalogue["lists"]] == ["All relations"]

    # History: her address change, named; a change of a hidden field is not even mentioned.
    read = await gateway.get(card, headers=anna)
    moved = await gateway.patch(
        card,
        json={"fields": {"addresses": MOVED}},
        headers={**anna, "If-Match": read.headers["ETag"]},
    )
    assert moved.status_code == 200, moved.text
    hidden = await relations_api.patch(
        f"/relations/{jan['relation_id']}",
        json={"fields": {"emails": [{"address": "jan@elsewhere.example"}]}},
        headers={"If-Match": moved.headers["ETag"]},
    )
    assert hidden.status_code == 200, hidden.text
    history = (await gateway.get(f"{card}/history", headers=bert)).json()
    assert [h["kind"] for h in history] == ["relation.updated", "relation.created"]
    assert history[0]["actor_name"] == "Anna"
    assert [c["field"] for c in history[0]["changes"]] == ["addresses"]
    created_fields = {c["field"] for c in history[1]["changes"]}
    assert "emails" not in created_fields and "last_name" in created_fields
    assert "jan@" not in orjson.dumps(history).decode()

    # Contact moments: logged by someone with edit rights, in the timeline with who logged it.
    moment = {
        "kind": "phone",
        "direction": "in",
        "subject": "Moving",
        "notes": "New address in Utrecht",
        "occurred_at": "2026-11-20T10:00:00+01:00",
    }
    refused = await gateway.post(f"{card}/contact-moments", json=moment, headers=bert)
    assert refused.status_code == 403
    logged = await gateway.post(f"{card}/contact-moments", json=moment, headers=anna)
    assert logged.status_code == 201, logged.text
    timeline = (await gateway.get(f"{card}/contact-moments", headers=bert)).json()
    assert [m["subject"] for m in timeline["contact_moments"]] == ["Moving"]
    assert timeline["contact_moments"][0]["logged_by"] == "Anna"
    assert (await gateway.get(f"{card}/functions", headers=bert)).json() == []

    # Recently edited by others, with names: Bert sees Anna's change to Jan.
    async def bert_sees_it() -> bool:
        feed = (await gateway.get(f"/views/{v}/recently-edited", headers=bert)).json()
        return any(
            i["relation_id"] == jan["relation_id"]
            and i["display_name"] == "Jan Vries"
            and i["actor_name"] == "Anna"
            for i in feed
        )

    await eventually(bert_sees_it, timeout=CATCHING_UP)

    # Presence: Anna edits, Bert is told; never oneself; read-only users cannot mark.
    assert (await gateway.put(f"{card}/presence", headers=anna)).status_code == 204
    seen = (await gateway.get(f"{card}/presence", headers=bert)).json()
    assert [e["display_name"] for e in seen["editing"]] == ["Anna"]
    assert (await gateway.get(f"{card}/presence", headers=anna)).json() == {"editing": []}
    assert (await gateway.put(f"{card}/presence", headers=bert)).status_code == 403
    assert (await gateway.delete(f"{card}/presence", headers=anna)).status_code == 204
    assert (await gateway.get(f"{card}/presence", headers=bert)).json() == {"editing": []}

    # Relations outside the view answer 404 everywhere; a form without history answers 403.
    organisation = await create(
        relations_api, {"relation_type": "organisation", "fields": {"organisation_name": "Acme"}}
    )
    outside = f"/views/{v}/relations/{organisation['relation_id']}"
    for suffix in ("/history", "/contact-moments", "/functions", "/presence"):
        assert (await gateway.get(outside + suffix, headers=anna)).status_code == 404, suffix
    assert (await gateway.put(f"{outside}/presence", headers=anna)).status_code == 404
    posted = await gateway.post(f"{outside}/contact-moments", json=moment, headers=anna)
    assert posted.status_code == 404
    slim = await admin.view("Slim", PERSONS, [{"name": "Name", "fields": ["last_name"]}])
    await admin.grant(anna, slim)
    slim_card = f"/views/{slim['view_id']}/relations/{jan['relation_id']}"
    assert (await gateway.get(f"{slim_card}/history", headers=anna)).status_code == 403
    assert (await gateway.get(f"{slim_card}/contact-moments", headers=anna)).status_code == 403
    # A view not granted does not exist for the user.
    assert (
        await gateway.get(f"{card}/history", headers=await admin.user("cees"))
    ).status_code == 404


def _her_change(message: dict, jan: dict) -> bool:
    return (
        message["type"] == "relation"
        and message["relation_id"] == jan["relation_id"]
        and message["actor_kind"] == "user"
    )


async def test_live_events_are_published_and_filtered_per_view(
    gateway: httpx.AsyncClient,
    admin: Admin,
    relations_api: httpx.AsyncClient,
    gateway_settings: GatewaySettings,
    transports: dict[str, Switchable],
    redis_client: aioredis.Redis,
):
    view, anna, bert, jan, card = await _setup(gateway, admin, relations_api)
    channel = live.channel(gateway_settings)
    pubsub = redis_client.pubsub()
    await pubsub.subscribe(channel)
    try:
        # The worker publishes a relation change once applied (after its transaction).
        read = await gateway.get(card, headers=anna)
        changed = await gateway.patch(
            card,
            json={"fields": {"addresses": MOVED}},
            headers={**anna, "If-Match": read.headers["ETag"]},
        )
        assert changed.status_code == 200, changed.text
        deadline = time.monotonic() + CATCHING_UP
        seen: list[dict] = []
        while time.monotonic() < deadline:
            raw = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if raw:
                seen.append(orjson.loads(raw["data"]))
            if any(_her_change(m, jan) for m in seen):
                break
        # Other relations' changes (earlier tests on the shared topic) may come first.
        hers = next(m for m in seen if _her_change(m, jan))
        assert "addresses" in hers["changed_fields"]
    finally:
        await pubsub.unsubscribe(channel)
        await pubsub.aclose()

    # What a stream in the view passes on (as Bert, who may see the view).
    services = build_services(gateway_settings, dict(transports))
    ctx = CardContext(services, redis_client, 60, 2.0)
    base_list = view["lists"][0]["list_id"]
    as_view = View(
        uuid.UUID(view["view_id"]), "Members", uuid.UUID(base_list), Form(tabs=TABS), False
    )
    user = User(uuid.UUID(bert["X-User-Id"]), "bert", "staff")
    allowed = live.ViewFilter(ctx, user, as_view, {base_list})
    organisation = await create(
        relations_api, {"relation_type": "organisation", "fields": {"organisation_name": "Acme"}}
    )
    jan_id, org_id = jan["relation_id"], organisation["relation_id"]

    def relation(rid: str, fields: list[str], actor: str = "someone") -> dict:
        return {
            "type": "relation",
            "relation_id": rid,
            "changed_fields": fields,
            "actor_kind": "user",
            "actor_id": actor,
        }

    assert await allowed.shown(relation(jan_id, ["emails"])) is None
    both = await allowed.shown(relation(jan_id, ["emails", "addresses"]))
    assert both == {
        "type": "relation",
        "relation_id": jan_id,
        "changed_fields": ["addresses"],
        "by_me": False,
    }
    own = await allowed.shown(relation(jan_id, ["addresses"], str(user.id)))
    assert own is not None and own["by_me"]
    assert await allowed.shown(relation(org_id, ["organisation_name"])) is None
    other_list = {"list_id": str(uuid.uuid4()), "relation_id": jan_id, "entered": True}
    assert await allowed.shown({"type": "membership", **other_list}) is None
    own_list = {**other_list, "list_id": base_list}
    assert await allowed.shown({"type": "membership", **own_list}) is not None
    presence = {"type": "presence", "relation_id": jan_id}
    assert await allowed.shown({**presence, "user_id": str(user.id)}) is None
    assert await allowed.shown({**presence, "user_id": anna["X-User-Id"]}) == presence
    assert await allowed.shown({**presence, "relation_id": org_id, "user_id": "x"}) is None

    # The stream itself: a greeting, then the view's events as server-sent events. It listens
    # on a channel of this test's own, where no worker publishes other tests' changes.
    own_channel = f"{channel}:{uuid.uuid4()}"
    stream = live.stream(redis_client, own_channel, allowed, time.monotonic() + 20)
    try:
        assert (await asyncio.wait_for(anext(stream), 10)).startswith(b"event: ready")
        await live.publish(redis_client, own_channel, relation(org_id, ["organisation_name"]))
        await live.publish(redis_client, own_channel, relation(jan_id, ["addresses"]))
        event = await asyncio.wait_for(anext(stream), 10)
        assert event.startswith(b"event: relation\ndata: ")
        assert orjson.loads(event.split(b"data: ", 1)[1])["relation_id"] == jan_id
    finally:
        await stream.aclose()
        await services.aclose()
