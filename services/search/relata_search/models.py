"""The search service's read model: one row per relation it has heard of, and list memberships.

The read model is the durable truth of the service (shared by its replicas); each process's
tantivy index is derived from it by following ``seq`` (see :mod:`relata_search.follower`).
A merged or erased relation keeps a row without a document (a tombstone), so an older event
arriving late cannot bring it back.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    Sequence,
    Table,
    Text,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB

from relata_common.db import new_metadata
from relata_common.inbox import Inbox, inbox_table

metadata = new_metadata()

change_seq = Sequence("search_change_seq", metadata=metadata)

documents = Table(
    "search_documents",
    metadata,
    Column("relation_id", Uuid, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("status", Text, nullable=False, comment="active, merged or erased"),
    Column("document", JSONB, comment="the search document; null for a tombstone"),
    Column("seq", BigInteger, nullable=False, comment="change order the index followers tail"),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_search_documents_seq", "seq", unique=True),
)

memberships = Table(
    "memberships",
    metadata,
    Column("relation_id", Uuid, primary_key=True),
    Column("list_id", Uuid, primary_key=True),
    Index("ix_memberships_list_id", "list_id"),
)

generation = Table(
    "search_generation",
    metadata,
    Column("id", Integer, primary_key=True, comment="always 1"),
    Column("generation", Integer, nullable=False, comment="bumped by every rebuild"),
)

inbox = Inbox(inbox_table(metadata))
