"""Merges and erasures of relations reach every selection through crm.relations, and every
change of a selection is announced on crm.selections."""

from __future__ import annotations

import httpx
import pytest

from relata_common.events import SELECTION_EVENT_PAYLOADS, SELECTIONS_TOPIC
from tests.helpers import envelopes, eventually, read_topic
from tests.relations.fixtures import create, person
from tests.selections.conftest import (
    city_filter,
    create_selection,
    etag_of,
    member_ids,
    town,
    wait_for_ids,
)

GOUDA = town("Gouda")
LEIDEN = town("Leiden")


@pytest.mark.usefixtures("relations_relay", "lists_worker", "selections_worker", "selections_relay")
async def test_merge_and_erasure_reach_every_selection(
    kafka_bootstrap: str,
    relations_api: httpx.AsyncClient,
    lists_api: httpx.AsyncClient,
    selections_api: httpx.AsyncClient,
):
    jan, jan_twin, piet = [
        await create(relations_api, person(name, addresses=[{"city": LEIDEN}]))
        for name in ("Jan", "Jan (dubbel)", "Piet")
    ]
    survivor, merged = jan["relation_id"], jan_twin["relation_id"]
    await wait_for_ids(lists_api, city_filter(LEIDEN), [jan, jan_twin, piet])
    both = await create_selection(
        selections_api,
        "Both twins",
        {"kind": "manual", "relation_ids": [merged, survivor, piet["relation_id"]]},
    )
    twin_only = await create_selection(
        selections_api, "Twin only", {"kind": "manual", "relation_ids": [merged]}
    )
    leiden = await create_selection(
        selections_api, LEIDEN, {"kind": "filter", "filter": city_filter(LEIDEN)}
    )
    lid = leiden["selection_id"]
    # Kees arrives and a refresh records him; then the merged twin is removed by hand.
    kees = await create(relations_api, person("Kees", addresses=[{"city": LEIDEN}]))
    await wait_for_ids(lists_api, city_filter(LEIDEN), [jan, jan_twin, piet, kees])
    refreshed = (await selections_api.post(f"/selections/{lid}/refresh")).json()
    assert refreshed["added_count"] == 1
    out = await selections_api.post(
        f"/selections/{lid}/members/removal",
        json={"relation_ids": [merged]},
        headers={"If-Match": await etag_of(selections_api, lid)},
    )
    assert out.status_code == 200

    merge = await relations_api.post("/merges", json={"survivor_id": survivor, "merged_id": merged})
    assert merge.status_code == 201, merge.text

    async def merged_everywhere() -> bool:
        return await member_ids(selections_api, both["selection_id"]) == {
            survivor: "hand",
            piet["relation_id"]: "hand",
        } and await member_ids(selections_api, twin_only["selection_id"]) == {survivor: "hand"}

    await eventually(merged_everywhere)
    twins = (await selections_api.get(f"/selections/{both['selection_id']}")).json()
    assert twins["member_count"] == 2  # no duplicate
    # In Leiden the twin was removed by hand: that exclusion now holds for the survivor, over
    # the survivor's membership from the filter.
    assert await member_ids(selections_api, lid) == {
        piet["relation_id"]: "source",
        kees["relation_id"]: "source",
    }
    excluded = (await selections_api.get(f"/selections/{lid}/exclusions")).json()
    assert [e["relation_id"] for e in excluded] == [survivor]

    for relation in (piet, kees):
        erased = await relations_api.post(f"/relations/{relation['relation_id']}/erasure")
        assert erased.status_code == 200, erased.text

    async def erased_everywhere() -> bool:
        return (
            await member_ids(selections_api, both["selection_id"]) == {survivor: "hand"}
            and await member_ids(selections_api, lid) == {}
        )

    await eventually(erased_everywhere)
    assert (await selections_api.get(f"/selections/{lid}")).json()["member_count"] == 0
    # The refresh history no longer names the erased relation; the recorded counts stay.
    added = await selections_api.get(
        f"/selections/{lid}/refreshes/{refreshed['refresh_id']}/changes",
        params={"change": "added"},
    )
    assert added.json()["relation_ids"] == []
    assert added.json()["count"] == 1

    # Every touched selection announced the merge and the erasures.
    wanted = {both["selection_id"], twin_only["selection_id"], lid}

    def reasons(records) -> list[tuple[str, str]]:
        return [
            (e.subject_id, e.payload.get("reason", e.type))
            for e in envelopes(records)
            if e.subject_id in wanted
        ]

    records = await read_topic(
        kafka_bootstrap,
        SELECTIONS_TOPIC,
        until=lambda rs: sum(r == "relation.erased" for _, r in reasons(rs)) >= 3,
    )
    seen = reasons(records)
    assert (both["selection_id"], "relation.merged") in seen
    assert (twin_only["selection_id"], "relation.merged") in seen
    assert (lid, "relation.merged") in seen
    assert (both["selection_id"], "relation.erased") in seen
    assert seen.count((lid, "relation.erased")) == 2
    merged_event = next(
        e
        for e in envelopes(records)
        if e.subject_id == both["selection_id"] and e.payload.get("reason") == "relation.merged"
    )
    assert merged_event.payload["changes"]["removed_ids"] == [merged]
    assert merged_event.payload["changes"]["added_ids"] == []
    assert merged_event.payload["state"]["member_count"] == 2
    assert merged_event.actor.kind == "user"


