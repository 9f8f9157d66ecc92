"""Functions (dated roles between two relations) kept through the gateway alone: the role
catalogue, adding, changing, ending and removing a function, shown from both sides, each within
the view's scope and form (no internal token anywhere)."""

from __future__ import annotations

import uuid

import httpx

from tests.gateway.conftest import Admin
from tests.gateway.public import create_relation

PERSONS = {"kind": "field", "field": "relation_type", "op": "equals", "value": "person"}
ORGANISATIONS = {"kind": "field", "field": "relation_type", "op": "equals", "value": "organisation"}
EVERYONE = {"any": [PERSONS, ORGANISATIONS]}
FORM = [
    {"name": "Relation", "fields": ["first_name", "last_name", "organisation_name"]},
    {"name": "Functions", "fields": ["functions"]},
]
NO_FUNCTIONS = [{"name": "Relation", "fields": ["first_name", "last_name", "organisation_name"]}]


async def test_the_role_catalogue_is_open_to_every_logged_in_user(
    gateway: httpx.AsyncClient, admin: Admin
):
    """Catches: the catalogue closed to staff, or open to anyone not logged in."""
    anna = await admin.user("anna")
    assert (await gateway.get("/roles/functions")).status_code == 401
    roles = await gateway.get("/roles/functions", headers=anna)
    assert roles.status_code == 200, roles.text
    director = next(r for r in roles.json() if r["code"] == "director")
    assert director == {
        "code": "director",
        "label": "Director",
        "subject_types": ["person"],
        "object_types": ["organisation"],
    }


async def test_functions_are_kept_and_shown_from_both_sides_within_the_view(
    gateway: httpx.AsyncClient, admin: Admin
):
    """Catches: a function shown only on its holder's card (not the organisation's); the
    other relation named where the view does not show it; functions listed for a relation
    outside the view or in a form without them; adding, changing, ending or
    removing a function whose other relation lies outside the view, from a read-only grant or
    a form without functions; dates out of order passing; and the holder's card not following
    a change (a stale cached state)."""
    everyone = await admin.view("Everyone", EVERYONE, FORM)
    persons = await admin.view("Persons", PERSONS, FORM)
    slim = await admin.view("Slim", EVERYONE, NO_FUNCTIONS)
    anna = await admin.user("anna")
    bert = await admin.user("bert")
    for view in (everyone, persons, slim):
        await admin.grant(anna, view, can_edit=True)
    await admin.grant(bert, everyone)
    jan = await create_relation(gateway, anna, everyone, first_name="Jan", last_name="Vries")
    acme = await create_relation(
        gateway, anna, everyone, relation_type="organisation", organisation_name="Acme BV"
    )
    e, p = everyone["view_id"], persons["view_id"]
    body = {"role": "director", "object_id": acme["relation_id"], "start_date": "2020-01-01"}

    # Adding: an editable view whose form shows functions, both relations in it.
    jan_functions = f"/views/{e}/relations/{jan['relation_id']}/functions"
    assert (await gateway.post(jan_functions, json=body, headers=bert)).status_code == 403
    no_section = f"/views/{slim['view_id']}/relations/{jan['relation_id']}/functions"
    assert (await gateway.post(no_section, json=body, headers=anna)).status_code == 403
    from_persons = f"/views/{p}/relations/{jan['relation_id']}/functions"
    assert (await gateway.post(from_persons, json=body, headers=anna)).status_code == 404
    backwards = {**body, "end_date": "2019-01-01"}
    assert (await gateway.post(jan_functions, json=backwards, headers=anna)).status_code == 422
    wrong_way = {**body, "object_id": jan["relation_id"]}
    acme_functions = f"/views/{e}/relations/{acme['relation_id']}/functions"
    refused = await gateway.post(acme_functions, json=wrong_way, headers=anna)
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["body", "role"]
    added = await gateway.post(jan_functions, json=body, headers=anna)
    assert added.status_code == 201, added.text
    function = added.json()
    assert function["role_label"] == "Director" and function["active"] is True
    assert function["subject_name"] == "Jan Vries" and function["object_name"] == "Acme BV"
    function_url = f"/views/{e}/functions/{function['function_id']}"
    assert added.headers["Location"] == function_url

    # Shown from both sides; the persons view names no organisation.
    for url in (jan_functions, acme_functions):
        listed = await gateway.get(url, headers=bert)
        assert listed.json() == [function], url
    outside = f"/views/{p}/relations/{acme['relation_id']}/functions"
    assert (await gateway.get(outside, headers=anna)).status_code == 404
    assert (await gateway.get(no_section, headers=anna)).status_code == 403
    hidden = (await gateway.get(from_persons, headers=anna)).json()
    assert [(f["object_id"], f["object_name"]) for f in hidden] == [(None, None)]
    assert hidden[0]["subject_name"] == "Jan Vries"
    card = (await gateway.get(f"/views/{e}/relations/{jan['relation_id']}", headers=anna)).json()
    assert [f["role"] for f in card["functions"]] == ["director"]

    # Changing, ending, removing: only where the view shows both relations.
    in_persons = f"/views/{p}/functions/{function['function_id']}"
    dates = {"end_date": "2021-06-30"}
    assert (await gateway.patch(in_persons, json=dates, headers=anna)).status_code == 404
    assert (await gateway.post(f"{in_persons}/end", json={}, headers=anna)).status_code == 404
    assert (await gateway.delete(in_persons, headers=anna)).status_code == 404
    assert (await gateway.patch(function_url, json=dates, headers=bert)).status_code == 403
    unknown = f"/views/{e}/functions/{uuid.uuid4()}"
    assert (await gateway.patch(unknown, json=dates, headers=anna)).status_code == 404
    for bad in ({}, {"start_date": None}, {"end_date": "2019-12-31"}, {"role": "chair"}):
        refused = await gateway.patch(function_url, json=bad, headers=anna)
        assert refused.status_code == 422, (bad, refused.text)

    ended = await gateway.post(f"{function_url}/end", json=dates, headers=anna)
    assert ended.status_code == 200, ended.text
    assert ended.json()["end_date"] == "2021-06-30" and ended.json()["active"] is False
    card = (await gateway.get(f"/views/{e}/relations/{jan['relation_id']}", headers=anna)).json()
    assert card["functions"][0]["end_date"] == "2021-06-30"
    reopened = await gateway.patch(function_url, json={"end_date": None}, headers=anna)
    assert reopened.status_code == 200, reopened.text
    assert reopened.json()["end_date"] is None and reopened.json()["active"] is True
    moved = await gateway.patch(function_url, json={"start_date": "2019-09-01"}, headers=anna)
    assert moved.json()["start_date"] == "2019-09-01"

    assert (await gateway.delete(function_url, headers=bert)).status_code == 403
    removed = await gateway.delete(function_url, headers=anna)
    assert removed.status_code == 204
    for url in (jan_functions, acme_functions):
        assert (await gateway.get(url, headers=anna)).json() == [], url
    assert (await gateway.delete(function_url, headers=anna)).status_code == 404
