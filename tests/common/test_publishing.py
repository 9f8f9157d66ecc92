"""Envelopes built one way: the producer is the service's name, the rest of the envelope the
request's context."""

from __future__ import annotations

import uuid

import orjson
import pytest

from relata_automation import publishing as automation
from relata_common.events import Actor, ActorKind, ListDefinitionPayload
from relata_common.logging import correlation_id_var
from relata_common.publishing import Publisher
from relata_contactmoments import moments as contactmoments
from relata_lists import membership as lists
from relata_relations import relations
from relata_selections import publishing as selections

PUBLISHERS = {
    "automation": automation.PUBLISHER,
    "contactmoments": contactmoments.PUBLISHER,
    "lists": lists.PUBLISHER,
    "relations": relations.PUBLISHER,
    "selections": selections.PUBLISHER,
}


@pytest.mark.parametrize("service", sorted(PUBLISHERS))
def test_each_service_publishes_under_its_own_name(service: str):
    """The producer is part of the event contract (docs/asyncapi.json).

    Checked by breaking it: with ``Publisher.of`` reading the settings' ``database_name``
    instead of ``service_name`` this fails for every service."""
    assert PUBLISHERS[service].producer == service


def test_an_envelope_carries_the_context_it_is_built_in():
    list_id = uuid.uuid4()
    payload = ListDefinitionPayload(list_id=list_id, name="Donors", filter={"all": []})
    token = correlation_id_var.set("request-17")
    try:
        envelope = lists.PUBLISHER.envelope("list.created", list_id, payload, version=2)
    finally:
        correlation_id_var.reset(token)
    assert envelope.producer == "lists"
    assert envelope.subject_id == str(list_id)
    assert envelope.subject_version == 2
    assert envelope.correlation_id == "request-17"
    assert envelope.actor == Actor.system()
    assert envelope.payload == payload.model_dump(mode="json")


def test_an_unvalidated_envelope_reads_back_as_the_validated_one():
    """Checked by breaking it: with the unvalidated path leaving out a field it was given (the
    actor) the two differ and this fails."""
    event_id = uuid.uuid4()
    user = Actor(kind=ActorKind.USER, id="u1")
    args = ("membership.entered", "r1", {"list_id": "l1"})
    fast = lists.PUBLISHER.envelope(*args, actor=user, event_id=event_id, validate=False)
    slow = lists.PUBLISHER.envelope(*args, actor=user, event_id=event_id)
    fast_json = orjson.loads(fast.to_json())
    slow_json = orjson.loads(slow.to_json())
    assert fast_json.pop("occurred_at") and slow_json.pop("occurred_at")
    assert fast_json == slow_json


def test_a_platform_module_acts_as_itself():
    envelope = Publisher.for_module("donations").envelope("donation.received", "r1", {})
    assert envelope.producer == "donations"
    assert envelope.actor == Actor(kind=ActorKind.MODULE, id="donations")
