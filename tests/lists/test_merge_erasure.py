"""Merges and erasures: membership follows the relation that remains, or ends."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx

from tests.lists.conftest import Platform
from tests.lists.support import (
    CONTACTMOMENTS_TOPIC,
    DONATIONS_TOPIC,
    Scope,
    contact_moment,
    donation,
    field,
    known,
    new_list,
)
from tests.relations.fixtures import create, person

RECENT = date.today() - timedelta(days=10)


def ids(*relations: dict[str, Any]) -> set[str]:
    return {r["relation_id"] for r in relations}


async def merge(relations_api: httpx.AsyncClient, survivor: dict, merged: dict) -> None:
    response = await relations_api.post(
        "/merges",
        json={"survivor_id": survivor["relation_id"], "merged_id": merged["relation_id"]},
    )
    assert response.status_code == 201, response.text


async def test_a_merged_relation_leaves_and_its_donations_count_for_the_survivor(
    relations_api: httpx.AsyncClient, live_lists: httpx.AsyncClient, platform: Platform
):
    merged = await create(relations_api, person("Dubbel"))
    survivor = await create(relations_api, person("Echt"))
    later = await create(relations_api, person("Laatst"))
    await known(live_lists, merged, survivor, later)
    scope = Scope(live_lists, ids(merged, survivor, later))
    await platform.publish(DONATIONS_TOPIC, donation(merged["relation_id"], "150.00", RECENT))
    donors = await new_list(
        live_lists, {"kind": "donations", "total_more_than": 100}, "Donated over EUR 100"
    )
    twice = await new_list(live_lists, {"kind": "donations", "min_count": 2}, "Donated twice")
    named = await new_list(live_lists, field("last_name", "equals", "Dubbel"), "Dubbel")
    await scope.wait(donors, ids(merged))
    await scope.wait(named, ids(merged))

    await merge(relations_api, survivor, merged)
    await scope.wait(donors, ids(survivor))
    await scope.wait(named, set())
    assert (await live_lists.get(f"/relations/{merged['relation_id']}/lists")).json() == []
    history = (
        await live_lists.get(f"/lists/{named}/members/{merged['relation_id']}/history")
    ).json()
    assert history[0]["change"] == "left"
    assert history[0]["cause"]["event_type"] == "relation.merged"
    assert history[0]["cause"]["criteria"][0] == "relation is merged"

    # A donation to the merged relation, registered after the merge, is the survivor's.
    await platform.publish(DONATIONS_TOPIC, donation(merged["relation_id"], "5.00", RECENT))
    await scope.wait(twice, ids(survivor))

    # Merged on again: everything follows to the last survivor, also donations that still
    # name the first merged relation.
    await merge(relations_api, later, survivor)
    await scope.wait(donors, ids(later))
    await scope.wait(twice, ids(later))
    three = await new_list(live_lists, {"kind": "donations", "min_count": 3}, "Three times")
    await platform.publish(DONATIONS_TOPIC, donation(merged["relation_id"], "7.00", RECENT))
    await scope.wait(three, ids(later))


async def test_an_erased_relation_leaves_every_list(
    relations_api: httpx.AsyncClient, live_lists: httpx.AsyncClient, platform: Platform
):
    gone = await create(relations_api, person("Weg", addresses=[{"city": "Utrecht"}]))
    stays = await create(relations_api, person("Blijft", addresses=[{"city": "Utrecht"}]))
    await known(live_lists, gone, stays)
    scope = Scope(live_lists, ids(gone, stays))
    await platform.publish(DONATIONS_TOPIC, donation(gone["relation_id"], "500.00", RECENT))
    await platform.publish(CONTACTMOMENTS_TOPIC, contact_moment([gone["relation_id"]]))
    utrecht = await new_list(live_lists, field("city", "equals", "Utrecht"), "Utrecht")
    donors = await new_list(live_lists, {"kind": "donations", "min_count": 1}, "Donors")
    phoned = await new_list(live_lists, {"kind": "contact"}, "Phoned")
    quiet = await new_list(live_lists, {"not": {"kind": "contact"}}, "Never contacted")
    follows = await new_list(live_lists, {"kind": "in_list", "list_id": utrecht}, "Follows")
    await scope.wait(donors, ids(gone))
    await scope.wait(phoned, ids(gone))
    await scope.wait(quiet, ids(stays))
    assert len((await live_lists.get(f"/relations/{gone['relation_id']}/lists")).json()) == 4

    erased = await relations_api.post(f"/relations/{gone['relation_id']}/erasure")
    assert erased.status_code == 200, erased.text
    for list_id in (utrecht, follows):
        await scope.wait(list_id, ids(stays))
    for list_id in (donors, phoned):
        await scope.wait(list_id, set())
    await scope.wait(quiet, ids(stays))  # the erased relation does not come back as "quiet"
    assert (await live_lists.get(f"/relations/{gone['relation_id']}/lists")).json() == []
    history = (
        await live_lists.get(f"/lists/{donors}/members/{gone['relation_id']}/history")
    ).json()
    assert history[0]["change"] == "left"
    assert history[0]["cause"]["event_type"] == "relation.erased"
    # A late donation of the erased relation is not kept.
    await platform.publish(DONATIONS_TOPIC, donation(gone["relation_id"], "9.00", RECENT))
    await platform.publish(DONATIONS_TOPIC, donation(stays["relation_id"], "9.00", RECENT))
    await scope.wait(donors, ids(stays))
