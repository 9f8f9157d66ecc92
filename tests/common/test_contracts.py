"""Event contracts: the envelope, the payloads and their AsyncAPI document."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from pydantic import ValidationError

from relata_common.asyncapi import specification
from relata_common.events import (
    EVENT_PAYLOADS,
    TOPIC_EVENTS,
    Actor,
    ActorKind,
    DonationReceivedPayload,
    Envelope,
    parse_payload,
)

DOCUMENT = Path(__file__).parents[2] / "docs" / "asyncapi.json"


def test_envelope_round_trips_through_json():
    envelope = Envelope(
        type="donation.received",
        producer="donations",
        subject_id="r1",
        actor=Actor(kind=ActorKind.MODULE, id="donations"),
        payload={
            "donation_id": str(uuid.uuid4()),
            "relation_id": str(uuid.uuid4()),
            "amount": "25.00",
            "received_on": "2026-01-02",
        },
    )
    again = Envelope.from_json(envelope.to_json())
    assert again == envelope
    payload = parse_payload(again)
    assert isinstance(payload, DonationReceivedPayload)
    assert str(payload.amount) == "25.00"


def test_payloads_are_validated():
    envelope = Envelope(
        type="donation.received", producer="x", subject_id="r", payload={"amount": -1}
    )
    with pytest.raises(ValidationError):
        parse_payload(envelope)
    with pytest.raises(KeyError):
        parse_payload(Envelope(type="unknown.event", producer="x", subject_id="r"))


def test_every_event_has_an_asyncapi_channel_with_its_payload():
    document = specification()
    for topic, event_types in TOPIC_EVENTS.items():
        for event_type in event_types:
            assert f"{topic}.{event_type}" in document["channels"]
    schemas = document["components"]["schemas"]
    assert "RelationCreatedEvent" in schemas
    assert set(EVENT_PAYLOADS) == {t for types in TOPIC_EVENTS.values() for t in types}


def test_committed_asyncapi_document_is_current():
    """Regenerate with `uv run crm asyncapi` after changing a contract."""
    assert json.loads(DOCUMENT.read_text()) == json.loads(
        json.dumps(specification(), sort_keys=True)
    )
