"""Adjustment rules and action buttons through the gateway alone, on the real automation,
relations, lists and contact moments services: rules fire when a relation is created or a field
changes and their runs show in the log; a button a form places shows on the card and runs with
one click, telling only what the view's form shows."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

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
ORGANISATIONS = {"kind": "field", "field": "relation_type", "op": "equals", "value": "organisation"}
FIELDS = ["first_name", "last_name", "salutation"]


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
def extra_services(automation_api: httpx.AsyncClient) -> dict[str, httpx.AsyncClient]:  # noqa: F811
    return {"automation": automation_api}


async def define(gateway: httpx.AsyncClient, admin: Admin, rule: dict[str, Any]) -> dict:
    response = await gateway.post("/automation/rules", json=rule, headers=admin.headers)
    assert response.status_code == 201, response.text
    return response.json()


def field(card: dict[str, Any], name: str) -> Any:
    return card["tabs"][0]["fields"][name]


@pytest.mark.usefixtures("automation_worker")
async def test_rules_fire_on_creation_and_field_change_and_log_their_runs(
    gateway: httpx.AsyncClient, admin: Admin
):
    """Catches: rule routes open to roles without automation.manage, or to API keys without
    the admin scope."""
    view = await admin.view("Members", PERSONS, [{"name": "Person", "fields": FIELDS}])
    staff = await admin.user("stella")
    await admin.grant(staff, view, can_edit=True)
    welcome = {
        "name": "Welcome",
        "trigger": {"kind": "created"},
        "condition": PERSONS,
        "actions": [{"kind": "set_field", "field": "salutation", "value": "Dear member"}],
    }

    # Nobody unknown: 401 before anything else.
    for method, path in (("GET", "/automation/rules"), ("POST", "/automation/rules")):
        response = await gateway.request(method, path, json=welcome)
        assert response.status_code == 401, (method, path)
    # Staff lack automation.manage: they neither define rules nor read them or their runs.
    assert (await gateway.post("/automation/rules", json=welcome, headers=staff)).status_code == 403
    for path in ("/automation/rules", "/automation/runs"):
        assert (await gateway.get(path, headers=staff)).status_code == 403
    # An API key acting as an administrator still needs the admin scope to define rules.
    issued = await gateway.post(
        f"/users/{await _admin_id(gateway, admin)}/api-keys",
        json={"name": "script"},
        headers=admin.headers,
    )
    key = {"X-API-Key": issued.json()["key"]}
    assert (await gateway.post("/automation/rules", json=welcome, headers=key)).status_code == 403
    assert (await gateway.get("/automation/rules", headers=key)).status_code == 200

    # Bad rules name the field.
    wrong = {**welcome, "trigger": {"kind": "field_changed", "field": "shoe_size"}}
    refused = await gateway.post("/automation/rules", json=wrong, headers=admin.headers)
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "trigger", "field"]
    unknown = {**welcome, "actions": [{"kind": "send_flowers"}]}
    refused = await gateway.post("/automation/rules", json=unknown, headers=admin.headers)
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"][:3] == [
        "body",
        "actions",
        0,
    ]

    created_rule = await define(gateway, admin, welcome)
    renamed_rule = await define(
        gateway,
        admin,
        {
            "name": "Greet by first name",
            "trigger": {"kind": "field_changed", "field": "first_name"},
            "actions": [{"kind": "set_field", "field": "salutation", "value": "Dear friend"}],
        },
    )
    listed = (await gateway.get("/automation/rules", headers=admin.headers)).json()
    assert {r["rule_id"] for r in listed} == {created_rule["rule_id"], renamed_rule["rule_id"]}

    # Created through the view: the rule sets the salutation and its run is in the log.
    card = await create_relation(gateway, staff, view, last_name="Visser", first_name="Eva")
    url = f"/views/{view['view_id']}/relations/{card['relation_id']}"

    async def salutation_is(value: str) -> bool:
        shown = await gateway.get(url, headers=staff)
        return shown.status_code == 200 and field(shown.json(), "salutation") == value

    await eventually(lambda: salutation_is("Dear member"), timeout=CATCHING_UP)
    runs = await gateway.get(
        "/automation/runs", params={"relation_id": card["relation_id"]}, headers=admin.headers
    )
    assert runs.status_code == 200, runs.text
    [run] = runs.json()
    assert run["rule_id"] == created_rule["rule_id"] and run["status"] == "done"
    assert run["changes"] == [
        {"action": "set_field", "field": "salutation", "old": None, "new": "Dear member"}
    ]

    # A field changed through the card: the other rule runs (the rule's own change does not
    # set off rules again).
    current = await gateway.get(url, headers=staff)
    edited = await gateway.patch(
        url,
        json={"fields": {"first_name": "Evi"}},
        headers={**staff, "If-Match": current.headers["ETag"]},
    )
    assert edited.status_code == 200, edited.text
    await eventually(lambda: salutation_is("Dear friend"), timeout=CATCHING_UP)
    of_rule = await gateway.get(
        f"/automation/rules/{renamed_rule['rule_id']}/runs", headers=admin.headers
    )
    assert [r["relation_id"] for r in of_rule.json()] == [card["relation_id"]]
    assert of_rule.json()[0]["trigger"]["changed_fields"] == ["first_name"]
    missing = await gateway.get(f"/automation/rules/{uuid.uuid4()}/runs", headers=admin.headers)
    assert missing.status_code == 404


async def _admin_id(gateway: httpx.AsyncClient, admin: Admin) -> str:
    me = await gateway.get("/me", headers=admin.headers)
    assert me.status_code == 200, me.text
    return me.json()["user_id"]


async def test_a_button_the_form_places_runs_from_the_card(
    gateway: httpx.AsyncClient, admin: Admin
):
    """Catches: a button run without edit rights, outside the view, for a rule the form does
    not place, or telling changes to fields the form hides."""
    called = await define(
        gateway,
        admin,
        {
            "name": "Called",
            "trigger": {"kind": "button", "label": "Mark as called"},
            "actions": [
                {"kind": "set_field", "field": "salutation", "value": "Called"},
                {"kind": "set_field", "field": "initials", "value": "Q."},
                {"kind": "log_contact_moment", "contact_kind": "phone", "subject": "Called"},
            ],
        },
    )
    elsewhere = await define(
        gateway,
        admin,
        {
            "name": "Not here",
            "trigger": {"kind": "button", "label": "Not on this form"},
            "actions": [{"kind": "clear_field", "field": "salutation"}],
        },
    )
    not_a_button = await define(
        gateway,
        admin,
        {
            "name": "On creation",
            "trigger": {"kind": "created"},
            "enabled": False,
            "actions": [{"kind": "clear_field", "field": "salutation"}],
        },
    )
    placing = [{"name": "Person", "fields": FIELDS, "buttons": [called["rule_id"]]}]
    # A form places button rules only.
    wrong = [{"name": "Person", "fields": FIELDS, "buttons": [not_a_button["rule_id"]]}]
    refused = await gateway.post(
        "/admin/views",
        json={"name": "Wrong", "base_filter": PERSONS, "form": {"tabs": wrong}},
        headers=admin.headers,
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["detail"][0]["loc"] == ["body", "form", "tabs", 0, "buttons", 0]

    view = await admin.view("Members", PERSONS, placing)
    organisations = await admin.view(
        "Organisations", ORGANISATIONS, [{"name": "O", "fields": ["organisation_name"]}]
    )
    anna = await admin.user("anna")
    bert = await admin.user("bert")
    await admin.grant(anna, view, can_edit=True)
    await admin.grant(bert, view)
    card = await create_relation(gateway, anna, view, last_name="Smit", salutation="Hello")
    company = await create_relation(
        gateway, admin.headers, organisations, "organisation", organisation_name="Smit BV"
    )
    url = f"/views/{view['view_id']}/relations/{card['relation_id']}"
    assert card["buttons"] == [
        {"rule_id": called["rule_id"], "label": "Mark as called", "tab": "Person"}
    ]

    press = f"{url}/buttons/{called['rule_id']}"
    assert (await gateway.post(press)).status_code == 401
    assert (await gateway.post(press, headers=bert)).status_code == 403  # read-only
    outside = f"/views/{view['view_id']}/relations/{company['relation_id']}/buttons/"
    assert (await gateway.post(outside + called["rule_id"], headers=anna)).status_code == 404
    unplaced = await gateway.post(f"{url}/buttons/{elsewhere['rule_id']}", headers=anna)
    assert unplaced.status_code == 404

    pressed = await gateway.post(press, headers=anna)
    assert pressed.status_code == 200, pressed.text
    run = pressed.json()
    assert run["status"] == "done" and run["label"] == "Mark as called"
    assert [c for c in run["changes"] if not c["hidden"]] == [
        {
            "action": "set_field",
            "field": "salutation",
            "old": "Hello",
            "new": "Called",
            "unchanged": False,
            "details": None,
            "hidden": False,
        }
    ]
    # The initials and the contact moment are outside the form: told as done, nothing more.
    hidden = [c for c in run["changes"] if c["hidden"]]
    assert [c["action"] for c in hidden] == ["set_field", "log_contact_moment"]
    assert "Q." not in pressed.text and "initials" not in pressed.text
    refreshed = (await gateway.get(url, headers=anna)).json()
    assert field(refreshed, "salutation") == "Called"
    log = await gateway.get(f"/automation/rules/{called['rule_id']}/runs", headers=admin.headers)
    assert log.json()[0]["actor_id"] == anna["X-User-Id"]
    assert log.json()[0]["changes"][1]["new"] == "Q."  # the administrator's log has it all

    # Disabled, it leaves the card and cannot be pressed.
    disabled = await gateway.put(
        f"/automation/rules/{called['rule_id']}",
        json={**{k: called[k] for k in ("name", "trigger", "actions")}, "enabled": False},
        headers=admin.headers,
    )
    assert disabled.status_code == 200, disabled.text
    assert (await gateway.get(url, headers=anna)).json()["buttons"] == []
    assert (await gateway.post(press, headers=anna)).status_code == 422
