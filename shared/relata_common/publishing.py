"""Event envelopes built one way: by the publishing service's :class:`Publisher`.

The publisher names its service as the producer; the envelope gets a new event id, the time
of building, the request's (or consumed event's) correlation id and, unless given, the system
as actor.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from relata_common.events import Actor, ActorKind, Envelope
from relata_common.outbox import OutgoingEvent
from relata_common.settings import CommonSettings

Payload = BaseModel | Mapping[str, Any]


@dataclass(frozen=True)
class Publisher:
    """Builds the envelopes one producer publishes."""

    producer: str
    actor: Actor | None = None
    """Who acts when a call names no actor; None: the system."""

    @classmethod
    def of(cls, settings: type[CommonSettings]) -> Publisher:
        """The publisher of the service these settings are of, named as the settings class
        names it: the producer is part of the event contract, so the environment cannot
        rename it."""
        return cls(settings.model_fields["service_name"].default)

    @classmethod
    def for_module(cls, name: str) -> Publisher:
        """The publisher of a platform module outside these services (donations, events),
        which acts as itself."""
        return cls(name, Actor(kind=ActorKind.MODULE, id=name))

    def envelope(
        self,
        event_type: str,
        subject_id: object,
        payload: Payload,
        *,
        version: int | None = None,
        actor: Actor | None = None,
        event_id: uuid.UUID | None = None,
        validate: bool = True,
    ) -> Envelope:
        """An envelope about ``subject_id`` (the Kafka key) at ``version``.

        ``validate=False`` skips validating the envelope, for a payload already in its
        contract's JSON form and batches too large to validate event by event.
        """
        fields: dict[str, Any] = {
            "type": str(event_type),
            "producer": self.producer,
            "subject_id": str(subject_id),
            "subject_version": version,
            "payload": _json(payload),
        }
        if actor is not None or self.actor is not None:
            fields["actor"] = actor or self.actor
        if event_id is not None:
            fields["event_id"] = event_id
        return Envelope(**fields) if validate else Envelope.model_construct(**fields)

    def event(
        self,
        topic: str,
        event_type: str,
        subject_id: object,
        payload: Payload,
        *,
        version: int | None = None,
        actor: Actor | None = None,
        event_id: uuid.UUID | None = None,
        validate: bool = True,
    ) -> OutgoingEvent:
        """The envelope (see :meth:`envelope`) bound for ``topic`` through the outbox."""
        envelope = self.envelope(
            event_type,
            subject_id,
            payload,
            version=version,
            actor=actor,
            event_id=event_id,
            validate=validate,
        )
        return OutgoingEvent(topic, envelope)


def _json(payload: Payload) -> dict[str, Any]:
    if isinstance(payload, BaseModel):
        return payload.model_dump(mode="json")
    return dict(payload)
