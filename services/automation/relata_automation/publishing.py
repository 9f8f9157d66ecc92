"""Automation events into the outbox, in the transaction of the change they describe."""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from relata_automation.models import outbox
from relata_automation.settings import AutomationSettings
from relata_common.events import AUTOMATION_TOPIC, Actor
from relata_common.publishing import Publisher

PUBLISHER = Publisher.of(AutomationSettings)


async def announce(
    session: AsyncSession,
    *,
    event_type: str,
    subject_id: object,
    payload: BaseModel,
    actor: Actor | None = None,
) -> None:
    envelope = PUBLISHER.envelope(event_type, subject_id, payload, actor=actor)
    await outbox.add(session, AUTOMATION_TOPIC, envelope)
