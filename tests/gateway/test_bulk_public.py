"""Bulk edits from a view, through the gateway alone, on the real automation, selections,
lists and relations services: a dry run lists every change and changes nothing, the edit runs
showing its progress, undo puts the values back; only fields of the view's form, only
relations the view shows, only with the bulk.edit right."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

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
)

PERSONS = {"kind": "field", "field": "relation_type", "op": "equals", "value": "person"}
TABS = [{"name": "Person", "fields": ["relation_number", "first_name", "last_name", "salutation"]}]


@pytest.fixture
def automation_transports(
    relations_api: httpx.AsyncClient,
    lists_api: httpx.AsyncClient,
    selections_api: httpx.AsyncClient,  # noqa: F811
) -> dict[str, Any]:
    return {
        "relations": relations_api._transport,
        "lists": lists_api._transport,
        "selections": selections_api._transport,
    }


@pytest.fixture
def extra_services(
    automation_api: httpx.AsyncClient,  # noqa: F811
    selections_api: httpx.AsyncClient,  # noqa: F811
) -> dict[str, httpx.AsyncClient]:
    return {"automation": automation_api, "selections": selections_api}


def family(name: str) -> str:
    """A last name of this test alone: the tests share one broker."""
    return f"{name}{uuid.uuid4().hex[:6]}"


def named(last_name: str) -> dict[str, Any]:
    return {"kind": "field", "field": "last_name", "op": "equals", "value": last_name}


async def members(gateway: httpx.AsyncClient, headers: dict, view: dict, list_id: str) -> set:
    page = await gateway.get(f"/views/{view['view_id']}/lists/{list_id}/members", headers=headers)
    assert page.status_code == 200, page.text
    return {row["relation_id"] for row in page.json()["relations"]}


async def salutations(gateway: httpx.AsyncClient, headers: dict, view: dict, cards: list) -> list:
    found = []
    for card in cards:
        url = f"/views/{view['view_id']}/relations/{card['relation_id']}"
        found.append((await gateway.get(url, headers=headers)).json()["tabs"][0]["fields"])
    return [f["salutation"] for f in found]


async def finished(gateway: httpx.AsyncClient, headers: dict, location: str) -> dict[str, Any]:
    """The bulk edit once it is done, polled as a client shows its progress."""
    seen: dict[str, Any] = {}

    async def done() -> bool:
        response = await gateway.get(location, headers=headers)
        assert response.status_code == 200, response.text
        seen.update(response.json())
        assert seen["done"] <= (seen["total"] or 0)
        return seen["status"] == "done"

    await eventually(done)
    return seen


async def test_dry_run_apply_and_undo_on_a_list_of_the_view(
    gateway: httpx.AsyncClient, admin: Admin
):
    """Catches: bulk edits open to roles without bulk.edit, fields outside the form or not
    stored, a list of another view as the source, a bulk edit read or undone from another
    view."""
    name = family("Bulk")
    view = await admin.view("Members", PERSONS, TABS)
    other = await admin.view("Others", PERSONS, TABS)
    saved = await gateway.post(
        f"/views/{view['view_id']}/lists",
        json={"name": "The family", "filter": named(name)},
        headers=admin.headers,
    )
    assert saved.status_code == 201, saved.text
    list_id = saved.json()["list_id"]
    staff = await admin.user("sofie")
    await admin.grant(staff, view, can_edit=True)
    cards = [
        await create_relation(gateway, staff, view, first_name="An", last_name=name),
        await create_relation(
            gateway, staff, view, first_name="Bo", last_name=name, salutation="Hi Bo"
        ),
        await create_relation(
            gateway, staff, view, first_name="Cor", last_name=name, salutation="Dear friend"
        ),
    ]
    ids = {c["relation_id"] for c in cards}

    async def all_in() -> bool:
        return await members(gateway, staff, view, list_id) == ids

    await eventually(all_in, timeout=CATCHING_UP)
    url = f"/views/{view['view_id']}/bulk-edits"
    body = {"source": {"list_id": list_id}, "changes": {"salutation": "Dear friend"}}

    assert (await gateway.post(url, json=body)).status_code == 401
    # Staff lack bulk.edit.
    assert (await gateway.post(url, json=body, headers=staff)).status_code == 403
    # Fields outside the form, fields no edit may set, lists of other views: named.
    for changes, loc in (
        ({"emails": [{"address": "x@example.org"}]}, ["body", "changes", "emails"]),
        ({"relation_number": 7}, ["body", "changes", "relation_number"]),
    ):
        refused = await gateway.post(url, json={**body, "changes": changes}, headers=admin.headers)
        assert refused.status_code == 422, refused.text
        assert refused.json()["detail"][0]["loc"] == loc
    foreign = {**body, "source": {"list_id": other["lists"][0]["list_id"]}}
    refused = await gateway.post(url, json=foreign, headers=admin.headers)
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "source", "list_id"]

    # The dry run: every change, relation by relation, and nothing changed.
    dry = await gateway.post(url, json=body, headers=admin.headers)
    assert dry.status_code == 200, dry.text
    preview = dry.json()
    assert (preview["relations"], preview["changing"], preview["unchanged"]) == (3, 2, 1)
    planned = {p["display_name"]: p["changes"] for p in preview["planned"]}
    assert planned == {
        f"An {name}": [{"field": "salutation", "old": None, "new": "Dear friend"}],
        f"Bo {name}": [{"field": "salutation", "old": "Hi Bo", "new": "Dear friend"}],
        f"Cor {name}": [],
    }
    assert await salutations(gateway, staff, view, cards) == [None, "Hi Bo", "Dear friend"]

    # Applied: answered at once, its progress at its Location until done.
    started = await gateway.post(url, json={**body, "dry_run": False}, headers=admin.headers)
    assert started.status_code == 202, started.text
    location = started.headers["Location"]
    assert started.json()["total"] == 3
    batch = await finished(gateway, admin.headers, location)
    assert (batch["done"], batch["changed"], batch["unchanged"], batch["failed"]) == (3, 2, 1, 0)
    assert batch["source"] == {"list_id": list_id, "selection_id": None}
    assert batch["changes"] == {"salutation": "Dear friend"}

    async def all_dear() -> bool:
        return await salutations(gateway, staff, view, cards) == ["Dear friend"] * 3

    await eventually(all_dear, timeout=CATCHING_UP)
    items = (await gateway.get(f"{location}/items", headers=admin.headers)).json()
    changed = {i["relation_id"]: i["changes"] for i in items if i["outcome"] == "changed"}
    assert changed == {
        cards[0]["relation_id"]: [{"field": "salutation", "old": None, "new": "Dear friend"}],
        cards[1]["relation_id"]: [{"field": "salutation", "old": "Hi Bo", "new": "Dear friend"}],
    }
    # Not from another view, not by staff.
    batch_id = batch["batch_id"]
    there = f"/views/{other['view_id']}/bulk-edits/{batch_id}"
    assert (await gateway.get(there, headers=admin.headers)).status_code == 404
    assert (await gateway.post(f"{there}/undo", headers=admin.headers)).status_code == 404
    assert (await gateway.get(location, headers=staff)).status_code == 403
    assert (await gateway.post(f"{location}/undo", headers=staff)).status_code == 403

    # Undone: the previous values are back; a second undo is refused.
    undone = await gateway.post(f"{location}/undo", headers=admin.headers)
    assert undone.status_code == 200, undone.text
    assert undone.json()["restored"] == 2 and undone.json()["conflicts"] == []
    assert undone.json()["batch"]["undone_at"] is not None

    async def restored() -> bool:
        return await salutations(gateway, staff, view, cards) == [None, "Hi Bo", "Dear friend"]

    await eventually(restored, timeout=CATCHING_UP)
    assert (await gateway.post(f"{location}/undo", headers=admin.headers)).status_code == 409


async def test_a_selection_edits_only_the_relations_the_view_still_shows(
    gateway: httpx.AsyncClient, admin: Admin
):
    """Catches: a bulk edit reaching relations that left the view, or a selection of another
    view as the source."""
    name = family("Kept")
    view = await admin.view("Family", named(name), TABS)
    other = await admin.view("Everyone", PERSONS, TABS)
    everyone = view["lists"][0]["list_id"]
    staying = await create_relation(gateway, admin.headers, view, first_name="Ed", last_name=name)
    leaving = await create_relation(gateway, admin.headers, view, first_name="Fe", last_name=name)

    async def both_in() -> bool:
        shown = await members(gateway, admin.headers, view, everyone)
        return shown == {staying["relation_id"], leaving["relation_id"]}

    await eventually(both_in, timeout=CATCHING_UP)
    made = await gateway.post(
        f"/views/{view['view_id']}/selections",
        json={"name": "Mailing", "list_id": everyone},
        headers=admin.headers,
    )
    assert made.status_code == 201, made.text
    selection_id = made.json()["selection_id"]

    # Fe marries and leaves the view; she stays in the frozen selection.
    url = f"/views/{view['view_id']}/relations/{leaving['relation_id']}"
    moved = await gateway.patch(
        url,
        json={"fields": {"last_name": f"{name}-Jansen"}},
        headers={**admin.headers, "If-Match": leaving["etag"]},
    )
    assert moved.status_code == 200, moved.text

    async def gone() -> bool:
        return (await gateway.get(url, headers=admin.headers)).status_code == 404

    await eventually(gone, timeout=CATCHING_UP)

    body = {"source": {"selection_id": selection_id}, "changes": {"salutation": "Dear Ed"}}
    foreign = await gateway.post(
        f"/views/{other['view_id']}/bulk-edits", json=body, headers=admin.headers
    )
    assert foreign.status_code == 422
    assert foreign.json()["detail"][0]["loc"] == ["body", "source", "selection_id"]
    bulk = f"/views/{view['view_id']}/bulk-edits"
    dry = (await gateway.post(bulk, json=body, headers=admin.headers)).json()
    assert [p["relation_id"] for p in dry["planned"]] == [staying["relation_id"]]
    started = await gateway.post(bulk, json={**body, "dry_run": False}, headers=admin.headers)
    assert started.status_code == 202, started.text
    batch = await finished(gateway, admin.headers, started.headers["Location"])
    assert (batch["total"], batch["changed"]) == (1, 1)
    # Fe, seen through the view that still shows her, kept her salutation.
    fe = await gateway.get(
        f"/views/{other['view_id']}/relations/{leaving['relation_id']}", headers=admin.headers
    )
    assert fe.json()["tabs"][0]["fields"]["salutation"] is None
