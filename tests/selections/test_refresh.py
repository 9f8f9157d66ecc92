"""Hand changes, refreshes that record who was added and removed, the daily refresh and the
refresh-then-members call of a mailing."""

from __future__ import annotations

from datetime import time, timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from relata_selections.refresh import refresh_due_selection
from relata_selections.selections import today
from relata_selections.sources import ListsSource
from tests.relations.fixtures import create, person
from tests.selections.conftest import (
    city_filter,
    create_selection,
    etag_of,
    member_ids,
    town,
    wait_for_count,
    wait_for_ids,
)

AMSTERDAM = town("Amsterdam")
UTRECHT = town("Utrecht")
ZWOLLE = town("Zwolle")


async def move(relations_api: httpx.AsyncClient, relation: dict, city: str) -> None:
    current = await relations_api.get(f"/relations/{relation['relation_id']}")
    moved = await relations_api.patch(
        f"/relations/{relation['relation_id']}",
        json={"fields": {"addresses": [{"city": city}]}},
        headers={"If-Match": current.headers["ETag"]},
    )
    assert moved.status_code == 200, moved.text


async def changes(client: httpx.AsyncClient, selection_id: str, refresh_id: str, change: str):
    found: list[str] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"change": change, "limit": 1}
        if cursor:
            params["cursor"] = cursor
        page = await client.get(
            f"/selections/{selection_id}/refreshes/{refresh_id}/changes", params=params
        )
        assert page.status_code == 200, page.text
        found += page.json()["relation_ids"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return sorted(found)


@pytest.mark.usefixtures("relations_relay", "lists_worker")
async def test_refresh_records_changes_and_respects_hand_exceptions(
    relations_api: httpx.AsyncClient,
    lists_api: httpx.AsyncClient,
    selections_api: httpx.AsyncClient,
):
    a, b, c = [
        await create(relations_api, person(name, addresses=[{"city": UTRECHT}]))
        for name in ("Aalders", "Bos", "Claes")
    ]
    d = await create(relations_api, person("Dekker", addresses=[{"city": AMSTERDAM}]))
    await wait_for_count(lists_api, city_filter(UTRECHT), 3)
    selection = await create_selection(
        selections_api, UTRECHT, {"kind": "filter", "filter": city_filter(UTRECHT)}
    )
    sid = selection["selection_id"]

    # By hand: b out (stays out), d in (stays in). Each change needs the current ETag.
    removed = await selections_api.post(
        f"/selections/{sid}/members/removal",
        json={"relation_ids": [b["relation_id"]]},
        headers={"If-Match": '"1"'},
    )
    assert removed.status_code == 200, removed.text
    assert removed.json()["member_count"] == 2
    assert removed.headers["ETag"] == '"2"'
    added = await selections_api.post(
        f"/selections/{sid}/members",
        json={"relation_ids": [d["relation_id"]]},
        headers={"If-Match": '"2"'},
    )
    assert added.status_code == 200, added.text
    assert added.json()["member_count"] == 3
    exclusions = (await selections_api.get(f"/selections/{sid}/exclusions")).json()
    assert [e["relation_id"] for e in exclusions] == [b["relation_id"]]
    assert exclusions[0]["excluded_by"] == "u1"

    # The source moves on: c leaves Utrecht, e arrives.
    await move(relations_api, c, AMSTERDAM)
    e = await create(relations_api, person("Eelens", addresses=[{"city": UTRECHT}]))
    await wait_for_ids(lists_api, city_filter(UTRECHT), [a, b, e])

    refreshed = await selections_api.post(f"/selections/{sid}/refresh")
    assert refreshed.status_code == 200, refreshed.text
    done = refreshed.json()
    assert (done["added_count"], done["removed_count"]) == (1, 1)
    assert done["source_count"] == 3
    assert done["member_count"] == 3
    assert done["trigger"] == "hand"
    assert refreshed.headers["ETag"] == '"4"'
    assert await member_ids(selections_api, sid) == {
        a["relation_id"]: "source",
        d["relation_id"]: "hand",
        e["relation_id"]: "source",
    }
    assert await changes(selections_api, sid, done["refresh_id"], "added") == [e["relation_id"]]
    assert await changes(selections_api, sid, done["refresh_id"], "removed") == [c["relation_id"]]

    # Added back by hand, b is in again and the exclusion is gone; a refresh changes nothing.
    back = await selections_api.post(
        f"/selections/{sid}/members",
        json={"relation_ids": [b["relation_id"]]},
        headers={"If-Match": await etag_of(selections_api, sid)},
    )
    assert back.json()["member_count"] == 4
    assert (await selections_api.get(f"/selections/{sid}/exclusions")).json() == []
    quiet = (await selections_api.post(f"/selections/{sid}/refresh")).json()
    assert (quiet["added_count"], quiet["removed_count"]) == (0, 0)

    history = (await selections_api.get(f"/selections/{sid}/refreshes")).json()
    assert [h["refresh_id"] for h in history] == [quiet["refresh_id"], done["refresh_id"]]
    assert history[1]["actor_id"] == "u1"

    # Hand-added members stay even when the source drops them.
    await move(relations_api, b, AMSTERDAM)
    await wait_for_ids(lists_api, city_filter(UTRECHT), [a, e])
    after = (await selections_api.post(f"/selections/{sid}/refresh")).json()
    assert (after["added_count"], after["removed_count"]) == (0, 0)
    assert b["relation_id"] in await member_ids(selections_api, sid)


@pytest.mark.usefixtures("relations_relay", "lists_worker")
async def test_mailing_refreshes_first_so_unsubscribed_are_out(
    relations_api: httpx.AsyncClient,
    lists_api: httpx.AsyncClient,
    selections_api: httpx.AsyncClient,
):
    defined = await relations_api.post(
        "/custom-fields", json={"key": "newsletter", "label": "Newsletter", "type": "boolean"}
    )
    assert defined.status_code == 201, defined.text
    subscribed = {
        "all": [{"kind": "field", "field": "custom.newsletter", "op": "equals", "value": True}]
    }
    readers = [
        await create(relations_api, person(name, custom={"newsletter": True}))
        for name in ("Kok", "Lam", "Mol")
    ]
    await wait_for_count(lists_api, subscribed, 3)
    listed = await lists_api.post("/lists", json={"name": "Subscribers", "filter": subscribed})
    selection = await create_selection(
        selections_api, "November issue", {"kind": "list", "list_id": listed.json()["list_id"]}
    )
    sid = selection["selection_id"]

    quitter = readers[1]
    current = await relations_api.get(f"/relations/{quitter['relation_id']}")
    await relations_api.patch(
        f"/relations/{quitter['relation_id']}",
        json={"fields": {"custom": {"newsletter": False}}},
        headers={"If-Match": current.headers["ETag"]},
    )
    await wait_for_ids(lists_api, subscribed, [readers[0], readers[2]])
    assert quitter["relation_id"] in await member_ids(selections_api, sid)  # frozen

    mailing = await selections_api.post(f"/selections/{sid}/mailing", params={"limit": 2})
    assert mailing.status_code == 200, mailing.text
    body = mailing.json()
    assert body["refresh"]["removed_count"] == 1
    assert body["refresh"]["trigger"] == "mailing"
    assert body["member_count"] == 2
    rest = (
        await selections_api.get(
            f"/selections/{sid}/members", params={"cursor": body["next_cursor"]}
        )
        if body["next_cursor"]
        else None
    )
    ids = {m["relation_id"] for m in body["members"]}
    if rest is not None:
        ids |= {m["relation_id"] for m in rest.json()["members"]}
    assert ids == {readers[0]["relation_id"], readers[2]["relation_id"]}

    by_hand = await create_selection(
        selections_api, "Board", {"kind": "manual", "relation_ids": [readers[0]["relation_id"]]}
    )
    plain = (await selections_api.post(f"/selections/{by_hand['selection_id']}/mailing")).json()
    assert plain["refresh"] is None
    assert [m["relation_id"] for m in plain["members"]] == [readers[0]["relation_id"]]


@pytest.mark.usefixtures("relations_relay", "lists_worker")
async def test_daily_refresh(
    relations_api: httpx.AsyncClient,
    lists_api: httpx.AsyncClient,
    selections_api: httpx.AsyncClient,
    selections_sessions: async_sessionmaker[AsyncSession],
    lists_source: ListsSource,
):
    await create(relations_api, person("Oost", addresses=[{"city": ZWOLLE}]))
    await wait_for_count(lists_api, city_filter(ZWOLLE), 1)
    daily = await create_selection(
        selections_api,
        "Daily",
        {"kind": "filter", "filter": city_filter(ZWOLLE)},
        daily_refresh=True,
    )
    static = await create_selection(
        selections_api, "Static", {"kind": "filter", "filter": city_filter(ZWOLLE)}
    )
    # The freeze counts as today's refresh: nothing is due today.
    assert not await refresh_due_selection(selections_sessions, lists_source, today=today(), cap=10)

    newcomer = await create(relations_api, person("West", addresses=[{"city": ZWOLLE}]))
    await wait_for_count(lists_api, city_filter(ZWOLLE), 2)
    tomorrow = today() + timedelta(days=1)
    assert await refresh_due_selection(selections_sessions, lists_source, today=tomorrow, cap=10)
    assert not await refresh_due_selection(
        selections_sessions, lists_source, today=tomorrow, cap=10
    )

    history = (await selections_api.get(f"/selections/{daily['selection_id']}/refreshes")).json()
    assert [(h["trigger"], h["added_count"], h["actor_kind"]) for h in history] == [
        ("daily", 1, "system")
    ]
    assert newcomer["relation_id"] in await member_ids(selections_api, daily["selection_id"])
    assert (
        await selections_api.get(f"/selections/{static['selection_id']}/refreshes")
    ).json() == []

    # Switched off, it is not refreshed the day after.
    patched = await selections_api.patch(
        f"/selections/{daily['selection_id']}",
        json={"daily_refresh": False},
        headers={"If-Match": await etag_of(selections_api, daily["selection_id"])},
    )
    assert patched.status_code == 200, patched.text
    assert not await refresh_due_selection(
        selections_sessions, lists_source, today=tomorrow + timedelta(days=1), cap=10
    )


@pytest.mark.usefixtures("relations_relay", "lists_worker")
async def test_daily_refresh_waits_for_its_time_of_day(
    relations_api: httpx.AsyncClient,
    lists_api: httpx.AsyncClient,
    selections_api: httpx.AsyncClient,
    selections_sessions: async_sessionmaker[AsyncSession],
    lists_source: ListsSource,
):
    """A selection refreshed "at 06:30" is not due at 06:29, and is at 06:30 (once a day).

    Catches: a claim that ignores the time of day, or a patch that drops it."""
    await create(relations_api, person("Noord", addresses=[{"city": ZWOLLE}]))
    await wait_for_count(lists_api, city_filter(ZWOLLE), 1)
    made = await create_selection(
        selections_api, "Morning", {"kind": "filter", "filter": city_filter(ZWOLLE)}
    )
    url = f"/selections/{made['selection_id']}"
    patched = await selections_api.patch(
        url,
        json={"daily_at": "06:30"},
        headers={"If-Match": await etag_of(selections_api, made["selection_id"])},
    )
    assert patched.status_code == 200, patched.text
    assert (patched.json()["daily_refresh"], patched.json()["daily_at"]) == (True, "06:30:00")

    tomorrow = today() + timedelta(days=1)
    early = time(6, 29)
    assert not await refresh_due_selection(
        selections_sessions, lists_source, today=tomorrow, at=early, cap=10
    )
    assert await refresh_due_selection(
        selections_sessions, lists_source, today=tomorrow, at=time(6, 30), cap=10
    )
    assert not await refresh_due_selection(
        selections_sessions, lists_source, today=tomorrow, at=time(23, 0), cap=10
    )
    history = (await selections_api.get(f"{url}/refreshes")).json()
    assert [h["trigger"] for h in history] == ["daily"]
