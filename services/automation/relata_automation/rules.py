"""Adjustment rules (filled in below)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession


async def queue_for_relation_event(session: AsyncSession, envelope: Any, changed: Any) -> None:
    return None


async def queue_for_membership(
    session: AsyncSession, envelope: Any, membership: Any, *, entered: bool
) -> None:
    return None


async def run_pending(sessions: Any, services: Any) -> bool:
    return False
