"""Automation a functional administrator sets up through the gateway: generated properties
(shown on cards within moments, also on a card opened just before the definition) and merge
rules (a duplicate registration from the rule's source merged as the rule says, one from
elsewhere left to a reviewer). Staff lack automation.manage by default."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest

from relata_gateway.app import create_api
from tests.automation.conftest import (  # noqa: F401 - the automation service's fixtures
    automation_api,
    automation_database,
    automation_settings,
    automation_worker,
)
from tests.gateway.conftest import Admin
from tests.gateway.public import create_relation
from tests.helpers import CATCHING_UP, eventually

PERSONS = {"kind": "field", "field": "relation_type", "op": "equals", "value": "person"}
FRESH_WITHIN = 10.0
"""Seconds a card may take to show a change of definition (it takes about one in practice;
the margin is for a slow, shared machine, far below the card cache's five minutes)."""


def town(name: str) -> str:
    """A city of this test's own: the tests share one broker."""
    return f"{name} {uuid.uuid4().hex[:6]}"


@pytest.fixture
def automation_transports(
    relations_api: httpx.AsyncClient, lists_api: httpx.AsyncClient
) -> dict[str, Any]:
    return {"relations": relations_api._transport, "lists": lists_api._transport}


@pytest.fixture
def extra_services(automation_api: httpx.AsyncClient) -> dict[str, httpx.AsyncClient]:  # noqa: F811
    return {"automation": automation_api}


async def _in_list(gateway: httpx.AsyncClient, admin: Admin, view: dict, list_id: str, rid: str):
    url = f"/views/{view['view_id']}/lists/{list_id}/members"

    async def member() -> bool:
        page = await gateway.get(url, headers=admin.headers)
        return rid in {row["relation_id"] for row in page.json()["relations"]}

    await eventually(member, timeout=CATCHING_UP)


@pytest.mark.usefixtures("automation_worker")
async def test_a_new_property_shows_on_a_card_opened_just_before(
    gateway: httpx.AsyncClient, admin: Admin
):
    """Catches: a definition (or its deletion) that does not announce its holders: the card's
    cached properties part then stays as it was until the cache expires (minutes)."""
    city = town("Utrecht")
    view = await admin.view(
        "Members", PERSONS, [{"name": "P", "fields": ["last_name", "addresses", "properties"]}]
    )
    petra = await admin.user("petra")
    await admin.grant(petra, view, can_edit=True)
    saved = await gateway.post(
        f"/views/{view['view_id']}/lists",
        json={
            "name": "Paying members",
            "filter": {"kind": "field", "field": "city", "op": "equals", "value": city},
        },
        headers=admin.headers,
    )
    assert saved.status_code == 201, saved.text
    members = saved.json()["list_id"]
    card = await create_relation(
        gateway, petra, view, last_name="Visser", addresses=[{"street": "Neude", "city": city}]
    )
    rid = card["relation_id"]
    await _in_list(gateway, admin, view, members, rid)
    card_url = f"/views/{view['view_id']}/relations/{rid}"
    opened = await gateway.get(card_url, headers=petra)  # the properties part is cached now
    assert opened.json()["properties"] == []

    body = {"key": "active_member", "label": "Active member", "list_id": members}
    assert (
        await gateway.post("/automation/properties", json=body, headers=petra)
    ).status_code == 403
    assert (await gateway.get("/automation/properties", headers=petra)).status_code == 403
    unknown = await gateway.post(
        "/automation/properties", json={**body, "list_id": str(uuid.uuid4())}, headers=admin.headers
    )
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"] == ["body", "list_id"]

    defined = await gateway.post("/automation/properties", json=body, headers=admin.headers)
    assert defined.status_code == 201, defined.text
    assert defined.json()["holders"] == 1
    started = time.monotonic()

    async def labels() -> list[str]:
        return [
            p["label"] for p in (await gateway.get(card_url, headers=petra)).json()["properties"]
        ]

    async def shown() -> bool:
        return await labels() == ["Active member"]

    await eventually(shown, timeout=FRESH_WITHIN)
    print(f"property on the card after {time.monotonic() - started:.2f}s")
    again = await gateway.post("/automation/properties", json=body, headers=admin.headers)
    assert again.status_code == 409
    listed = (await gateway.get("/automation/properties", headers=admin.headers)).json()
    assert [p["key"] for p in listed] == ["active_member"]

    property_id = defined.json()["property_id"]
    assert (
        await gateway.delete(f"/automation/properties/{property_id}", headers=petra)
    ).status_code == 403
    gone = await gateway.delete(f"/automation/properties/{property_id}", headers=admin.headers)
    assert gone.status_code == 204

    async def dropped() -> bool:
        return await labels() == []

    await eventually(dropped, timeout=FRESH_WITHIN)
    assert (
        await gateway.delete(f"/automation/properties/{property_id}", headers=admin.headers)
    ).status_code == 404


async def test_merge_rules_are_managed_with_the_right_only(
    gateway: httpx.AsyncClient, admin: Admin
):
    view = await admin.view("Persons", PERSONS, [{"name": "P", "fields": ["last_name"]}])
    staff = await admin.user("sem")
    rule = {
        "name": "Same e-mail and birth date",
        "list_ids": [view["lists"][0]["list_id"]],
        "match_fields": ["email", "birth_date"],
        "keep": {"first_name": "new"},
    }
    assert (await gateway.get("/automation/merge-rules", headers=staff)).status_code == 403
    assert (
        await gateway.post("/automation/merge-rules", json=rule, headers=staff)
    ).status_code == 403

    bad = await gateway.post(
        "/automation/merge-rules",
        json={**rule, "match_fields": ["shoe_size"], "list_ids": [str(uuid.uuid4())]},
        headers=admin.headers,
    )
    assert bad.status_code == 422
    assert ["body", "match_fields", 0] in [e["loc"] for e in bad.json()["detail"]]
    missing = await gateway.post(
        "/automation/merge-rules",
        json={**rule, "list_ids": [str(uuid.uuid4())]},
        headers=admin.headers,
    )
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["body", "list_ids", 0]
    bad_source = await gateway.post(
        "/automation/merge-rules", json={**rule, "sources": ["events"]}, headers=admin.headers
    )
    assert bad_source.status_code == 422, bad_source.text

    made = await gateway.post("/automation/merge-rules", json=rule, headers=admin.headers)
    assert made.status_code == 201, made.text
    rule_id = made.json()["rule_id"]
    assert made.json()["sources"] == [] and made.json()["position"] == 1
    changed = await gateway.put(
        f"/automation/merge-rules/{rule_id}",
        json={**rule, "sources": ["module:events"], "enabled": False},
        headers=admin.headers,
    )
    assert changed.status_code == 200, changed.text
    listed = (await gateway.get("/automation/merge-rules", headers=admin.headers)).json()
    assert [(r["rule_id"], r["sources"], r["enabled"]) for r in listed] == [
        (rule_id, ["module:events"], False)
    ]
    assert (
        await gateway.delete(f"/automation/merge-rules/{rule_id}", headers=staff)
    ).status_code == 403
    assert (
        await gateway.delete(f"/automation/merge-rules/{rule_id}", headers=admin.headers)
    ).status_code == 204
    assert (
        await gateway.put(f"/automation/merge-rules/{rule_id}", json=rule, headers=admin.headers)
    ).status_code == 404


@pytest.mark.usefixtures("automation_worker")
async def test_a_duplicate_registration_from_the_rules_source_is_merged_as_it_says(
    gateway: httpx.AsyncClient, admin: Admin
):
    """Catches: a rule applied to every new relation whatever its source (the registration
    from elsewhere would be merged too), or not applied to its source at all."""
    city = town("Utrecht")
    base = {"all": [PERSONS, {"kind": "field", "field": "city", "op": "equals", "value": city}]}
    fields = ["first_name", "last_name", "birth_date", "emails", "addresses"]
    view = await admin.view("Registrations", base, [{"name": "P", "fields": fields}])
    webform = await admin.user("webform")
    desk = await admin.user("desk")
    for user in (webform, desk):
        await admin.grant(user, view, can_edit=True)
    rule = await gateway.post(
        "/automation/merge-rules",
        json={
            "name": "Web form registrations",
            "match_fields": ["email", "birth_date"],
            "keep": {"first_name": "new", "phones": "newest"},
            "sources": [f"user:{webform['X-User-Id']}"],
        },
        headers=admin.headers,
    )
    assert rule.status_code == 201, rule.text

    email = f"{uuid.uuid4().hex[:8]}@example.org"
    person: dict[str, Any] = {
        "last_name": "de Boer",
        "birth_date": "1984-03-09",
        "emails": [{"address": email}],
        "addresses": [{"street": "Oudegracht", "house_number": "7", "city": city}],
    }
    existing = await create_relation(gateway, admin.headers, view, first_name="Jo", **person)
    # From the web form: merged into the relation that was there first, first name as sent.
    # (Not waited for as a card: it may be merged before the view ever shows it.)
    sent = await gateway.post(
        f"/views/{view['view_id']}/relations",
        json={"relation_type": "person", "fields": {"first_name": "Johanna", **person}},
        headers=webform,
    )
    assert sent.status_code == 201, sent.text
    survivor_url = f"/views/{view['view_id']}/relations/{existing['relation_id']}"

    async def merged() -> bool:
        card = (await gateway.get(survivor_url, headers=admin.headers)).json()
        return card["tabs"][0]["fields"]["first_name"] == "Johanna"

    await eventually(merged, timeout=CATCHING_UP)
    gone = await gateway.get(
        f"/views/{view['view_id']}/relations/{sent.json()['relation_id']}", headers=admin.headers
    )
    assert gone.status_code == 404

    # The same from the desk: the rule does not look at it, the pair waits for a reviewer.
    from_desk = await create_relation(gateway, desk, view, first_name="Joke", **person)
    queue = f"/views/{view['view_id']}/duplicates"
    pairs: list[dict[str, Any]] = []

    async def waiting() -> bool:
        nonlocal pairs
        pairs = (await gateway.get(queue, headers=admin.headers)).json()["pairs"]
        return bool(pairs)

    await eventually(waiting, timeout=CATCHING_UP)
    [pair] = pairs
    assert {r["relation_id"] for r in pair["relations"]} == {
        existing["relation_id"],
        from_desk["relation_id"],
    }
    desk_card = await gateway.get(
        f"/views/{view['view_id']}/relations/{from_desk['relation_id']}", headers=admin.headers
    )
    assert desk_card.status_code == 200  # still there: the rule is for the web form only


def test_the_automation_routes_are_documented_with_examples():
    document = create_api().openapi()
    paths = document["paths"]
    for path in (
        "/views/{view_id}/duplicates",
        "/views/{view_id}/duplicates/{pair_id}/decision",
        "/automation/merge-rules/{rule_id}",
        "/automation/properties/{property_id}",
    ):
        assert path in paths, path
    schemas = document["components"]["schemas"]
    for name in (
        "DuplicatePage",
        "DuplicatePair",
        "DuplicateDecision",
        "DuplicateDecided",
        "MergeRuleInput",
        "MergeRule",
        "GeneratedPropertyInput",
        "DefinedProperty",
    ):
        assert schemas[name]["examples"], name
    decision = paths["/views/{view_id}/duplicates/{pair_id}/decision"]["post"]["responses"]
    assert {"403", "404", "409", "422"} <= set(decision)
