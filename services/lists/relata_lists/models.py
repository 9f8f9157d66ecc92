"""The lists service's tables: its read model of everything filters need, list definitions,
memberships and their history."""

from __future__ import annotations

import uuid

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Identity,
    Index,
    Integer,
    Numeric,
    Table,
    Text,
    Uuid,
    bindparam,
    func,
    literal,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession

from relata_common.db import new_metadata
from relata_common.inbox import Inbox, inbox_table
from relata_common.outbox import Outbox, outbox_table

metadata = new_metadata()

# --- read model, fed by events ---------------------------------------------------------------

rm_relations = Table(
    "rm_relations",
    metadata,
    Column("relation_id", Uuid, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("relation_type", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("merged_into", Uuid),
    Column("relation_number", BigInteger),
    Column("display_name", Text, nullable=False, server_default=""),
    Column("sort_name", Text, nullable=False, server_default=""),
    Column("first_name", Text),
    Column("initials", Text),
    Column("infix", Text),
    Column("last_name", Text),
    Column("organisation_name", Text),
    Column("salutation", Text),
    Column("gender", Text),
    Column("birth_date", Date),
    Column("coc_number", Text),
    Column("created_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True)),
    # Multi-valued fields, lower-cased so equality can use the GIN indexes.
    Column("streets", ARRAY(Text), nullable=False, server_default="{}"),
    Column("postal_codes", ARRAY(Text), nullable=False, server_default="{}"),
    Column("cities", ARRAY(Text), nullable=False, server_default="{}"),
    Column("countries", ARRAY(Text), nullable=False, server_default="{}"),
    Column("emails", ARRAY(Text), nullable=False, server_default="{}"),
    Column("phones", ARRAY(Text), nullable=False, server_default="{}"),
    Column("custom", JSONB, nullable=False, server_default="{}"),
    Index("ix_rm_relations_cities", "cities", postgresql_using="gin"),
    Index("ix_rm_relations_postal_codes", "postal_codes", postgresql_using="gin"),
    Index("ix_rm_relations_sort", "sort_name", "relation_id"),
    Index("ix_rm_relations_birth_date", "birth_date"),
)

rm_functions = Table(
    "rm_functions",
    metadata,
    Column("function_id", Uuid, primary_key=True),
    Column("subject_id", Uuid, nullable=False, index=True),
    Column("object_id", Uuid, nullable=False, index=True),
    Column("role", Text, nullable=False),
    Column("start_date", Date, nullable=False),
    Column("end_date", Date),
)

rm_contact_moments = Table(
    "rm_contact_moments",
    metadata,
    Column("contact_moment_id", Uuid, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("kind", Text, nullable=False),
    Column("direction", Text, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("deleted", Boolean, nullable=False, server_default="false"),
)

rm_contact_links = Table(
    "rm_contact_links",
    metadata,
    Column("relation_id", Uuid, primary_key=True),
    Column("contact_moment_id", Uuid, primary_key=True),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("kind", Text, nullable=False),
    Column("direction", Text, nullable=False),
    Index("ix_rm_contact_links_moment", "contact_moment_id"),
)

rm_donations = Table(
    "rm_donations",
    metadata,
    Column("donation_id", Uuid, primary_key=True),
    Column("relation_id", Uuid, nullable=False),
    Column("amount", Numeric(14, 2), nullable=False),
    Column("received_on", Date, nullable=False),
    Column("currency", Text, nullable=False, server_default="EUR"),
    Column("campaign", Text),
    # Newest first per relation, keyset-paged on (received_on, donation_id); the filter
    # criteria's windows on received_on use the same index.
    Index("ix_rm_donations_relation", "relation_id", "received_on", "donation_id"),
)

rm_registrations = Table(
    "rm_registrations",
    metadata,
    Column("registration_id", Uuid, primary_key=True),
    Column("relation_id", Uuid, nullable=False, index=True),
    Column("event_code", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("event_date", Date),
    Column(
        "registered_at",
        DateTime(timezone=True),
        comment="when the registration was made (its created event); null for older rows",
    ),
    Index("ix_rm_registrations_event", "event_code", "relation_id"),
)

# --- lists and memberships, owned here --------------------------------------------------------

lists = Table(
    "lists",
    metadata,
    Column("list_id", Uuid, primary_key=True),
    Column("name", Text, nullable=False),
    Column("view_id", Text),
    Column("filter", JSONB, nullable=False),
    Column("version", Integer, nullable=False),
    Column("aspects", ARRAY(Text), nullable=False, comment="what its criteria depend on"),
    Column("relative", Boolean, nullable=False, comment="depends on today's date"),
    Column("depends_on", ARRAY(Uuid), nullable=False, server_default="{}"),
    Column("evaluated_on", Date, comment="day of the last full evaluation"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

memberships = Table(
    "memberships",
    metadata,
    Column("list_id", Uuid, primary_key=True),
    Column("relation_id", Uuid, primary_key=True),
    Column("since", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_memberships_relation", "relation_id"),
)

membership_history = Table(
    "membership_history",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("list_id", Uuid, nullable=False),
    Column("relation_id", Uuid, nullable=False),
    Column("change", Text, nullable=False, comment="entered or left"),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("cause", JSONB, nullable=False),
    Index("ix_membership_history_list_at", "list_id", "at"),
    Index("ix_membership_history_relation", "relation_id", "list_id", "at"),
)


class ArrayInbox(Inbox):
    """The inbox, claiming a batch's event ids bound as one array.

    The common claim renders one VALUES row per event: for a batch of 500 that is a
    1,000-parameter statement compiled anew each time, about a third of the read model's cost
    per batch. One array parameter keeps the statement the same for every batch.
    """

    async def claim_many(
        self, session: AsyncSession, consumer: str, event_ids: list[uuid.UUID]
    ) -> set[uuid.UUID]:
        if not event_ids:
            return set()
        table = self.table
        claimed = select(
            literal(consumer, Text), func.unnest(bindparam("event_ids", type_=ARRAY(Uuid)))
        )
        statement = (
            insert(table)
            .from_select([table.c.consumer, table.c.event_id], claimed)
            .on_conflict_do_nothing()
            .returning(table.c.event_id)
        )
        result = await session.execute(statement, {"event_ids": event_ids})
        return set(result.scalars())


outbox = Outbox(outbox_table(metadata))
inbox = ArrayInbox(inbox_table(metadata))
