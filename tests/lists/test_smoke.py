"""A first walk through: a list of members in Utrecht follows address changes."""

from __future__ import annotations

import httpx
import pytest

from tests.helpers import eventually
from tests.relations.fixtures import create, person

UTRECHT = {"all": [{"kind": "field", "field": "city", "op": "equals", "value": "Utrecht"}]}


@pytest.mark.usefixtures("relations_relay", "lists_worker")
async def test_list_follows_address_changes(
    relations_api: httpx.AsyncClient,
    lists_api: httpx.AsyncClient,
):
    jan = await create(relations_api, person("Berg", addresses=[{"city": "Utrecht"}]))
    piet = await create(relations_api, person("Jansen", addresses=[{"city": "Amsterdam"}]))

    async def known() -> bool:  # the read model may hold other tests' relations too
        page = await lists_api.post("/evaluate/ids", json={"filter": UTRECHT})
        return jan["relation_id"] in page.json()["relation_ids"]

    await eventually(known)
    created = await lists_api.post("/lists", json={"name": "Members in Utrecht", "filter": UTRECHT})
    assert created.status_code == 201, created.text
    list_id = created.json()["list_id"]
    assert created.json()["member_count"] >= 1

    moved = await relations_api.patch(
        f"/relations/{piet['relation_id']}",
        json={"fields": {"addresses": [{"city": "Utrecht"}]}},
        headers={"If-Match": '"1"'},
    )
    assert moved.status_code == 200

    async def both_in() -> bool:  # asked per relation: the list may hold others' relations
        ours = (jan["relation_id"], piet["relation_id"])
        held = [(await lists_api.get(f"/relations/{r}/lists")).json() for r in ours]
        return all(any(m["list_id"] == list_id for m in lists) for lists in held)

    await eventually(both_in)
    history = (
        await lists_api.get(f"/lists/{list_id}/members/{piet['relation_id']}/history")
    ).json()
    assert history[0]["change"] == "entered"
    assert history[0]["cause"]["event_type"] == "relation.updated"
    assert history[0]["cause"]["criteria"] == ["city equals 'Utrecht'"]