@pytest.mark.usefixtures("relations_relay", "lists_worker", "selections_relay")
async def test_events_on_crm_selections(
    kafka_bootstrap: str,
    relations_api: httpx.AsyncClient,
    lists_api: httpx.AsyncClient,
    selections_api: httpx.AsyncClient,
):
    people = [
        await create(relations_api, person(name, addresses=[{"city": GOUDA}]))
        for name in ("Ans", "Bep", "Cor")
    ]
    await wait_for_ids(lists_api, city_filter(GOUDA), people)
    selection = await create_selection(selections_api, GOUDA, {"kind": "manual"})
    sid = selection["selection_id"]
    await selections_api.patch(
        f"/selections/{sid}", json={"name": "Gouda 2026"}, headers={"If-Match": '"1"'}
    )
    await selections_api.post(
        f"/selections/{sid}/members",
        json={"relation_ids": [p["relation_id"] for p in people]},
        headers={"If-Match": '"2"'},
    )
    filtered = await create_selection(
        selections_api, "Gouda filter", {"kind": "filter", "filter": city_filter(GOUDA)}
    )
    await selections_api.post(
        f"/selections/{filtered['selection_id']}/members/removal",
        json={"relation_ids": [p["relation_id"] for p in people]},
        headers={"If-Match": '"1"'},
    )
    await selections_api.post(
        f"/selections/{filtered['selection_id']}/members",
        json={"relation_ids": [people[0]["relation_id"]]},
        headers={"If-Match": '"2"'},
    )
    refreshed = await selections_api.post(f"/selections/{filtered['selection_id']}/refresh")
    assert refreshed.status_code == 200
    deleted = await selections_api.delete(f"/selections/{sid}", headers={"If-Match": '"3"'})
    assert deleted.status_code == 204, deleted.text

    wanted = {sid, filtered["selection_id"]}

    def mine(records):
        return [e for e in envelopes(records) if e.subject_id in wanted]

    records = await read_topic(
        kafka_bootstrap, SELECTIONS_TOPIC, until=lambda rs: len(mine(rs)) >= 7
    )
    events = mine(records)
    first = [(e.type, e.subject_version) for e in events if e.subject_id == sid]
    assert first == [
        ("selection.created", 1),
        ("selection.changed", 2),
        ("selection.changed", 3),
        ("selection.deleted", 4),
    ]
    for event in events:
        assert event.producer == "selections"
        assert event.actor.id == "u1"
        SELECTION_EVENT_PAYLOADS[event.type].model_validate(event.payload)
    renamed = [e for e in events if e.subject_id == sid][1]
    assert renamed.payload["reason"] == "renamed"
    assert renamed.payload["state"]["name"] == "Gouda 2026"
    hand = [e for e in events if e.subject_id == sid][2].payload
    # the test settings cap ids at 2 per event; the count stays exact
    assert hand["changes"]["added_count"] == 3
    assert len(hand["changes"]["added_ids"]) == 2
    assert hand["changes"]["added_truncated"] is True
    refreshed_event = next(e for e in events if e.type == "selection.refreshed")
    assert refreshed_event.payload["trigger"] == "hand"
    assert refreshed_event.payload["changes"]["added_count"] == 0
    assert refreshed_event.payload["state"]["member_count"] == 1
