"""Events: what the service publishes on crm.contactmoments (through its outbox and relay) and
what it does with relation events consumed from crm.relations (through its worker)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import asyncpg
import httpx
import pytest

from relata_common.events import CONTACTMOMENTS_TOPIC, ContactMomentPayload, Envelope
from tests.contactmoments.conftest import (
    log,
    moment,
    post_mail,
    relation_changed,
    relation_erased,
    relation_merged,
)
from tests.helpers import envelopes, eventually, read_topic

Publish = Callable[[Envelope], Awaitable[None]]


async def _published(bootstrap: str, moment_ids: set[str], count: int) -> list[Envelope]:
    """The events of these moments on crm.contactmoments, once ``count`` have arrived."""

    def mine(records) -> list:
        return [r for r in records if r.key.decode() in moment_ids]

    records = await read_topic(
        bootstrap, CONTACTMOMENTS_TOPIC, until=lambda rs: len(mine(rs)) >= count
    )
    return envelopes(mine(records))


@pytest.mark.usefixtures("cm_relay")
async def test_logged_changed_and_deleted_are_published_in_order(
    cm_api: httpx.AsyncClient, kafka_bootstrap: str, cm_db: asyncpg.Connection
):
    person, organisation = uuid.uuid4(), uuid.uuid4()
    logged = await log(cm_api, moment([person]))
    moment_id = logged["contact_moment_id"]
    url = f"/contact-moments/{moment_id}"
    changed = await cm_api.patch(
        url,
        json={"relation_ids": [str(person), str(organisation)], "kind": "visit"},
        headers={"If-Match": '"1"'},
    )
    assert changed.status_code == 200
    assert (await cm_api.delete(url)).status_code == 204

    events = await _published(kafka_bootstrap, {moment_id}, 3)
    assert len(events) == 3
    assert [e.type for e in events] == [
        "contactmoment.logged",
        "contactmoment.changed",
        "contactmoment.deleted",
    ]
    assert [e.subject_version for e in events] == [1, 2, 3]
    assert all(e.subject_id == moment_id and e.producer == "contactmoments" for e in events)
    assert events[0].actor.id == "u1"
    payloads = [ContactMomentPayload.model_validate(e.payload) for e in events]
    assert payloads[0].state.relation_ids == [person] and payloads[0].previous_relation_ids == []
    assert payloads[1].state.relation_ids == [person, organisation]
    assert payloads[1].state.kind == "visit" and payloads[1].previous_relation_ids == [person]
    assert payloads[2].state.deleted and payloads[2].state.version == 3
    assert "notes" not in events[0].payload["state"]  # the notes stay in this service

    async def outbox_empty() -> bool:
        return await cm_db.fetchval("SELECT count(*) FROM outbox") == 0

    await eventually(outbox_empty)


@pytest.mark.usefixtures("cm_worker")
async def test_relation_created_makes_its_address_known_for_ingestion(
    cm_api: httpx.AsyncClient, publish: Publish
):
    relation = uuid.uuid4()
    address = f"created-{relation.hex[:8]}@example.org"
    raw = (
        f"Message-ID: <{relation}@example.org>\nFrom: {address.upper()}\n"
        "To: staff@our-association.example\nSubject: hello\n\nhi\n"
    ).encode()
    before = await post_mail(cm_api, raw)
    assert before.status_code == 422 and before.json()["unknown_addresses"][0] == address

    await publish(relation_changed(relation, 1, [address]))
    # An older version arriving late changes nothing.
    await publish(
        relation_changed(relation, 0, ["stale@example.org"], event_type="relation.updated")
    )

    async def linked() -> bool:
        return (await post_mail(cm_api, raw)).status_code == 201

    await eventually(linked)
    again = await post_mail(cm_api, raw)
    assert again.json()["contact_moment"]["relation_ids"] == [str(relation)]
    assert again.json()["contact_moment"]["direction"] == "in"

    # A newer version with another address replaces the old one.
    new_address = f"renamed-{relation.hex[:8]}@example.org"
    await publish(relation_changed(relation, 2, [new_address], event_type="relation.updated"))
    renamed = raw.replace(address.upper().encode(), new_address.encode()).replace(
        b"Message-ID: <", b"Message-ID: <renamed-"
    )

    async def renamed_known() -> bool:
        return (await post_mail(cm_api, renamed)).status_code == 201

    await eventually(renamed_known)
    stale = raw.replace(b"Message-ID: <", b"Message-ID: <stale-")
    gone = await post_mail(cm_api, stale)
    assert gone.status_code == 422 and address in gone.json()["unknown_addresses"]


@pytest.mark.usefixtures("cm_worker", "cm_relay")
async def test_merge_repoints_moments_to_the_survivor(
    cm_api: httpx.AsyncClient,
    publish: Publish,
    kafka_bootstrap: str,
):
    survivor, merged, organisation = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await publish(relation_changed(merged, 1, [f"m-{merged.hex[:8]}@example.org"]))
    only_merged = await log(cm_api, moment([merged]))
    with_org = await log(cm_api, moment([merged, organisation]))
    with_both = await log(cm_api, moment([survivor, merged]))
    untouched = await log(cm_api, moment([survivor]))
    ids = {m["contact_moment_id"] for m in (only_merged, with_org, with_both)}

    await publish(relation_merged(survivor, merged, 2))

    async def repointed() -> bool:
        page = (await cm_api.get(f"/relations/{survivor}/contact-moments")).json()
        return len(page["items"]) == 4

    await eventually(repointed)
    assert (await cm_api.get(f"/relations/{merged}/contact-moments")).json()["items"] == []
    now = {
        m: (await cm_api.get(f"/contact-moments/{m}")).json()["relation_ids"]
        for m in ids | {untouched["contact_moment_id"]}
    }
    assert now[only_merged["contact_moment_id"]] == [str(survivor)]
    assert now[with_org["contact_moment_id"]] == [str(survivor), str(organisation)]
    assert now[with_both["contact_moment_id"]] == [str(survivor)]  # once, not twice
    assert now[untouched["contact_moment_id"]] == [str(survivor)]

    history = (await cm_api.get(f"/contact-moments/{with_org['contact_moment_id']}/history")).json()
    assert history[0]["reason"] == "relation.merged"
    assert history[0]["actor"] == {"kind": "user", "id": "merger"}

    events = await _published(kafka_bootstrap, ids, 6)
    changed = [e for e in events if e.type == "contactmoment.changed"]
    assert len(changed) == 3 and {e.subject_id for e in changed} == ids
    for event in changed:
        payload = ContactMomentPayload.model_validate(event.payload)
        assert merged in payload.previous_relation_ids and merged not in payload.state.relation_ids
        assert survivor in payload.state.relation_ids and event.subject_version == 2

    # Logging against the merged relation now names the survivor instead.
    refused = await cm_api.post("/contact-moments", json=moment([merged]))
    assert refused.status_code == 422 and str(survivor) in refused.json()["detail"][0]["msg"]


@pytest.mark.usefixtures("cm_worker", "cm_relay")
async def test_erasure_removes_links_moments_and_addresses(
    cm_api: httpx.AsyncClient,
    publish: Publish,
    kafka_bootstrap: str,
    cm_db: asyncpg.Connection,
):
    erased, organisation = uuid.uuid4(), uuid.uuid4()
    address = f"erase-{erased.hex[:8]}@example.org"
    await publish(relation_changed(erased, 1, [address]))
    await publish(relation_changed(organisation, 1, [f"org-{erased.hex[:8]}@example.org"]))
    raw = (
        f"Message-ID: <erase-{erased}@example.org>\nFrom: {address}\n"
        "To: staff@our-association.example\nSubject: private matter\n\nvery personal\n"
    ).encode()

    async def known() -> bool:
        return (await post_mail(cm_api, raw)).status_code in (200, 201)

    await eventually(known)
    mail_moment = (await post_mail(cm_api, raw)).json()["contact_moment"]
    alone = await log(cm_api, moment([erased], notes="about the erased person"))
    shared = await log(cm_api, moment([erased, organisation]))
    ids = {
        alone["contact_moment_id"],
        shared["contact_moment_id"],
        mail_moment["contact_moment_id"],
    }

    await publish(relation_erased(erased, 2))

    async def erased_everywhere() -> bool:
        page = (await cm_api.get(f"/relations/{erased}/contact-moments")).json()
        return page["items"] == []

    await eventually(erased_everywhere)
    assert (await cm_api.get(f"/contact-moments/{alone['contact_moment_id']}")).status_code == 410
    kept = (await cm_api.get(f"/contact-moments/{shared['contact_moment_id']}")).json()
    assert kept["relation_ids"] == [str(organisation)]
    org_page = (await cm_api.get(f"/relations/{organisation}/contact-moments")).json()
    assert [m["contact_moment_id"] for m in org_page["items"]] == [shared["contact_moment_id"]]

    # What was only about the erased relation is wiped, its history values too.
    row = await cm_db.fetchrow(
        "SELECT subject, notes, email, message_id FROM contact_moments WHERE id = $1",
        uuid.UUID(mail_moment["contact_moment_id"]),
    )
    assert row is not None
    assert dict(row) == {"subject": "", "notes": "", "email": None, "message_id": None}
    history = (await cm_api.get(f"/contact-moments/{alone['contact_moment_id']}/history")).json()
    assert history[0]["reason"] == "relation.erased"
    assert all(c["old"] is None and c["new"] is None for e in history for c in e["changes"])
    assert (
        await cm_db.fetchval("SELECT count(*) FROM relation_emails WHERE address = $1", address)
        == 0
    )
    unknown_now = await post_mail(cm_api, raw.replace(b"<erase-", b"<after-"))
    assert unknown_now.status_code == 422

    events = await _published(kafka_bootstrap, ids, 6)
    latest = {e.subject_id: e for e in events}
    assert latest[alone["contact_moment_id"]].type == "contactmoment.deleted"
    assert latest[mail_moment["contact_moment_id"]].type == "contactmoment.deleted"
    assert latest[shared["contact_moment_id"]].type == "contactmoment.changed"
    deleted = ContactMomentPayload.model_validate(latest[alone["contact_moment_id"]].payload)
    assert deleted.state.relation_ids == [] and deleted.previous_relation_ids == [erased]
    assert deleted.state.subject == ""

    # A late relation.updated cannot bring the erased relation's address back.
    await publish(relation_changed(erased, 5, [address], event_type="relation.updated"))
    await publish(relation_changed(organisation, 2, [], event_type="relation.updated"))

    async def org_applied() -> bool:
        return (
            await cm_db.fetchval(
                "SELECT version FROM known_relations WHERE relation_id = $1", organisation
            )
            == 2
        )

    await eventually(org_applied)  # same worker, later in the stream
    assert (
        await cm_db.fetchval("SELECT count(*) FROM relation_emails WHERE address = $1", address)
        == 0
    )


@pytest.mark.usefixtures("cm_worker")
async def test_a_malformed_relation_event_is_dead_lettered_and_the_worker_goes_on(
    cm_api: httpx.AsyncClient, publish: Publish, kafka_bootstrap: str
):
    broken = Envelope(
        type="relation.merged",
        producer="relations",
        subject_id=str(uuid.uuid4()),
        subject_version=2,
        payload={"survivor_id": "not-a-uuid"},
    )
    await publish(broken)
    relation = uuid.uuid4()
    await publish(relation_changed(relation, 1))

    async def applied() -> bool:
        page = await cm_api.post("/contact-moments", json=moment([relation]))
        return page.status_code == 201

    await eventually(applied)
    dead = await read_topic(
        kafka_bootstrap,
        "crm.relations.dlq",
        until=lambda rs: any(r.key.decode() == broken.subject_id for r in rs),
    )
    mine = [r for r in dead if r.key.decode() == broken.subject_id]
    assert b"invalid payload" in dict(mine[0].headers)["x-error"]
