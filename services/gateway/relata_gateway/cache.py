"""Card parts cached in Redis, per relation, and dropped when an event says they changed.

Keys: ``card:{part}:{relation_id}`` holds the part, ``card:{part}:{relation_id}:gen`` counts its
invalidations. The gateway's own edits drop parts at once; changes made elsewhere drop them when
their event arrives (the gateway worker).

A load that raced an invalidation must not put the old value back (it would be served stale until
it expires): a loaded value is stored only when the generation is still the one read before the
load (checked and set atomically in Redis).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

PARTS = ("relation", "contact_moments", "lists", "properties", "facts")
"""``facts``: what other modules published of the relation (donations, registrations)."""

Raw = bytes | str | None
"""A value as Redis answers it. The gateway's clients do not decode answers, so it is bytes or
None; the client's types also allow str (a client that decodes)."""

# A negative generation marks an erased relation: nothing of it is ever stored again.
_SET_IF_GENERATION = """
local current = redis.call('GET', KEYS[2]) or '0'
if current == ARGV[1] and tonumber(current) >= 0 then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
  return 1
end
return 0
"""


def key(part: str, relation_id: uuid.UUID | str) -> str:
    return f"card:{part}:{relation_id}"


def _generation_key(part: str, relation_id: uuid.UUID | str) -> str:
    return f"{key(part, relation_id)}:gen"


def keys_of(part: str, relation_id: uuid.UUID | str) -> tuple[str, str]:
    """A part's key and its generation's key (for reading them with other keys)."""
    return key(part, relation_id), _generation_key(part, relation_id)


def generation(raw: Raw) -> str:
    """A generation as read from Redis (0 when never invalidated)."""
    if raw is None:
        return "0"
    return raw.decode() if isinstance(raw, bytes) else raw


async def store(
    redis: Redis, part: str, relation_id: uuid.UUID | str, generation: str, value: Any, ttl: int
) -> None:
    """Store a loaded part unless it was invalidated since ``generation`` was read."""
    await redis.eval(*_store_arguments(part, relation_id, generation, value, ttl))


def _queue_store(
    pipe: Pipeline,
    part: str,
    relation_id: uuid.UUID | str,
    generation: str,
    value: Any,
    ttl: int,
) -> None:
    pipe.eval(*_store_arguments(part, relation_id, generation, value, ttl))


def _store_arguments(
    part: str, relation_id: uuid.UUID | str, generation: str, value: Any, ttl: int
) -> tuple[Any, ...]:
    return (
        _SET_IF_GENERATION,
        2,
        key(part, relation_id),
        _generation_key(part, relation_id),
        generation,
        orjson.dumps(value),
        ttl,
    )


@dataclass(frozen=True)
class Prefetched:
    """One relation's parts as read together: each part's cached value (or None) and the
    generation read with it."""

    relation_id: uuid.UUID
    raw: dict[str, tuple[Raw, Raw]]


async def prefetch(
    redis: Redis, relation_id: uuid.UUID, *other_keys: str
) -> tuple[Prefetched, list[Raw]]:
    """All of a relation's parts, and any ``other_keys``, in one round trip."""
    names = [
        name
        for part in PARTS
        for name in (key(part, relation_id), _generation_key(part, relation_id))
    ]
    raw = await redis.mget([*names, *other_keys])
    parts = {part: (raw[2 * i], raw[2 * i + 1]) for i, part in enumerate(PARTS)}
    return Prefetched(relation_id, parts), raw[len(names) :]


async def cached(
    redis: Redis,
    part: str,
    relation_id: uuid.UUID,
    ttl: int,
    load: Callable[[], Awaitable[Any]],
    prefetched: Prefetched | None = None,
) -> Any:
    """The cached part, or load it, store it (unless invalidated meanwhile) and return it."""
    if prefetched is not None and prefetched.relation_id == relation_id:
        hit, counted = prefetched.raw[part]
    else:
        hit, counted = await redis.mget(key(part, relation_id), _generation_key(part, relation_id))
    if hit is not None:
        return orjson.loads(hit)
    value = await load()
    await store(redis, part, relation_id, generation(counted), value, ttl)
    return value


async def cached_many(
    redis: Redis,
    part: str,
    relation_ids: Sequence[uuid.UUID | str],
    ttl: int,
    load: Callable[[list[str]], Awaitable[dict[str, Any]]],
) -> dict[str, Any]:
    """Many relations' parts in one round trip; the missing ones loaded together by ``load``
    (which may leave out unknown relations)."""
    ids = [str(r) for r in dict.fromkeys(relation_ids)]
    if not ids:
        return {}
    names = [n for r in ids for n in (key(part, r), _generation_key(part, r))]
    raw = await redis.mget(names)
    found: dict[str, Any] = {}
    missing: dict[str, str] = {}
    for i, relation_id in enumerate(ids):
        hit, counted = raw[2 * i], raw[2 * i + 1]
        if hit is not None:
            found[relation_id] = orjson.loads(hit)
        else:
            missing[relation_id] = generation(counted)
    if missing:
        loaded = await load(list(missing))
        # One round trip for every store, not one each: a page can load two hundred.
        async with redis.pipeline(transaction=False) as pipe:
            for relation_id, value in loaded.items():
                _queue_store(pipe, part, relation_id, missing[relation_id], value, ttl)
            await pipe.execute()
        found.update(loaded)
    return found


async def invalidate_many(redis: Redis, parts_by_relation: dict[str, set[str]]) -> None:
    """Drop the given parts of many relations (and bump their generations) in one round trip."""
    async with redis.pipeline(transaction=True) as pipe:
        for relation_id, parts in parts_by_relation.items():
            _queue_invalidation(pipe, relation_id, parts)
        await pipe.execute()


async def invalidate(redis: Redis, relation_id: uuid.UUID | str, *parts: str) -> None:
    """Drop parts (all by default) and bump their generations, in one round trip."""
    async with redis.pipeline(transaction=True) as pipe:
        _queue_invalidation(pipe, relation_id, parts or PARTS)
        await pipe.execute()


ERASED_GENERATION = -(10**12)
"""Far below zero, so that later invalidations (which count up) keep it negative."""


async def forget(redis: Redis, relation_id: uuid.UUID | str) -> None:
    """Drop every part of an erased relation for good: a read that still names it (a feed
    row not yet reloaded, say) loads its parts but can no longer store them."""
    async with redis.pipeline(transaction=True) as pipe:
        for part in PARTS:
            pipe.set(_generation_key(part, relation_id), ERASED_GENERATION, ex=7 * 24 * 3600)
            pipe.delete(key(part, relation_id))
        await pipe.execute()


def _queue_invalidation(pipe: Pipeline, relation_id: uuid.UUID | str, parts: Iterable[str]) -> None:
    for part in parts:
        pipe.incr(_generation_key(part, relation_id))
        pipe.expire(_generation_key(part, relation_id), 7 * 24 * 3600)
        pipe.delete(key(part, relation_id))
