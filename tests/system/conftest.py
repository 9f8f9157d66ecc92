"""A private platform of real processes (every ``crm up`` process on free ports, a Tansu
broker of its own, databases under a fresh prefix) for whole-system tests, and the data they
work on: an administrator, a staff user who may edit one view, relations in that view."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from relata_testing.private import PrivatePlatform
from relata_testing.workload import World, build_world, wait_until_in_view
from tests.conftest import Infrastructure

__all__ = ["World"]


@pytest.fixture(scope="session")
def system_platform(
    infrastructure: Infrastructure, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PrivatePlatform]:
    """Every process of the platform, started once for the system tests (starting them all
    takes a minute or two on a busy machine)."""
    platform = PrivatePlatform(
        tmp_path_factory.mktemp("platform"),
        postgres_url=infrastructure.postgres_url,
        # A Redis database apart from the one other tests empty between tests.
        redis_url=infrastructure.redis_url.rsplit("/", 1)[0] + "/13",
    )
    with platform:
        yield platform


@pytest.fixture(scope="session")
def world(system_platform: PrivatePlatform) -> World:
    world = build_world(system_platform, relations=30)
    wait_until_in_view(world)
    return world
