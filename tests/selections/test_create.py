"""Creating selections from a relation list, a filter or by hand; their members are frozen."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.relations.fixtures import create, person
from tests.selections.conftest import (
    city_filter,
    create_selection,
    member_ids,
    town,
    wait_for_count,
)

AMSTERDAM = town("Amsterdam")
UTRECHT = town("Utrecht")


@pytest.mark.usefixtures("relations_relay", "lists_worker")
async def test_create_from_list_filter_and_by_hand(
    relations_api: httpx.AsyncClient,
    lists_api: httpx.AsyncClient,
    selections_api: httpx.AsyncClient,
):
    utrecht = [
        await create(relations_api, person(name, addresses=[{"city": UTRECHT}]))
        for name in ("Berg", "Jansen", "Visser")
    ]
    amsterdam = await create(relations_api, person("Smit", addresses=[{"city": AMSTERDAM}]))
    await wait_for_count(lists_api, city_filter(UTRECHT), 3)
    await wait_for_count(lists_api, city_filter(AMSTERDAM), 1)
    listed = await lists_api.post("/lists", json={"name": UTRECHT, "filter": city_filter(UTRECHT)})
    assert listed.status_code == 201, listed.text

    from_list = await create_selection(
        selections_api, "Utrecht mailing", {"kind": "list", "list_id": listed.json()["list_id"]}
    )
    assert from_list["member_count"] == 3
    assert from_list["source"]["kind"] == "list"
    assert from_list["version"] == 1
    members = await member_ids(selections_api, from_list["selection_id"])
    assert members == {r["relation_id"]: "source" for r in utrecht}

    from_filter = await create_selection(
        selections_api,
        AMSTERDAM,
        {"kind": "filter", "filter": city_filter(AMSTERDAM)},
        daily_refresh=True,
    )
    assert from_filter["member_count"] == 1
    assert from_filter["daily_refresh"] is True
    assert await member_ids(selections_api, from_filter["selection_id"]) == {
        amsterdam["relation_id"]: "source"
    }

    picked = [utrecht[0]["relation_id"], amsterdam["relation_id"]]
    by_hand = await create_selection(
        selections_api, "Picked", {"kind": "manual", "relation_ids": [*picked, picked[0]]}
    )
    assert by_hand["member_count"] == 2
    assert await member_ids(selections_api, by_hand["selection_id"]) == dict.fromkeys(
        picked, "hand"
    )

    # Frozen: a new relation in Utrecht does not join until a refresh.
    await create(relations_api, person("Nieuw", addresses=[{"city": UTRECHT}]))
    await wait_for_count(lists_api, city_filter(UTRECHT), 4)
    again = await selections_api.get(f"/selections/{from_list['selection_id']}")
    assert again.json()["member_count"] == 3

    names = [s["name"] for s in (await selections_api.get("/selections")).json()]
    assert names == [AMSTERDAM, "Picked", "Utrecht mailing"]


@pytest.mark.usefixtures("relations_api", "lists_api")
async def test_refused_sources(
    selections_api: httpx.AsyncClient,
):
    unknown_list = await selections_api.post(
        "/selections", json={"name": "x", "source": {"kind": "list", "list_id": str(uuid.uuid4())}}
    )
    assert unknown_list.status_code == 404, unknown_list.text

    bad_filter = await selections_api.post(
        "/selections",
        json={
            "name": "x",
            "source": {
                "kind": "filter",
                "filter": {"all": [{"kind": "field", "field": "shoe_size", "op": "equals"}]},
            },
        },
    )
    assert bad_filter.status_code == 422, bad_filter.text
    assert all(e["loc"][:3] == ["body", "source", "filter"] for e in bad_filter.json()["detail"])

    ghost = str(uuid.uuid4())
    unknown_relation = await selections_api.post(
        "/selections", json={"name": "x", "source": {"kind": "manual", "relation_ids": [ghost]}}
    )
    assert unknown_relation.status_code == 422
    assert unknown_relation.json()["detail"][0]["loc"] == ["body", "source", "relation_ids", 0]

    mixed = await selections_api.post(
        "/selections",
        json={"name": "x", "source": {"kind": "list", "filter": city_filter(UTRECHT)}},
    )
    assert mixed.status_code == 422

    daily_by_hand = await selections_api.post(
        "/selections",
        json={"name": "x", "source": {"kind": "manual"}, "daily_refresh": True},
    )
    assert daily_by_hand.status_code == 409

    empty = await create_selection(selections_api, "Empty", {"kind": "manual"})
    assert empty["member_count"] == 0
    refresh = await selections_api.post(f"/selections/{empty['selection_id']}/refresh")
    assert refresh.status_code == 409
