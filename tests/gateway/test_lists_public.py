"""Relation lists through the gateway alone, as a user works with them: saved under a view,
renamed, refiltered (relations enter and leave, and the list tells why), copied or moved to
another view, deleted only when nothing uses them; members on a date. Rights: edit rights in
the view (read-only users get 403), views not granted answer 404.

The automation and selections services stand behind the gateway (it asks them what uses a
list); nothing here calls a service itself.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from relata_gateway.relation_lists import LOCAL_ZONE
from tests.automation.conftest import (  # noqa: F401 - the automation service's fixtures
    automation_api,
    automation_database,
    automation_settings,
)
from tests.gateway.conftest import Admin
from tests.gateway.public import create_relation
from tests.helpers import CATCHING_UP, eventually
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
def automation_transports(
    relations_api: httpx.AsyncClient, lists_api: httpx.AsyncClient
) -> dict[str, Any]:
    return {"relations": relations_api._transport, "lists": lists_api._transport}


@pytest.fixture
def extra_services(
    automation_api: httpx.AsyncClient,  # noqa: F811
    selections_api: httpx.AsyncClient,  # noqa: F811
) -> dict[str, httpx.AsyncClient]:
    return {"automation": automation_api, "selections": selections_api}


def in_city(city: str) -> dict[str, Any]:
    return {"kind": "field", "field": "city", "op": "equals", "value": city}


async def member_ids(
    gateway: httpx.AsyncClient, headers: dict[str, str], view_id: str, list_id: str
) -> set[str]:
    page = await gateway.get(f"/views/{view_id}/lists/{list_id}/members", headers=headers)
    assert page.status_code == 200, page.text
    return {r["relation_id"] for r in page.json()["relations"]}


async def wait_members(
    gateway: httpx.AsyncClient,
    headers: dict[str, str],
    view_id: str,
    list_id: str,
    wanted: set[str],
) -> None:
    async def there() -> bool:
        return await member_ids(gateway, headers, view_id, list_id) == wanted

    await eventually(there, timeout=CATCHING_UP)


async def save(
    gateway: httpx.AsyncClient, headers: dict[str, str], view_id: str, name: str, node: dict
) -> str:
    saved = await gateway.post(
        f"/views/{view_id}/lists", json={"name": name, "filter": node}, headers=headers
    )
    assert saved.status_code == 201, saved.text
    return str(saved.json()["list_id"])


async def test_rename_refilter_and_why_a_relation_entered_and_left(
    gateway: httpx.AsyncClient, admin: Admin
):
    """Catches: a rename that allows two lists of one name in a view, a filter change that
    reads a field the form hides, a read-only user changing a list, and a why that does not
    follow the relation in and out."""
    view = await admin.view("Members", PERSONS, TABS)
    v = view["view_id"]
    anna = await admin.user("anna")
    bert = await admin.user("bert")
    await admin.grant(anna, view, can_edit=True)
    await admin.grant(bert, view)
    utrecht, zeist = town("Utrecht"), town("Zeist")
    listed = await save(gateway, anna, v, "Utrecht", in_city(utrecht))
    again = await gateway.post(
        f"/views/{v}/lists", json={"name": "Utrecht", "filter": PERSONS}, headers=anna
    )
    assert again.status_code == 409, again.text

    ida = await create_relation(
        gateway, anna, view, first_name="Ida", last_name="Bakker", addresses=[{"city": utrecht}]
    )
    await wait_members(gateway, anna, v, listed, {ida["relation_id"]})

    # Renamed: the new name in the view; a name another list has is refused.
    renamed = await gateway.patch(
        f"/views/{v}/lists/{listed}", json={"name": "Utrecht centre"}, headers=anna
    )
    assert renamed.status_code == 200, renamed.text
    names = [ref["name"] for ref in (await gateway.get(f"/views/{v}/lists", headers=anna)).json()]
    assert names == ["All relations", "Utrecht centre"]
    taken = await gateway.patch(
        f"/views/{v}/lists/{listed}", json={"name": "All relations"}, headers=anna
    )
    assert taken.status_code == 409, taken.text
    base = view["lists"][0]["list_id"]
    base_renamed = await gateway.patch(
        f"/views/{v}/lists/{base}", json={"name": "Everyone"}, headers=anna
    )
    assert base_renamed.status_code == 409, base_renamed.text

    # Read-only: 403, and a filter on a field the form hides: 422 naming the path.
    refused = await gateway.patch(
        f"/views/{v}/lists/{listed}", json={"filter": in_city(zeist)}, headers=bert
    )
    assert refused.status_code == 403, refused.text
    hidden = await gateway.patch(
        f"/views/{v}/lists/{listed}",
        json={"filter": {"kind": "field", "field": "birth_date", "op": "empty"}},
        headers=anna,
    )
    assert hidden.status_code == 422, hidden.text
    assert hidden.json()["detail"][0]["loc"] == ["body", "filter", "field"]

    # The filter changes to Zeist: Ida leaves. She moves to Zeist: she enters again.
    detail = await gateway.get(f"/views/{v}/lists/{listed}", headers=anna)
    assert detail.json()["filter"] == in_city(utrecht)
    refiltered = await gateway.patch(
        f"/views/{v}/lists/{listed}",
        json={"filter": in_city(zeist)},
        headers={**anna, "If-Match": detail.headers["ETag"]},
    )
    assert refiltered.status_code == 200, refiltered.text
    stale = await gateway.patch(
        f"/views/{v}/lists/{listed}",
        json={"name": "Zeist"},
        headers={**anna, "If-Match": detail.headers["ETag"]},
    )
    assert stale.status_code == 412, stale.text
    await wait_members(gateway, anna, v, listed, set())
    moved = await gateway.patch(
        f"/views/{v}/relations/{ida['relation_id']}",
        json={"fields": {"addresses": [{"city": zeist}]}},
        headers={**anna, "If-Match": ida["etag"]},
    )
    assert moved.status_code == 200, moved.text
    await wait_members(gateway, anna, v, listed, {ida["relation_id"]})

    why_url = f"/views/{v}/lists/{listed}/members/{ida['relation_id']}/why"

    async def edit_recorded() -> bool:
        # The fields an edit changed come from the gateway's own activity record.
        latest = (await gateway.get(why_url, headers=bert)).json()["history"][0]
        return bool(latest["changed_fields"])

    await eventually(edit_recorded, timeout=CATCHING_UP)
    why = await gateway.get(why_url, headers=bert)
    assert why.status_code == 200, why.text
    history = why.json()["history"]
    assert why.json()["member"] is True
    assert [(h["change"], h["cause"]) for h in history] == [
        ("entered", "relation.updated"),
        ("left", "list.changed"),
        ("entered", "relation.created"),
    ]
    assert history[0]["changed_fields"] == ["addresses"]
    assert f"city equals {zeist!r}" in history[0]["criteria"]
    assert history[1]["explanation"] == "the list's filter changed"

    # Members on a date: today she is in; the day before the list existed, nobody.
    day = datetime.now(LOCAL_ZONE).date()
    on = await gateway.get(
        f"/views/{v}/lists/{listed}/members", params={"on": day.isoformat()}, headers=bert
    )
    assert on.status_code == 200, on.text
    assert [r["relation_id"] for r in on.json()["relations"]] == [ida["relation_id"]]
    assert on.json()["relations"][0]["display_name"] == "Ida Bakker"
    before = await gateway.get(
        f"/views/{v}/lists/{listed}/members-at",
        params={"on": (day - timedelta(days=1)).isoformat()},
        headers=bert,
    )
    assert before.json()["member_count"] == 0 and before.json()["relations"] == []


async def test_why_and_members_only_within_the_view(gateway: httpx.AsyncClient, admin: Admin):
    """Catches: a why or a members-on-a-date answer for a relation, list or view the user
    may not see (each answers 404)."""
    city = town("Utrecht")
    persons = await admin.view("Persons", PERSONS, TABS)
    organisations = await admin.view(
        "Organisations",
        {"kind": "field", "field": "relation_type", "op": "equals", "value": "organisation"},
        [{"name": "Org", "fields": ["organisation_name", "addresses"]}],
    )
    cas = await admin.user("cas")
    await admin.grant(cas, persons, can_edit=True)
    v = persons["view_id"]
    listed = await save(gateway, cas, v, "Here", in_city(city))
    firm = await create_relation(
        gateway,
        admin.headers,
        organisations,
        "organisation",
        organisation_name="Bakkerij",
        addresses=[{"city": city}],
    )
    url = f"/views/{v}/lists/{listed}/members/{firm['relation_id']}/why"
    assert (await gateway.get(url, headers=cas)).status_code == 404  # not in the view
    other_list = organisations["lists"][0]["list_id"]
    foreign = f"/views/{v}/lists/{other_list}"
    assert (
        await gateway.get(f"{foreign}/members-at?on=2026-01-01", headers=cas)
    ).status_code == 404
    assert (await gateway.get(foreign, headers=cas)).status_code == 404
    not_granted = f"/views/{organisations['view_id']}/lists/{other_list}"
    assert (await gateway.get(not_granted, headers=cas)).status_code == 404
    assert (await gateway.delete(not_granted, headers=cas)).status_code == 404


async def test_delete_is_refused_while_used_and_for_the_base_list(
    gateway: httpx.AsyncClient, admin: Admin
):
    """Catches: deleting a list a selection or another list still uses (409 naming them), the
    view's base list, or by a read-only user."""
    view = await admin.view("Donors", PERSONS, TABS)
    v = view["view_id"]
    dana = await admin.user("dana")
    eric = await admin.user("eric")
    await admin.grant(dana, view, can_edit=True)
    await admin.grant(eric, view)
    city = town("Utrecht")
    utrecht = await save(gateway, dana, v, "Utrecht", in_city(city))
    reader = await save(gateway, dana, v, "Utrecht, named", {"kind": "in_list", "list_id": utrecht})
    made = await gateway.post(
        f"/views/{v}/selections",
        json={"name": "Newsletter", "list_id": utrecht},
        headers=dana,
    )
    assert made.status_code == 201, made.text

    assert (await gateway.delete(f"/views/{v}/lists/{utrecht}", headers=eric)).status_code == 403
    refused = await gateway.delete(f"/views/{v}/lists/{utrecht}", headers=dana)
    assert refused.status_code == 409, refused.text
    assert "selection 'Newsletter'" in refused.json()["detail"]
    assert "list 'Utrecht, named'" in refused.json()["detail"]
    used = refused.json()["used_by"]
    assert [s["name"] for s in used["selections"]] == ["Newsletter"]
    assert [s["id"] for s in used["lists"]] == [reader]
    assert used["rules"] == [] and used["properties"] == []

    base = view["lists"][0]["list_id"]
    base_refused = await gateway.delete(f"/views/{v}/lists/{base}", headers=dana)
    assert base_refused.status_code == 409 and "All relations" in base_refused.json()["detail"]

    gone = await gateway.delete(
        f"/views/{v}/selections/{made.json()['selection_id']}", headers=dana
    )
    assert gone.status_code == 204, gone.text
    assert (await gateway.delete(f"/views/{v}/lists/{reader}", headers=dana)).status_code == 204
    assert (await gateway.delete(f"/views/{v}/lists/{utrecht}", headers=dana)).status_code == 204
    names = [ref["name"] for ref in (await gateway.get(f"/views/{v}/lists", headers=dana)).json()]
    assert names == ["All relations"]


