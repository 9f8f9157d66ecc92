"""Adjustment rules and generated properties against the real relations, lists, selections and
contact moments services: buttons, triggers on creation, field changes and list membership,
conditions, every run recorded."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.automation.conftest import unique
from tests.helpers import eventually
from tests.relations.fixtures import create, organisation, person
from tests.selections.conftest import (  # noqa: F401 - the services' fixtures, reused
    city_filter,
    lists_api,
    lists_database,
    lists_settings,
    lists_worker,
    selections_api,
    selections_database,
    selections_settings,
    selections_transports,
)


@pytest.fixture
def automation_transports(
    relations_api: httpx.AsyncClient,
    selections_api: httpx.AsyncClient,  # noqa: F811
    lists_api: httpx.AsyncClient,  # noqa: F811
    cm_api: httpx.AsyncClient,
) -> dict[str, Any]:
    return {
        "relations": relations_api._transport,
        "selections": selections_api._transport,
        "lists": lists_api._transport,
        "contactmoments": cm_api._transport,
    }


async def rule(client: httpx.AsyncClient, body: dict) -> dict:
    response = await client.post("/rules", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def runs_of(client: httpx.AsyncClient, relation: dict) -> list[dict]:
    response = await client.get("/rules/runs", params={"relation_id": relation["relation_id"]})
    return [r for r in response.json() if r["status"] != "pending"]


async def wait_runs(client: httpx.AsyncClient, relation: dict, count: int) -> list[dict]:
    async def done() -> bool:
        return len(await runs_of(client, relation)) >= count

    await eventually(done)
    return await runs_of(client, relation)


async def test_buttons_assign_me_and_end_membership(
    relations_api: httpx.AsyncClient, automation_api: httpx.AsyncClient
):
    await relations_api.post(
        "/custom-fields",
        json={"key": "relationship_manager", "label": "Relationship manager", "type": "text"},
    )
    await relations_api.post(
        "/roles",
        json={
            "code": "member",
            "label": "Member",
            "subject_types": ["person"],
            "object_types": ["organisation"],
        },
    )
    association = await create(relations_api, organisation("Vereniging"))
    marie = await create(relations_api, person("Marie"))
    added = await relations_api.post(
        f"/relations/{marie['relation_id']}/functions",
        json={
            "role": "member",
            "object_id": association["relation_id"],
            "start_date": "2020-01-01",
        },
    )
    assert added.status_code == 201, added.text

    assign = await rule(
        automation_api,
        {
            "name": "Assign me as relationship manager",
            "trigger": {"kind": "button", "label": "Assign me as relationship manager"},
            "actions": [
                {"kind": "set_field", "field": "custom.relationship_manager", "value": "{actor}"}
            ],
        },
    )
    end = await rule(
        automation_api,
        {
            "name": "End membership today",
            "trigger": {"kind": "button", "label": "End membership today"},
            "actions": [{"kind": "end_function", "role": "member"}],
        },
    )
    labels = [b["trigger"]["label"] for b in (await automation_api.get("/rules/buttons")).json()]
    assert labels == ["Assign me as relationship manager", "End membership today"]

    pressed = await automation_api.post(
        f"/rules/{assign['rule_id']}/run", json={"relation_id": marie["relation_id"]}
    )
    assert pressed.status_code == 200, pressed.text
    run = pressed.json()
    assert run["status"] == "done" and run["actor_id"] == "anouk"
    assert run["changes"] == [
        {
            "action": "set_field",
            "field": "custom.relationship_manager",
            "old": None,
            "new": "anouk",
        }
    ]
    state = (await relations_api.get(f"/relations/{marie['relation_id']}")).json()
    assert state["fields"]["custom"]["relationship_manager"] == "anouk"
    history = (await relations_api.get(f"/relations/{marie['relation_id']}/history")).json()
    assert history[0]["actor"] == {"kind": "user", "id": "anouk"}

    ended = await automation_api.post(
        f"/rules/{end['rule_id']}/run", json={"relation_id": marie["relation_id"]}
    )
    assert ended.json()["status"] == "done", ended.text
    state = (await relations_api.get(f"/relations/{marie['relation_id']}")).json()
    assert state["functions"][0]["end_date"] == datetime.now(UTC).date().isoformat()
    recorded = await runs_of(automation_api, marie)
    assert {r["rule_id"] for r in recorded} == {assign["rule_id"], end["rule_id"]}

    not_button = await rule(
        automation_api,
        {
            "name": "on create",
            "trigger": {"kind": "created"},
            "actions": [{"kind": "clear_field", "field": "salutation"}],
        },
    )
    refused = await automation_api.post(
        f"/rules/{not_button['rule_id']}/run", json={"relation_id": marie["relation_id"]}
    )
    assert refused.status_code == 422


async def test_bad_rules_name_the_field(automation_api: httpx.AsyncClient):
    response = await automation_api.post(
        "/rules",
        json={
            "name": "bad",
            "trigger": {"kind": "field_changed", "field": "shoe_size"},
            "condition": {"all": [{"kind": "field", "field": "salutation", "op": "like"}]},
            "actions": [{"kind": "set_field", "field": "nope", "value": 1}],
        },
    )
    assert response.status_code == 422
    locs = [e["loc"] for e in response.json()["detail"]]
    assert ["body", "condition", "all", 0, "op"] in locs
    assert ["body", "trigger", "field"] in locs
    assert ["body", "actions", 0, "field"] in locs
    unknown = await automation_api.post(
        "/rules", json={"name": "x", "trigger": {"kind": "sometimes"}, "actions": []}
    )
    assert unknown.status_code == 422


@pytest.mark.usefixtures("automation_worker")
async def test_triggers_on_creation_and_field_change_with_condition(
    relations_api: httpx.AsyncClient,
    selections_api: httpx.AsyncClient,  # noqa: F811
    cm_api: httpx.AsyncClient,
    automation_api: httpx.AsyncClient,
):
    welcome = (
        await selections_api.post(
            "/selections",
            json={"name": "Welcome", "source": {"kind": "manual", "relation_ids": []}},
        )
    ).json()
    salutation = unique("Dear")
    await rule(
        automation_api,
        {
            "name": "Welcome new relations",
            "trigger": {"kind": "created"},
            "condition": {
                "all": [
                    {"kind": "field", "field": "salutation", "op": "equals", "value": salutation}
                ]
            },
            "actions": [
                {"kind": "add_to_selection", "selection_id": welcome["selection_id"]},
                {"kind": "log_contact_moment", "subject": "Welcome letter sent"},
            ],
        },
    )
    last_name_rule = await rule(
        automation_api,
        {
            "name": "Name changed: check the salutation",
            "trigger": {"kind": "field_changed", "field": "last_name"},
            "actions": [{"kind": "set_field", "field": "salutation", "value": "Check"}],
        },
    )
    # Would loop with the rule above if a rule's own changes triggered rules.
    await rule(
        automation_api,
        {
            "name": "Salutation changed",
            "trigger": {"kind": "field_changed", "field": "salutation"},
            "actions": [{"kind": "set_field", "field": "last_name", "value": "Loop"}],
        },
    )
    chosen = await create(relations_api, person(unique("Ann"), salutation=salutation))
    other = await create(relations_api, person(unique("Bob"), salutation="Hi"))

    [run] = await wait_runs(automation_api, chosen, 1)
    assert run["status"] == "done", run
    assert run["trigger"]["event_type"] == "relation.created"
    assert [c["action"] for c in run["changes"]] == ["add_to_selection", "log_contact_moment"]
    members = (await selections_api.get(f"/selections/{welcome['selection_id']}/members")).json()
    assert [m["relation_id"] for m in members["members"]] == [chosen["relation_id"]]
    timeline = await cm_api.get(f"/relations/{chosen['relation_id']}/contact-moments")
    assert timeline.status_code == 200, timeline.text
    [skipped] = await wait_runs(automation_api, other, 1)
    assert skipped["status"] == "skipped" and "condition" in skipped["error"]

    changed = await relations_api.patch(
        f"/relations/{other['relation_id']}",
        json={"fields": {"last_name": "Renamed"}},
        headers={"If-Match": f'"{other["version"]}"'},
    )
    assert changed.status_code == 200
    runs = await wait_runs(automation_api, other, 2)
    by_rule = {r["rule_id"]: r for r in runs}
    assert by_rule[last_name_rule["rule_id"]]["changes"][0]["new"] == "Check"
    state = (await relations_api.get(f"/relations/{other['relation_id']}")).json()
    assert state["fields"]["salutation"] == "Check"
    assert state["fields"]["last_name"] == "Renamed"  # the second rule did not fire
    assert len(await runs_of(automation_api, other)) == 2


@pytest.mark.usefixtures("lists_worker", "automation_worker")
async def test_list_triggers_and_generated_property(
    relations_api: httpx.AsyncClient,
    lists_api: httpx.AsyncClient,  # noqa: F811
    automation_api: httpx.AsyncClient,
):
    city = unique("Utrecht")
    paying = (
        await lists_api.post(
            "/lists", json={"name": "Paying members this year", "filter": city_filter(city)}
        )
    ).json()
    already = await create(relations_api, person(unique("Early"), addresses=[{"city": city}]))

    async def listed() -> bool:
        response = await lists_api.post("/evaluate/ids", json={"filter": city_filter(city)})
        return already["relation_id"] in response.json()["relation_ids"]

    await eventually(listed)
    defined = await automation_api.post(
        "/properties",
        json={
            "key": unique("active_member"),
            "label": "Active member",
            "list_id": paying["list_id"],
        },
    )
    assert defined.status_code == 201, defined.text
    assert defined.json()["holders"] == 1
    held = (await automation_api.get(f"/relations/{already['relation_id']}/properties")).json()
    assert [p["label"] for p in held] == ["Active member"]

    await relations_api.post(
        "/roles",
        json={
            "code": "member",
            "label": "Member",
            "subject_types": ["person"],
            "object_types": ["organisation"],
        },
    )
    association = await create(relations_api, organisation("Vereniging"))
    await rule(
        automation_api,
        {
            "name": "Joined the paying members",
            "trigger": {"kind": "entered_list", "list_id": paying["list_id"]},
            "actions": [
                {"kind": "add_function", "role": "member", "object_id": association["relation_id"]}
            ],
        },
    )
    await rule(
        automation_api,
        {
            "name": "Left the paying members",
            "trigger": {"kind": "left_list", "list_id": paying["list_id"]},
            "actions": [
                {"kind": "set_field", "field": "salutation", "value": "Former member"},
                {"kind": "end_function", "role": "member"},
            ],
        },
    )
    joiner = await create(relations_api, person(unique("Late"), addresses=[{"city": city}]))

    async def has_property() -> bool:
        response = await automation_api.get(f"/relations/{joiner['relation_id']}/properties")
        return [p["label"] for p in response.json()] == ["Active member"]

    await eventually(has_property)
    [joined] = await wait_runs(automation_api, joiner, 1)
    assert joined["status"] == "done", joined
    current = await relations_api.get(f"/relations/{joiner['relation_id']}")
    assert [f["role"] for f in current.json()["functions"]] == ["member"]
    moved = await relations_api.patch(
        f"/relations/{joiner['relation_id']}",
        json={"fields": {"addresses": [{"city": unique("Elsewhere")}]}},
        headers={"If-Match": current.headers["ETag"]},
    )
    assert moved.status_code == 200

    async def lost_property() -> bool:
        response = await automation_api.get(f"/relations/{joiner['relation_id']}/properties")
        return response.json() == []

    await eventually(lost_property)
    left, _ = await wait_runs(automation_api, joiner, 2)  # newest first
    assert left["status"] == "done", left
    assert left["trigger"]["event_type"] == "membership.left"
    assert left["trigger"]["list_id"] == paying["list_id"]
    state = (await relations_api.get(f"/relations/{joiner['relation_id']}")).json()
    assert state["fields"]["salutation"] == "Former member"
    assert state["functions"][0]["end_date"] == datetime.now(UTC).date().isoformat()


async def test_references_name_what_uses_a_list(
    lists_api: httpx.AsyncClient,  # noqa: F811
    automation_api: httpx.AsyncClient,
):
    """Before a list is deleted the gateway asks what uses it: rules triggered by it or
    reading it in their condition, merge rules limited to it, properties held while in it.

    Catches: a reference kind left out (the list would be deleted from under it)."""
    city = unique("Utrecht")
    made = await lists_api.post("/lists", json={"name": "Here", "filter": city_filter(city)})
    list_id = made.json()["list_id"]
    set_field = [{"kind": "set_field", "field": "salutation", "value": "Dear"}]
    await rule(
        automation_api,
        {
            "name": "On entering",
            "trigger": {"kind": "entered_list", "list_id": list_id},
            "actions": set_field,
        },
    )
    await rule(
        automation_api,
        {
            "name": "When in it",
            "trigger": {"kind": "created"},
            "condition": {"not": {"kind": "in_list", "list_id": list_id}},
            "actions": set_field,
        },
    )
    await rule(
        automation_api, {"name": "Unrelated", "trigger": {"kind": "created"}, "actions": set_field}
    )
    merging = await automation_api.post(
        "/merge-rules",
        json={"name": "Merge here", "list_ids": [list_id], "match_fields": ["email"]},
    )
    assert merging.status_code == 201, merging.text
    held = await automation_api.post(
        "/properties", json={"key": unique("here"), "label": "Lives here", "list_id": list_id}
    )
    assert held.status_code == 201, held.text

    found = (await automation_api.get("/references", params={"list_id": list_id})).json()
    assert [(r["name"], r["how"]) for r in found["rules"]] == [
        ("On entering", "trigger"),
        ("When in it", "condition"),
    ]
    assert [r["name"] for r in found["merge_rules"]] == ["Merge here"]
    assert [r["name"] for r in found["properties"]] == ["Lives here"]
    other = await automation_api.get("/references", params={"list_id": str(uuid.uuid4())})
    assert other.json() == {"rules": [], "merge_rules": [], "properties": []}
