"""Identity, views, cards and editing through the gateway, against the real services."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import jwt

from tests.gateway.conftest import Admin, Switchable
from tests.helpers import eventually
from tests.relations.fixtures import create, person

PERSONS = {"kind": "field", "field": "relation_type", "op": "equals", "value": "person"}
UTRECHT = {"kind": "field", "field": "city", "op": "equals", "value": "Utrecht"}
TABS = [{"name": "Person", "fields": ["first_name", "last_name", "addresses", "lists"]}]


async def _visible(gateway: httpx.AsyncClient, headers: dict, view: dict, relation_id: str) -> None:
    async def shown() -> bool:
        response = await gateway.get(
            f"/views/{view['view_id']}/relations/{relation_id}", headers=headers
        )
        return response.status_code == 200

    await eventually(shown)


async def test_tokens_are_checked(gateway: httpx.AsyncClient, admin: Admin, gateway_settings):
    assert (await gateway.get("/views")).status_code == 401
    forged = jwt.encode(
        {
            "sub": "00000000-0000-0000-0000-000000000000",
            "name": "x",
            "role": "admin",
            "exp": datetime.now(UTC) + timedelta(minutes=5),
        },
        "not-the-secret",
        algorithm="HS256",
    )
    assert (
        await gateway.get("/views", headers={"Authorization": f"Bearer {forged}"})
    ).status_code == 401
    expired = jwt.encode(
        {
            "sub": "00000000-0000-0000-0000-000000000000",
            "name": "x",
            "role": "admin",
            "exp": datetime.now(UTC) - timedelta(minutes=1),
        },
        gateway_settings.jwt_secret.get_secret_value(),
        algorithm="HS256",
    )
    response = await gateway.get("/views", headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401 and "expired" in response.json()["detail"]
    wrong = await gateway.post("/auth/token", json={"username": "admin", "password": "nope"})
    assert wrong.status_code == 401
    assert (await gateway.get("/views", headers=admin.headers)).status_code == 200


async def test_staff_cannot_administer(gateway: httpx.AsyncClient, admin: Admin):
    staff = await admin.user("sam")
    response = await gateway.post(
        "/admin/views",
        json={"name": "x", "base_filter": PERSONS, "form": {"tabs": TABS}},
        headers=staff,
    )
    assert response.status_code == 403


async def test_api_keys_act_as_their_user(gateway: httpx.AsyncClient, admin: Admin):
    staff = await admin.user("integration")
    response = await gateway.post(
        f"/users/{staff['X-User-Id']}/api-keys", json={"name": "mailing"}, headers=admin.headers
    )
    key = response.json()["key"]
    assert (await gateway.get("/views", headers={"X-API-Key": key})).status_code == 200
    assert (await gateway.get("/views", headers={"X-API-Key": key + "x"})).status_code == 401


async def test_card_shows_only_form_fields_and_only_view_relations(
    gateway: httpx.AsyncClient, admin: Admin, relations_api: httpx.AsyncClient
):
    view = await admin.view("Utrecht", UTRECHT, TABS)
    staff = await admin.user("ursula")
    await admin.grant(staff, view)
    inside = await create(
        relations_api,
        person(
            "Berg",
            first_name="Jan",
            birth_date="1970-01-01",
            iban="NL91ABNA0417164300",
            addresses=[{"city": "Utrecht"}],
        ),
    )
    outside = await create(relations_api, person("Jansen", addresses=[{"city": "Amsterdam"}]))
    await _visible(gateway, staff, view, inside["relation_id"])

    card = (
        await gateway.get(
            f"/views/{view['view_id']}/relations/{inside['relation_id']}", headers=staff
        )
    ).json()
    assert card["tabs"][0]["fields"]["last_name"] == "Berg"
    body = str(card)
    assert "1970-01-01" not in body and "NL91" not in body
    assert card["lists"] == [{"list_id": view["lists"][0]["list_id"], "name": "All relations"}]
    hidden = await gateway.get(
        f"/views/{view['view_id']}/relations/{outside['relation_id']}", headers=staff
    )
    assert hidden.status_code == 404
    other_view = await admin.view("Everyone", PERSONS, TABS)
    not_granted = await gateway.get(
        f"/views/{other_view['view_id']}/relations/{inside['relation_id']}", headers=staff
    )
    assert not_granted.status_code == 404


async def test_editing_through_the_card(
    gateway: httpx.AsyncClient,
    admin: Admin,
    relations_api: httpx.AsyncClient,
    transports: dict[str, Switchable],
):
    """Editing needs If-Match and edit rights; the PATCH answers with the refreshed card (the
    GET's body and new ETag), composed from the relations service's answer to the change
    without reading the relation again (dropping that answer from the cache fails the count of
    relation reads)."""
    view = await admin.view("People", PERSONS, TABS)
    editor = await admin.user("eva")
    reader = await admin.user("rob")
    await admin.grant(editor, view, can_edit=True)
    await admin.grant(reader, view)
    jan = await create(relations_api, person("Berg", birth_date="1970-01-01"))
    await _visible(gateway, editor, view, jan["relation_id"])
    url = f"/views/{view['view_id']}/relations/{jan['relation_id']}"

    card = await gateway.get(url, headers=editor)
    assert card.headers["ETag"] == '"1"'
    no_match = await gateway.patch(url, json={"fields": {"first_name": "Jan"}}, headers=editor)
    assert no_match.status_code == 428
    transports["relations"].calls.clear()
    changed = await gateway.patch(
        url, json={"fields": {"first_name": "Jan"}}, headers={**editor, "If-Match": '"1"'}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["tabs"][0]["fields"]["first_name"] == "Jan"
    assert changed.headers["ETag"] == '"2"'
    assert transports["relations"].calls == [("PATCH", f"/relations/{jan['relation_id']}")]
    again = await gateway.get(url, headers=editor)
    assert again.json() == changed.json()
    assert again.headers["ETag"] == changed.headers["ETag"]
    stale = await gateway.patch(
        url, json={"fields": {"first_name": "Piet"}}, headers={**editor, "If-Match": '"1"'}
    )
    assert stale.status_code == 412
    hidden_field = await gateway.patch(
        url, json={"fields": {"birth_date": "1980-01-01"}}, headers={**editor, "If-Match": '"2"'}
    )
    assert hidden_field.status_code == 422
    read_only = await gateway.patch(
        url, json={"fields": {"first_name": "X"}}, headers={**reader, "If-Match": '"2"'}
    )
    assert read_only.status_code == 403

    async def colleague_sees_it() -> bool:
        feed = await gateway.get(f"/views/{view['view_id']}/activity", headers=reader)
        return any(
            item["relation_id"] == jan["relation_id"] and "first_name" in item["changed_fields"]
            for item in feed.json()
        )

    await eventually(colleague_sees_it)
    own = (await gateway.get(f"/views/{view['view_id']}/activity", headers=editor)).json()
    assert all(item["actor_id"] != editor["X-User-Id"] for item in own)
    recent = (await gateway.get("/dashboard/recent", headers=editor)).json()
    assert recent[0]["id"] == jan["relation_id"]


async def test_card_without_contact_moments_service_says_what_is_missing(
    gateway: httpx.AsyncClient,
    admin: Admin,
    relations_api: httpx.AsyncClient,
    cm_api: httpx.AsyncClient,
    transports: dict[str, Switchable],
    redis_client,
):
    view = await admin.view(
        "With moments",
        PERSONS,
        [
            {"name": "Person", "fields": ["last_name"]},
            {"name": "Contact", "fields": ["contact_moments"]},
        ],
    )
    jan = await create(relations_api, person("Berg"))
    await _visible(gateway, admin.headers, view, jan["relation_id"])
    url = f"/views/{view['view_id']}/relations/{jan['relation_id']}"
    logged = await cm_api.post(
        "/contact-moments",
        json={
            "kind": "phone",
            "direction": "in",
            "subject": "Membership",
            "notes": "Pays yearly.",
            "occurred_at": "2025-03-04T10:00:00+01:00",
            "relation_ids": [jan["relation_id"]],
        },
    )
    assert logged.status_code == 201, logged.text

    async def moment_shown() -> bool:
        card = (await gateway.get(url, headers=admin.headers)).json()
        return [m["subject"] for m in card["contact_moments"] or []] == ["Membership"]

    await eventually(moment_shown)  # the cached part is dropped by the moment's event
    transports["contactmoments"].down = True
    await redis_client.delete(f"card:contact_moments:{jan['relation_id']}")
    card = (await gateway.get(url, headers=admin.headers)).json()
    assert card["tabs"][0]["fields"] == {"last_name": "Berg"}
    assert card["contact_moments"] is None
    assert card["unavailable"] == ["contact_moments"]


async def test_lists_under_a_view(
    gateway: httpx.AsyncClient, admin: Admin, relations_api: httpx.AsyncClient
):
    view = await admin.view("Persons", PERSONS, TABS)
    berg = await create(relations_api, person("Berg", addresses=[{"city": "Utrecht"}]))
    jansen = await create(relations_api, person("Jansen", addresses=[{"city": "Zwolle"}]))
    saved = await gateway.post(
        f"/views/{view['view_id']}/lists",
        json={"name": "Members in Utrecht", "filter": UTRECHT},
        headers=admin.headers,
    )
    assert saved.status_code == 201, saved.text
    listed = (await gateway.get(f"/views/{view['view_id']}/lists", headers=admin.headers)).json()
    assert [item["name"] for item in listed] == ["All relations", "Members in Utrecht"]

    async def member_shown() -> bool:
        page = await gateway.get(
            f"/views/{view['view_id']}/lists/{saved.json()['list_id']}/members",
            headers=admin.headers,
        )
        # The broker is shared by every test: other tests' relations are there too.
        shown = {r["relation_id"]: r["display_name"] for r in page.json()["relations"]}
        return shown.get(berg["relation_id"]) == "Berg" and jansen["relation_id"] not in shown

    await eventually(member_shown)
    hidden = await gateway.post(
        f"/views/{view['view_id']}/evaluate",
        json={"filter": {"kind": "field", "field": "birth_date", "op": "empty"}},
        headers=admin.headers,
    )
    assert hidden.status_code == 422
    assert hidden.json()["detail"][0]["loc"] == ["body", "filter", "field"]


async def test_an_erased_relation_leaves_no_trace(
    gateway: httpx.AsyncClient, admin: Admin, relations_api: httpx.AsyncClient, redis_client
):
    view = await admin.view("Erasable", PERSONS, TABS)
    reader = await admin.user("reader")
    await admin.grant(reader, view)
    jan = await create(relations_api, person("Berg"))
    await _visible(gateway, reader, view, jan["relation_id"])
    url = f"/views/{view['view_id']}/relations/{jan['relation_id']}"
    current = await relations_api.get(f"/relations/{jan['relation_id']}")
    changed = await relations_api.patch(  # the relation changes its own name (self-service)
        f"/relations/{jan['relation_id']}",
        json={"fields": {"first_name": "Jan"}},
        headers={
            "X-Actor-Kind": "relation",
            "X-Actor-Id": jan["relation_id"],
            "If-Match": current.headers["ETag"],
        },
    )
    assert changed.status_code == 200, changed.text

    async def in_feed() -> bool:
        feed = await gateway.get(f"/views/{view['view_id']}/activity", headers=reader)
        return any(
            item["actor_kind"] == "relation" and item["relation_id"] == jan["relation_id"]
            for item in feed.json()
        )

    await eventually(in_feed)
    assert (await gateway.get(url, headers=reader)).json()["display_name"] == "Jan Berg"
    assert (await gateway.get("/dashboard/recent", headers=reader)).json()[0]["label"] == "Jan Berg"

    erased = await relations_api.post(f"/relations/{jan['relation_id']}/erasure")
    assert erased.status_code == 200, erased.text

    async def gone() -> bool:
        keys = await redis_client.keys(f"card:*:{jan['relation_id']}")
        recent = await redis_client.lrange(f"recent:{reader['X-User-Id']}", 0, -1)
        feed = await gateway.get(f"/views/{view['view_id']}/activity", headers=admin.headers)
        return not keys and not recent and jan["relation_id"] not in feed.text

    await eventually(gone)
    assert (await gateway.get(url, headers=reader)).status_code == 404
