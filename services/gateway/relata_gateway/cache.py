"""Card parts cached in Redis, per relation, and dropped when an event says they changed.

Keys: ``card:{part}:{relation_id}``. The gateway's own edits drop them at once; changes made
elsewhere drop them when their event arrives (the gateway worker).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from redis.asyncio import Redis

PARTS = ("relation", "contact_moments", "lists")


def key(part: str, relation_id: uuid.UUID | str) -> str:
    return f"card:{part}:{relation_id}"


async def cached(
    redis: Redis,
    part: str,
    relation_id: uuid.UUID,
    ttl: int,
    load: Callable[[], Awaitable[Any]],
) -> Any:
    """The cached part, or load it, store it and return it."""
    name = key(part, relation_id)
    hit = await redis.get(name)
    if hit is not None:
        return orjson.loads(hit)
    value = await load()
    await redis.set(name, orjson.dumps(value), ex=ttl)
    return value


async def invalidate(redis: Redis, relation_id: uuid.UUID | str, *parts: str) -> None:
    await redis.delete(*(key(part, relation_id) for part in (parts or PARTS)))
