"""The fault suite in small (``bench/system/faults.py`` runs all of it): ``kill -9`` the
relations relay and the lists worker during writes through the gateway, start them again,
inject events no consumer can apply, then reconcile. Nothing written may be lost or doubled,
every copy of a relation must be at its latest version, every list as a full evaluation says,
and the poison must sit in the dead-letter topics with its reason."""

from __future__ import annotations

import asyncio

import pytest

from relata_testing.reconcile import reconcile
from relata_testing.workload import Outcomes, World, WriteLoad, inject_poison

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]

LOAD_SECONDS = 15.0
VICTIMS = ("relations-relay", "lists-worker")


async def test_kill_relay_and_worker_during_writes_then_everything_reconciles(
    world: World,
) -> None:
    platform = world.platform
    outcomes = Outcomes()
    load = asyncio.create_task(WriteLoad(world, outcomes, seed=3).run(LOAD_SECONDS))
    await asyncio.sleep(LOAD_SECONDS / 4)
    for name in VICTIMS:
        killed = platform.kill(name)
        assert killed, name
        await asyncio.to_thread(platform.restart, name)
    poison = await inject_poison(platform, world.relation_ids[0])
    await load

    result = await reconcile(platform, outcomes, poison, timeout=120)

    report = "\n".join(result.lines())
    print(f"load: {outcomes.summary()}\n{report}")
    assert result.ok, report
    assert outcomes.edits.get(200, 0) > 0, outcomes.summary()
    assert outcomes.moments_acked, outcomes.summary()
    assert outcomes.donations, outcomes.summary()
