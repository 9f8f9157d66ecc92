"""Selections in a view, through the gateway on the real selections, lists and relations
services: made from one of the view's lists, shown only in that view, refreshed with who was
added, exported as CSV with only the columns the view's form shows."""

from __future__ import annotations

import csv
import io

import httpx
import pytest

from tests.gateway.conftest import Admin
from tests.helpers import CATCHING_UP, eventually
from tests.relations.fixtures import create, person
from tests.selections.conftest import (  # noqa: F401 - fixtures used through pytest
    selections_api,
    selections_database,
    selections_settings,
    selections_transports,
    town,
)

PERSONS = {"kind": "field", "field": "relation_type", "op": "equals", "value": "person"}
TABS = [{"name": "Person", "fields": ["first_name", "last_name", "addresses", "lists"]}]


@pytest.fixture
def extra_services(selections_api: httpx.AsyncClient) -> dict[str, httpx.AsyncClient]:  # noqa: F811
    return {"selections": selections_api}


async def test_selection_from_a_list_refresh_and_export(
    gateway: httpx.AsyncClient, admin: Admin, relations_api: httpx.AsyncClient
):
    view = await admin.view("Members", PERSONS, TABS)
    v = view["view_id"]
    city = town("Utrecht")  # of this test alone: the tests share one broker
    in_city = {"kind": "field", "field": "city", "op": "equals", "value": city}
    saved = await gateway.post(
        f"/views/{v}/lists", json={"name": "Utrecht", "filter": in_city}, headers=admin.headers
    )
    assert saved.status_code == 201, saved.text
    utrecht = saved.json()["list_id"]
    anna = await admin.user("anna")
    bert = await admin.user("bert")
    await admin.grant(anna, view, can_edit=True)
    await admin.grant(bert, view)
    ida = await create(
        relations_api,
        person(
            "Bakker",
            first_name="Ida",
            emails=[{"address": "ida@bakker.example"}],
            addresses=[{"street": "Neude", "house_number": "1", "city": city}],
        ),
    )
    otto = await create(
        relations_api,
        person("Smit", first_name="Otto", addresses=[{"street": "Kade", "city": "Amersfoort"}]),
    )

    async def members() -> set[str]:
        page = await gateway.get(f"/views/{v}/lists/{utrecht}/members", headers=anna)
        return {row["relation_id"] for row in page.json()["relations"]}

    async def ida_in() -> bool:
        return ida["relation_id"] in await members()

    await eventually(ida_in, timeout=CATCHING_UP)

    # Made by someone with edit rights, from a list of the view only.
    body = {"name": "Mailing", "list_id": utrecht}
    assert (
        await gateway.post(f"/views/{v}/selections", json=body, headers=bert)
    ).status_code == 403
    other = await admin.view("Others", PERSONS, TABS)
    foreign = {"name": "Mailing", "list_id": other["lists"][0]["list_id"]}
    refused = await gateway.post(f"/views/{v}/selections", json=foreign, headers=anna)
    assert refused.status_code == 422
    made = await gateway.post(f"/views/{v}/selections", json=body, headers=anna)
    assert made.status_code == 201, made.text
    selection = made.json()
    assert selection["name"] == "Mailing" and selection["list_name"] == "Utrecht"
    assert selection["member_count"] == 1
    s = f"/views/{v}/selections/{selection['selection_id']}"
    listed = (await gateway.get(f"/views/{v}/selections", headers=bert)).json()
    assert [item["selection_id"] for item in listed] == [selection["selection_id"]]
    # Another view does not show it, not even to the administrator.
    elsewhere = f"/views/{other['view_id']}/selections/{selection['selection_id']}"
    assert (await gateway.get(elsewhere, headers=admin.headers)).status_code == 404
    assert (
        await gateway.get(f"/views/{other['view_id']}/selections", headers=admin.headers)
    ).json() == []

    # Otto moves to Utrecht; a refresh adds him, named as the view names him.
    card = f"/views/{v}/relations/{otto['relation_id']}"

    async def otto_shown() -> bool:
        return (await gateway.get(card, headers=anna)).status_code == 200

    # The view's lists fill from a topic that earlier tests also wrote to: allow for catching up.
    await eventually(otto_shown, timeout=CATCHING_UP)
    read = await gateway.get(card, headers=anna)
    moved = await gateway.patch(
        card,
        json={"fields": {"addresses": [{"street": "Neude", "house_number": "2", "city": city}]}},
        headers={**anna, "If-Match": read.headers["ETag"]},
    )
    assert moved.status_code == 200, moved.text

    async def otto_in() -> bool:
        return otto["relation_id"] in await members()

    await eventually(otto_in, timeout=CATCHING_UP)
    assert (await gateway.post(f"{s}/refresh", headers=bert)).status_code == 403
    refreshed = await gateway.post(f"{s}/refresh", headers=anna)
    assert refreshed.status_code == 200, refreshed.text
    done = refreshed.json()
    assert done["added_count"] == 1 and done["removed_count"] == 0
    assert done["added"] == [{"relation_id": otto["relation_id"], "display_name": "Otto Smit"}]
    detail = (await gateway.get(s, headers=bert)).json()
    assert detail["member_count"] == 2 and len(detail["refreshes"]) == 1
    assert "email" not in detail["export_fields"] and "city" in detail["export_fields"]
    again = (await gateway.get(f"{s}/refreshes/{done['refresh_id']}", headers=bert)).json()
    assert again["added"] == done["added"]
    page = (await gateway.get(f"{s}/members", headers=bert)).json()
    assert {r["display_name"] for r in page["relations"]} == {"Ida Bakker", "Otto Smit"}

    # The CSV: only columns the form shows (e-mail is refused), rows of the view's relations.
    assert (
        await gateway.get(f"{s}/export", params={"fields": "email"}, headers=bert)
    ).status_code == 422
    full = await gateway.get(f"{s}/export", headers=bert)
    assert full.status_code == 200 and full.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(full.text)))
    assert rows[0][:4] == ["relation_id", "relation_type", "first_name", "last_name"]
    assert "email" not in rows[0] and "ida@" not in full.text
    assert {row[0] for row in rows[1:]} == {ida["relation_id"], otto["relation_id"]}
    some = await gateway.get(f"{s}/export", params={"fields": "first_name,city"}, headers=bert)
    assert next(csv.reader(io.StringIO(some.text))) == ["first_name", "city"]
    assert city in some.text


