"""Automation events into the outbox, in the transaction of the change they describe."""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from relata_automation.models import outbox
from relata_common.events import AUTOMATION_TOPIC, Actor, Envelope

PRODUCER = "automation"


async def announce(
    session: AsyncSession,
    *,
    event_type: str,
    subject_id: object,
    payload: BaseModel,
    actor: Actor | None = None,
) -> None:
    envelope = Envelope(
        type=event_type,
        producer=PRODUCER,
        subject_id=str(subject_id),
        actor=actor or Actor.system(),
        payload=payload.model_dump(mode="json"),
    )
    await outbox.add(session, AUTOMATION_TOPIC, envelope)