async def test_copy_and_move_run_the_filter_over_the_target_view(
    gateway: httpx.AsyncClient, admin: Admin
):
    """Catches: a copy that keeps the source view's scope (a relation outside the target view
    in the copy), a copy naming a list of the old view, and copying into a view the user may
    only read (403) or not see (404)."""
    utrecht = town("Utrecht")
    everyone = await admin.view("Everyone", PERSONS, TABS)
    local = await admin.view("Utrecht", in_city(utrecht), TABS)
    elsewhere = await admin.view("Elsewhere", PERSONS, TABS)
    fay = await admin.user("fay")
    await admin.grant(fay, everyone, can_edit=True)
    await admin.grant(fay, local, can_edit=True)
    await admin.grant(fay, elsewhere)
    e, u = everyone["view_id"], local["view_id"]
    name = f"Berg {utrecht[-6:]}"
    bergs = await save(
        gateway,
        fay,
        e,
        "Bergs",
        {"kind": "field", "field": "last_name", "op": "equals", "value": name},
    )
    here = await create_relation(
        gateway, fay, everyone, last_name=name, addresses=[{"city": utrecht}]
    )
    there = await create_relation(
        gateway, fay, everyone, last_name=name, addresses=[{"city": "Zeist"}]
    )
    await wait_members(gateway, fay, e, bergs, {here["relation_id"], there["relation_id"]})

    read_only = await gateway.post(
        f"/views/{e}/lists/{bergs}/copy", json={"view_id": elsewhere["view_id"]}, headers=fay
    )
    assert read_only.status_code == 403, read_only.text
    unseen = await admin.view("Unseen", PERSONS, TABS)
    hidden = await gateway.post(
        f"/views/{e}/lists/{bergs}/copy", json={"view_id": unseen["view_id"]}, headers=fay
    )
    assert hidden.status_code == 404, hidden.text

    copied = await gateway.post(f"/views/{e}/lists/{bergs}/copy", json={"view_id": u}, headers=fay)
    assert copied.status_code == 201, copied.text
    await wait_members(gateway, fay, u, copied.json()["list_id"], {here["relation_id"]})
    assert await member_ids(gateway, fay, e, bergs) == {here["relation_id"], there["relation_id"]}

    # A list reading another list of its view cannot leave that view.
    reading = await save(gateway, fay, e, "Bergs again", {"kind": "in_list", "list_id": bergs})
    named_old = await gateway.post(
        f"/views/{e}/lists/{reading}/copy", json={"view_id": u, "name": "x"}, headers=fay
    )
    assert named_old.status_code == 422, named_old.text
    assert named_old.json()["detail"][0]["loc"] == ["list", "filter", "list_id"]

    # Moved: in the target under its new name, gone from the source.
    moved = await gateway.post(
        f"/views/{e}/lists/{reading}/copy",
        json={"view_id": elsewhere["view_id"], "move": True},
        headers=fay,
    )
    assert moved.status_code == 403  # still read-only there
    assert (await gateway.delete(f"/views/{e}/lists/{reading}", headers=fay)).status_code == 204
    moved = await gateway.post(
        f"/views/{e}/lists/{bergs}/copy",
        json={"view_id": u, "move": True, "name": "Bergs (moved)"},
        headers=fay,
    )
    assert moved.status_code == 201, moved.text
    await wait_members(gateway, fay, u, moved.json()["list_id"], {here["relation_id"]})
    names = [r["name"] for r in (await gateway.get(f"/views/{e}/lists", headers=fay)).json()]
    assert names == ["All relations"]
    names = [r["name"] for r in (await gateway.get(f"/views/{u}/lists", headers=fay)).json()]
    assert names == ["All relations", "Bergs", "Bergs (moved)"]