async def test_picked_selection_and_export_headers_in_a_language(
    gateway: httpx.AsyncClient, admin: Admin, relations_api: httpx.AsyncClient
):
    """Rows picked from a list's table become a selection of just them (the source of a bulk
    edit on those rows), never reaching a relation the view does not show; the export's headers
    are the form's labels in the language asked for. Catches a picked selection taking the
    whole list, an id outside the view being accepted, and technical headers in a labelled
    export."""
    view = await admin.view("Picked", PERSONS, TABS)
    v = view["view_id"]
    city = town("Zeist")
    in_city = {"kind": "field", "field": "city", "op": "equals", "value": city}
    saved = await gateway.post(
        f"/views/{v}/lists", json={"name": "Zeist", "filter": in_city}, headers=admin.headers
    )
    assert saved.status_code == 201, saved.text
    zeist = saved.json()["list_id"]
    anna = await admin.user("anna")
    await admin.grant(anna, view, can_edit=True)
    address = [{"street": "Slotlaan", "house_number": "3", "city": city}]
    ida = await create(relations_api, person("Bakker", first_name="Ida", addresses=address))
    jan = await create(relations_api, person("Visser", first_name="Jan", addresses=address))

    async def both_in() -> bool:
        page = await gateway.get(f"/views/{v}/lists/{zeist}/members", headers=anna)
        shown = {row["relation_id"] for row in page.json()["relations"]}
        return {ida["relation_id"], jan["relation_id"]} <= shown

    await eventually(both_in, timeout=CATCHING_UP)
    stranger = "0b0e4b4e-8c8a-4c53-9f0e-6d1f0c7d1a11"
    outside = {"name": "Picked", "list_id": zeist, "relation_ids": [stranger]}
    refused = await gateway.post(f"/views/{v}/selections", json=outside, headers=anna)
    assert refused.status_code == 422 and "relation_ids" in refused.text
    body = {"name": "Picked", "list_id": zeist, "relation_ids": [ida["relation_id"]]}
    made = await gateway.post(f"/views/{v}/selections", json=body, headers=anna)
    assert made.status_code == 201, made.text
    assert made.json()["member_count"] == 1
    s = f"/views/{v}/selections/{made.json()['selection_id']}"
    page = (await gateway.get(f"{s}/members", headers=anna)).json()
    assert [r["display_name"] for r in page["relations"]] == ["Ida Bakker"]

    wanted = {"fields": "first_name,last_name,city"}
    dutch = await gateway.get(f"{s}/export", params={**wanted, "language": "nl"}, headers=anna)
    rows = list(csv.reader(io.StringIO(dutch.text)))
    assert rows[0] == ["Voornaam", "Achternaam", "Plaats"]
    assert rows[1] == ["Ida", "Bakker", city]
    english = await gateway.get(f"{s}/export", params={**wanted, "language": "en"}, headers=anna)
    assert next(csv.reader(io.StringIO(english.text))) == ["First name", "Last name", "City"]
    plain = await gateway.get(f"{s}/export", params=wanted, headers=anna)
    assert next(csv.reader(io.StringIO(plain.text))) == ["first_name", "last_name", "city"]
    unknown = await gateway.get(f"{s}/export", params={"language": "fr"}, headers=anna)
    assert unknown.status_code == 422
