"""Relations created and kept through the gateway alone (no internal token anywhere)."""

from __future__ import annotations

import httpx

from tests.gateway.conftest import Admin
from tests.gateway.public import create_relation

PERSONS = {"kind": "field", "field": "relation_type", "op": "equals", "value": "person"}
FORM = [{"name": "Person", "fields": ["first_name", "last_name", "emails", "organisation_name"]}]


async def test_a_relation_created_in_a_view_says_whether_the_view_takes_it_in(
    gateway: httpx.AsyncClient, admin: Admin
):
    """Catches: the answer's in_view not following the view's base filter (an organisation
    created from a view of persons must say false), and the card not following."""
    view = await admin.view("Persons", PERSONS, FORM)
    anna = await admin.user("anna")
    await admin.grant(anna, view, can_edit=True)

    card = await create_relation(gateway, anna, view, first_name="Sanne", last_name="Bakker")
    assert card["display_name"] == "Sanne Bakker"

    outside = await gateway.post(
        f"/views/{view['view_id']}/relations",
        json={"relation_type": "organisation", "fields": {"organisation_name": "Acme"}},
        headers=anna,
    )
    assert outside.status_code == 201, outside.text
    assert outside.json()["in_view"] is False


async def test_creating_needs_an_editable_view_the_form_and_valid_fields(
    gateway: httpx.AsyncClient, admin: Admin
):
    """Catches: creating from a read-only grant, with a field the form hides, or with a bad
    value turning into anything but a 4xx naming the field."""
    view = await admin.view("Persons", PERSONS, FORM)
    bert = await admin.user("bert")
    await admin.grant(bert, view)
    url = f"/views/{view['view_id']}/relations"
    body = {"relation_type": "person", "fields": {"last_name": "Jansen"}}
    assert (await gateway.post(url, json=body, headers=bert)).status_code == 403

    hidden = {"relation_type": "person", "fields": {"last_name": "J", "phones": []}}
    refused = await gateway.post(url, json=hidden, headers=admin.headers)
    assert refused.status_code == 422
    assert "phones" in refused.text

    bad = {"relation_type": "person", "fields": {"last_name": "J", "emails": [{"address": "x"}]}}
    refused = await gateway.post(url, json=bad, headers=admin.headers)
    assert refused.status_code == 422, refused.text
    assert "emails" in refused.text

    strange = {"relation_type": "robot", "fields": {"last_name": "J"}}
    refused = await gateway.post(url, json=strange, headers=admin.headers)
    assert refused.status_code == 422
    assert "relation_type" in refused.text

    other = await admin.user("carla")
    unknown = await gateway.post(url, json=body, headers=other)
    assert unknown.status_code == 404  # a view not granted does not exist for her
