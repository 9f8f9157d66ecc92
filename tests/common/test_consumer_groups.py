"""Every service's consumers join groups carrying the deployment's ``consumer_group_suffix``.

Deployments (and tests) that share a Kafka cluster tell their consumers apart by that suffix
alone: one service ignoring it makes two deployments share its group, each then seeing only
part of the events.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from fastapi import FastAPI
from faststream.kafka import KafkaBroker

from relata_automation import consumers as automation
from relata_automation.settings import AutomationSettings
from relata_common.kafka import consumer_group
from relata_contactmoments import consumers as contactmoments
from relata_contactmoments.settings import ContactMomentsSettings
from relata_gateway import consumers as gateway
from relata_gateway.settings import GatewaySettings
from relata_lists import consumers as lists
from relata_lists.settings import ListsSettings
from relata_search import consumers as search
from relata_search.settings import SearchSettings
from relata_selections import consumers as selections
from relata_selections.settings import SelectionsSettings

SUFFIX = "-deployment-b"

Registration = Callable[[KafkaBroker, FastAPI], Awaitable[None]]


def _worker_app() -> FastAPI:
    """What a worker's state holds when its consumers are registered; nothing is connected."""
    app = FastAPI()
    app.state.sessions = None
    app.state.producer = None
    return app


async def _contactmoments(broker: KafkaBroker, app: FastAPI) -> None:
    settings = ContactMomentsSettings(consumer_group_suffix=SUFFIX)
    consumer = contactmoments.relations_consumer(settings, app.state.sessions, app.state.producer)
    consumer.register(broker)


async def _search(broker: KafkaBroker, app: FastAPI) -> None:
    settings = SearchSettings(consumer_group_suffix=SUFFIX)
    consumer = search.generation_consumer(settings, 3, app.state.sessions, app.state.producer)
    consumer.register(broker)


SERVICES: dict[str, Registration] = {
    "automation": automation.register(AutomationSettings(consumer_group_suffix=SUFFIX)),
    "contactmoments": _contactmoments,
    "gateway": gateway.register(GatewaySettings(consumer_group_suffix=SUFFIX)),
    "lists": lists.register(ListsSettings(consumer_group_suffix=SUFFIX)),
    "search": _search,
    "selections": selections.register(SelectionsSettings(consumer_group_suffix=SUFFIX)),
}


@pytest.mark.parametrize("service", sorted(SERVICES))
async def test_every_consumer_group_carries_the_suffix(service: str):
    """Registers the service's consumers as its worker does and reads the groups they join.

    Checked by breaking it: with ``service_consumer`` passing ``group=name`` (the suffix
    dropped, as the contact moments, selections and search consumers once did) this fails for
    every service built through it.
    """
    broker = KafkaBroker("127.0.0.1:9")  # never started: registration only
    await SERVICES[service](broker, _worker_app())
    groups = [getattr(subscriber, "group_id", None) for subscriber in broker.subscribers]
    assert groups, f"{service} registered no consumer"
    for group in groups:
        assert group is not None and group.endswith(SUFFIX), f"{service} joins group {group!r}"


def test_the_group_is_the_name_with_the_suffix():
    settings = SelectionsSettings(consumer_group_suffix=SUFFIX)
    assert consumer_group(settings, "selections") == f"selections{SUFFIX}"
