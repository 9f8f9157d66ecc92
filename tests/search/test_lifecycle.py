"""Changes, views, merges, erasure, stale events and rebuilds, through the broker."""

from __future__ import annotations

import asyncio
import uuid

from tests.helpers import eventually
from tests.search.conftest import (
    ALL,
    SearchService,
    changed,
    erased,
    membership,
    merged,
    updated,
)


async def test_a_change_is_searchable_and_the_old_value_gone(search: SearchService):
    state = await search.add({"last_name": "Oudenaam"})
    await search.wait_found("oudenaam", state.relation_id)
    await search.relation(changed(updated(state, last_name="Nieuwenaam")))
    await search.wait_found("nieuwenaam", state.relation_id)
    assert await search.ids("oudenaam") == []


async def test_membership_entered_and_left_decide_visibility(search: SearchService):
    other = uuid.uuid4()
    state = await search.add({"last_name": "Zichtbaar"}, lists=())
    await search.membership(membership(state.relation_id, other))
    await search.wait_found("zichtbaar", state.relation_id, views=[other])
    assert await search.ids("zichtbaar", views=[ALL]) == []
    await search.membership(membership(state.relation_id, ALL))
    await search.wait_found("zichtbaar", state.relation_id, views=[ALL])
    await search.membership(membership(state.relation_id, other, "membership.left"))
    await search.wait_gone("zichtbaar", state.relation_id, views=[other])
    assert await search.ids("zichtbaar", views=[ALL]) == [str(state.relation_id)]


async def test_membership_before_the_relation_is_kept(search: SearchService):
    state = await search.add({"last_name": "Vroegerdan"}, lists=())
    later = updated(state)  # the relation event arrives after its membership
    await search.membership(membership(state.relation_id, ALL))
    await search.relation(changed(later))
    await search.wait_found("vroegerdan", state.relation_id)


async def test_merged_relation_disappears(search: SearchService):
    survivor = await search.add({"last_name": "Samengevoegd", "first_name": "Blijft"})
    gone = await search.add({"last_name": "Samengevoegd", "first_name": "Verdwijnt"})
    await search.wait_found("samengevoegd", gone.relation_id)
    await search.relation(merged(gone, survivor.relation_id))
    await search.wait_gone("samengevoegd", gone.relation_id)
    assert await search.ids("samengevoegd") == [str(survivor.relation_id)]
    # A late, older update of the merged relation does not bring it back.
    await search.relation(changed(updated(gone, last_name="Samengevoegd")))
    await asyncio.sleep(1.0)
    assert await search.ids("samengevoegd") == [str(survivor.relation_id)]


async def test_erased_relation_disappears_for_good(search: SearchService):
    state = await search.add({"last_name": "Vergeten", "emails": [{"address": "weg@example.org"}]})
    await search.wait_found("weg@example.org", state.relation_id)
    await search.relation(erased(state))
    await search.wait_gone("vergeten", state.relation_id)
    assert await search.ids("weg@example.org") == []
    # Neither a replayed update with a newer version nor a membership revives it.
    await search.relation(changed(updated(updated(updated(state)))))
    await search.membership(membership(state.relation_id, ALL))
    await asyncio.sleep(1.0)
    assert await search.ids("vergeten") == []
    async with search.app.state.engine.connect() as connection:
        from sqlalchemy import text

        row = (
            await connection.execute(
                text("SELECT status, document FROM search_documents WHERE relation_id = :id"),
                {"id": state.relation_id},
            )
        ).one()
        assert tuple(row) == ("erased", None)  # no personal data kept


async def test_stale_and_duplicate_events_are_ignored(search: SearchService):
    v1 = await search.add({"last_name": "Eerste"})
    v2 = updated(v1, last_name="Tweede")
    v3 = updated(v2, last_name="Derde")
    await search.relation(changed(v3))
    await search.wait_found("derde", v1.relation_id)
    await search.relation(changed(v2))  # older: ignored
    duplicate = changed(v3)
    await search.relation(duplicate)
    await search.relation(duplicate)
    marker = await search.add({"last_name": "Markering"})  # same path, published afterwards
    await search.wait_found("markering", marker.relation_id)
    await asyncio.sleep(0.5)
    assert await search.ids("tweede") == []
    assert await search.ids("derde") == [str(v1.relation_id)]


async def test_rebuild_replays_the_topics_from_the_beginning(search: SearchService):
    states = [await search.add({"last_name": f"Herbouw{i}"}) for i in range(3)]
    erased_one = states[0]
    await search.relation(erased(erased_one))
    for i, state in enumerate(states[1:], start=1):
        await search.wait_found(f"herbouw{i}", state.relation_id)
    await search.wait_gone("herbouw0", erased_one.relation_id)
    response = await search.client.post("/admin/rebuild")
    assert response.status_code == 202
    assert response.json()["generation"] == 2

    async def rebuilt() -> bool:
        follower = search.app.state.follower
        return follower.state.generation == 2 and follower.state.seq > 0

    await eventually(rebuilt)
    for i, state in enumerate(states[1:], start=1):
        await search.wait_found(f"herbouw{i}", state.relation_id)
    # The erasure was replayed too ('herbouw0' still finds the others by one typo).
    assert str(erased_one.relation_id) not in await search.ids("herbouw0")
    assert search.app.state.index.count() == 2
    ready = await search.client.get("/ready")
    assert ready.status_code == 200, ready.text
