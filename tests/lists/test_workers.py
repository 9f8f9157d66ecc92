"""Two lists workers in one consumer group share the work without duplicate membership events."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import date
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from relata_lists.app import create_relay, create_worker
from relata_lists.settings import ListsSettings
from tests.lists.conftest import Platform, start_lists_group_at_end
from tests.lists.support import (
    DONATIONS_TOPIC,
    Scope,
    donation,
    field,
    known,
    membership_events,
    new_list,
)
from tests.relations.fixtures import create, person

CITIES = ("Utrecht", "Amsterdam")


@pytest.mark.usefixtures("relations_relay")
async def test_two_workers_announce_each_transition_once(
    relations_api: httpx.AsyncClient,
    lists_api: httpx.AsyncClient,
    lists_settings: ListsSettings,
    platform: Platform,
    kafka_bootstrap: str,
):
    await start_lists_group_at_end(lists_settings)
    async with (
        LifespanManager(create_worker(lists_settings)),
        LifespanManager(create_worker(lists_settings)),
        LifespanManager(create_relay(lists_settings)),
    ):
        people = [
            await create(relations_api, person(f"P{i}", addresses=[{"city": "Utrecht"}]))
            for i in range(8)
        ]
        mine = {p["relation_id"] for p in people}
        await known(lists_api, *people)
        scope = Scope(lists_api, mine)
        utrecht = await new_list(lists_api, field("city", "equals", "Utrecht"), "Utrecht")
        donors = await new_list(lists_api, {"kind": "donations", "min_count": 2}, "Donors")
        both = await new_list(
            lists_api,
            {
                "all": [
                    {"kind": "in_list", "list_id": utrecht},
                    {"kind": "in_list", "list_id": donors},
                ]
            },
            "Donors in Utrecht",
        )

        async def move(relation: dict[str, Any], rounds: int) -> dict[str, Any]:
            for step in range(rounds):
                response = await relations_api.patch(
                    f"/relations/{relation['relation_id']}",
                    json={"fields": {"addresses": [{"city": CITIES[(step + 1) % 2]}]}},
                    headers={"If-Match": f'"{relation["version"]}"'},
                )
                assert response.status_code == 200, response.text
                relation = response.json()
            return relation

        async def give(relation: dict[str, Any], times: int) -> None:
            for _ in range(times):
                await platform.publish(
                    DONATIONS_TOPIC, donation(relation["relation_id"], "10.00", date.today())
                )

        # A burst: address changes and donations (another topic, maybe the other worker)
        # for the same relations at once.
        rounds = [1 + i % 4 for i in range(len(people))]
        await asyncio.gather(
            *(move(p, n) for p, n in zip(people, rounds, strict=True)),
            *(give(p, i % 3) for i, p in enumerate(people)),
        )
        in_utrecht = {p["relation_id"] for p, n in zip(people, rounds, strict=True) if n % 2 == 0}
        givers = {p["relation_id"] for i, p in enumerate(people) if i % 3 == 2}
        await scope.wait(utrecht, in_utrecht)
        await scope.wait(donors, givers)
        await scope.wait(both, in_utrecht & givers)

        history: dict[tuple[str, str], list[str]] = {}
        for list_id in (utrecht, donors, both):
            for relation_id in mine:
                records = (
                    await lists_api.get(f"/lists/{list_id}/members/{relation_id}/history")
                ).json()
                history[(list_id, relation_id)] = [r["change"] for r in reversed(records)]
        expected = sum(len(changes) for changes in history.values())
        await membership_events(kafka_bootstrap, mine, at_least=expected)
        await asyncio.sleep(1.0)  # anything duplicated would be published by now
        events = await membership_events(kafka_bootstrap, mine, at_least=expected)

    announced: dict[tuple[str, str], list[str]] = defaultdict(list)
    for event in events:
        change = event.type.removeprefix("membership.")
        announced[(event.payload["list_id"], event.subject_id)].append(change)
    assert len(events) == expected
    for key, changes in history.items():
        assert announced.get(key, []) == changes, key
        assert changes == ["entered", "left"] * (len(changes) // 2) + ["entered"] * (
            len(changes) % 2
        ), key
