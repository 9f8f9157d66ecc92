"""Keeps this process's tantivy index equal to the read model by tailing ``seq``.

The consumers write PostgreSQL; every search process (one or many replicas) follows the same
table into its own index directory. A NOTIFY on commit wakes the follower at once, a slow poll
covers a lost notification. The last applied ``seq`` and the rebuild generation are saved next
to the index after each commit: a restart resumes, a crash in between only re-applies rows
(an upsert is idempotent), and a rebuild (new generation) empties the index first.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import orjson
from prometheus_client import Gauge, Histogram

from relata_common.logging import get_logger
from relata_search.index import SearchIndex
from relata_search.readmodel import CHANGES_CHANNEL

log = get_logger(__name__)

INDEXED_SEQ = Gauge("relata_search_indexed_seq", "Last read-model change in this index")
INDEX_DOCS = Gauge("relata_search_index_documents", "Documents in this process's index")
APPLY_SECONDS = Histogram("relata_search_index_apply_seconds", "Time to apply one change batch")

_CHANGES = """
SELECT d.relation_id::text, d.status, d.document::text, d.seq,
       ARRAY(SELECT m.list_id::text FROM memberships m WHERE m.relation_id = d.relation_id)
  FROM search_documents d
 WHERE d.seq > $1
 ORDER BY d.seq
 LIMIT $2
"""


@dataclass
class FollowerState:
    generation: int = 0
    seq: int = 0

    @classmethod
    def load(cls, path: Path) -> FollowerState:
        try:
            return cls(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            return cls()

    def save(self, path: Path) -> None:
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps({"generation": self.generation, "seq": self.seq}))
        temporary.replace(path)


@dataclass
class IndexFollower:
    index: SearchIndex
    dsn: str
    state_path: Path | None
    batch_size: int = 10_000
    commit_every: int = 200_000
    poll_seconds: float = 1.0
    on_generation_change: Callable[[int], None] | None = None
    state: FollowerState = field(init=False)
    caught_up: asyncio.Event = field(default_factory=asyncio.Event)
    _wake: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.state = FollowerState.load(self.state_path) if self.state_path else FollowerState()

    async def run(self) -> None:
        connection = await asyncpg.connect(self.dsn)
        try:
            await connection.add_listener(CHANGES_CHANNEL, lambda *_: self._wake.set())
            while True:
                self._wake.clear()
                await self.catch_up(connection)
                self.caught_up.set()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
        finally:
            await connection.close()

    def wake(self) -> None:
        self._wake.set()

    async def catch_up(self, connection: asyncpg.Connection) -> int:
        """Apply every change after the saved ``seq``; returns how many rows were applied."""
        generation = await connection.fetchval("SELECT generation FROM search_generation")
        if generation != self.state.generation:
            log.info("read model rebuilt: emptying the index", generation=generation)
            await asyncio.to_thread(self._reset)
            self.state = FollowerState(generation=generation, seq=0)
        if self.on_generation_change is not None:
            self.on_generation_change(generation)  # idempotent: starts the consumer at first
        # Loading an empty index needs no deletes, but only for rows up to the newest seq seen
        # now: a relation changed meanwhile shows up again later and must replace itself.
        fresh_until = 0
        if self.state.seq == 0 and self.index.count() == 0:
            fresh_until = await connection.fetchval(
                "SELECT coalesce(max(seq), 0) FROM search_documents"
            )
        applied = pending = 0
        while True:
            rows = await connection.fetch(_CHANGES, self.state.seq, self.batch_size)
            if rows:
                with APPLY_SECONDS.time():
                    await asyncio.to_thread(self._apply, rows, fresh_until)
                applied += len(rows)
                pending += len(rows)
                self.state.seq = rows[-1][3]
            done = len(rows) < self.batch_size
            # A long catch-up commits now and then instead of once per batch: commits are
            # the expensive part (a segment each), searches see the rest when done.
            if pending and (done or pending >= self.commit_every):
                await asyncio.to_thread(self.index.commit)
                if self.state_path is not None:
                    self.state.save(self.state_path)
                INDEXED_SEQ.set(self.state.seq)
                INDEX_DOCS.set(self.index.count())
                pending = 0
            if done:
                return applied

    def _reset(self) -> None:
        self.index.clear()
        self.index.commit()

    def _apply(self, rows: list[asyncpg.Record], fresh_until: int) -> None:
        for relation_id, status, document, seq, lists in rows:
            fresh = seq <= fresh_until
            if status == "active" and document is not None:
                self.index.upsert(orjson.loads(document), lists, fresh=fresh)
            elif not fresh:
                self.index.remove(relation_id)
