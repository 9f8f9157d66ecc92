"""Reconciliation: after a fault, does every part of the platform agree, with nothing lost or
doubled? Each check reads the services' own databases (and the dead-letter topics) and says
what it found:

- every relation's latest version is the same in the relations service, the lists read model
  and the search service's documents;
- every list's membership equals a full evaluation of its filter now;
- every acknowledged contact moment exists exactly once, none of the unanswered ones twice,
  and the lists read model holds exactly the contact moments the service holds;
- every acknowledged donation is in the lists read model exactly once;
- every injected poison event sits in its dead-letter topic with a reason.

The platform is eventually consistent, so :func:`reconcile` repeats the checks until they
hold or the time is up, and reports how long agreement took.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer

from relata_common.events import dead_letter_topic
from relata_testing.private import PrivatePlatform
from relata_testing.workload import INTERNAL, SUBJECT_PREFIX, Outcomes, Poison

EXAMPLES = 5


@dataclass(frozen=True)
class Finding:
    invariant: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class Reconciliation:
    findings: list[Finding]
    seconds: float
    """How long the checks took to hold (or the whole wait, when they did not)."""

    @property
    def ok(self) -> bool:
        return all(f.ok for f in self.findings)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "seconds": round(self.seconds, 1), "findings": _dicts(self)}

    def lines(self) -> list[str]:
        return [f"{'ok  ' if f.ok else 'FAIL'} {f.invariant}: {f.detail}" for f in self.findings]


def _dicts(result: Reconciliation) -> list[dict[str, Any]]:
    return [asdict(f) for f in result.findings]


def _some(items: Iterable[Any]) -> str:
    listed = sorted(str(i) for i in items)
    more = f" (+{len(listed) - EXAMPLES} more)" if len(listed) > EXAMPLES else ""
    return ", ".join(listed[:EXAMPLES]) + more


async def _fetch(platform: PrivatePlatform, database: str, query: str, *args: Any) -> list[Any]:
    connection = await asyncpg.connect(platform.dsn(database), timeout=10)
    try:
        return await connection.fetch(query, *args)
    finally:
        await connection.close()


async def relation_versions(platform: PrivatePlatform) -> Finding:
    relations = {
        r["id"]: r["version"]
        for r in await _fetch(platform, "relata_relations", "SELECT id, version FROM relations")
    }
    lists = {
        r["relation_id"]: r["version"]
        for r in await _fetch(
            platform, "relata_lists", "SELECT relation_id, version FROM rm_relations"
        )
    }
    search = {
        r["relation_id"]: r["version"]
        for r in await _fetch(
            platform, "relata_search", "SELECT relation_id, version FROM search_documents"
        )
    }
    problems = []
    for name, copy in (("lists read model", lists), ("search documents", search)):
        missing = relations.keys() - copy.keys()
        extra = copy.keys() - relations.keys()
        stale = {i for i in relations.keys() & copy.keys() if copy[i] != relations[i]}
        if missing:
            problems.append(f"{len(missing)} missing from the {name}: {_some(missing)}")
        if extra:
            problems.append(f"{len(extra)} unknown in the {name}: {_some(extra)}")
        if stale:
            shown = _some(f"{i} v{copy[i]}≠v{relations[i]}" for i in stale)
            problems.append(f"{len(stale)} at another version in the {name}: {shown}")
    detail = "; ".join(problems) or (
        f"{len(relations)} relations, the same version in all three "
        f"(highest {max(relations.values(), default=0)})"
    )
    return Finding("relation versions agree", not problems, detail)


async def list_memberships(platform: PrivatePlatform) -> Finding:
    """Each list's stored membership against a full evaluation of its filter now."""
    definitions = await _fetch(platform, "relata_lists", "SELECT list_id, name, filter FROM lists")
    members: dict[uuid.UUID, set[uuid.UUID]] = {}
    for row in await _fetch(
        platform, "relata_lists", "SELECT list_id, relation_id FROM memberships"
    ):
        members.setdefault(row["list_id"], set()).add(row["relation_id"])
    problems = []
    sizes = []
    async with httpx.AsyncClient(base_url=platform.url("lists-api"), timeout=120) as client:
        for definition in definitions:
            response = await client.post(
                "/evaluate/ids",
                json={"filter": _json(definition["filter"])},
                headers=INTERNAL,
            )
            response.raise_for_status()
            expected = {uuid.UUID(i) for i in response.json()["relation_ids"]}
            stored = members.get(definition["list_id"], set())
            sizes.append(len(stored))
            if stored != expected:
                problems.append(
                    f"{definition['name']!r}: {len(expected - stored)} missing "
                    f"({_some(expected - stored)}), {len(stored - expected)} too many "
                    f"({_some(stored - expected)})"
                )
    detail = "; ".join(problems) or f"{len(definitions)} lists, members {sizes}, all as evaluated"
    return Finding("list membership equals full evaluation", not problems, detail)


def _json(value: Any) -> Any:
    import json

    return json.loads(value) if isinstance(value, str) else value


async def contact_moments(platform: PrivatePlatform, outcomes: Outcomes) -> Finding:
    rows = await _fetch(
        platform,
        "relata_contactmoments",
        "SELECT id, subject FROM contact_moments WHERE subject LIKE $1",
        f"{SUBJECT_PREFIX}%",
    )
    counts = Counter(r["subject"] for r in rows)
    lost = outcomes.moments_acked - counts.keys()
    doubled = {s for s, n in counts.items() if n > 1}
    unasked = counts.keys() - outcomes.moments_acked - outcomes.moments_unknown
    ids = {r["id"] for r in rows}
    mirrored = {
        r["contact_moment_id"]
        for r in await _fetch(
            platform, "relata_lists", "SELECT contact_moment_id FROM rm_contact_moments"
        )
    }
    not_mirrored = ids - mirrored
    problems = []
    if lost:
        problems.append(f"{len(lost)} acknowledged but lost: {_some(lost)}")
    if doubled:
        problems.append(f"{len(doubled)} stored twice: {_some(doubled)}")
    if unasked:
        problems.append(f"{len(unasked)} stored that nobody sent: {_some(unasked)}")
    if not_mirrored:
        problems.append(f"{len(not_mirrored)} missing from the lists read model")
    landed = len(counts.keys() & outcomes.moments_unknown)
    detail = "; ".join(problems) or (
        f"{len(outcomes.moments_acked)} acknowledged, each stored once and in the lists read "
        f"model; of {len(outcomes.moments_unknown)} unanswered, {landed} landed (once each)"
    )
    return Finding("contact moments: none lost or doubled", not problems, detail)


async def donations(platform: PrivatePlatform, outcomes: Outcomes) -> Finding:
    rows = await _fetch(platform, "relata_lists", "SELECT donation_id FROM rm_donations")
    counts = Counter(str(r["donation_id"]) for r in rows)
    lost = outcomes.donations - counts.keys()
    doubled = {d for d, n in counts.items() if n > 1}
    problems = []
    if lost:
        problems.append(f"{len(lost)} acknowledged by the broker but not applied: {_some(lost)}")
    if doubled:
        problems.append(f"{len(doubled)} applied twice")
    detail = "; ".join(problems) or (
        f"{len(outcomes.donations)} acknowledged donations, each in the lists read model once"
    )
    return Finding("donations: none lost or doubled", not problems, detail)


async def dead_letters(platform: PrivatePlatform, poison: list[Poison]) -> Finding:
    """Every poison event in its dead-letter topic, with the consumer's reason."""
    if not poison:
        return Finding("poison events dead-lettered", True, "none injected")
    found: dict[str, list[tuple[str, str]]] = {}
    for topic in sorted({p.topic for p in poison}):
        for record in await _read_all(platform.kafka_bootstrap, dead_letter_topic(topic)):
            key = record.key.decode(errors="replace") if record.key else ""
            headers = dict(record.headers)
            reason = headers.get("x-error", b"").decode(errors="replace").strip()
            consumer = headers.get("x-consumer", b"").decode(errors="replace")
            found.setdefault(key, []).append((consumer, reason))
    missing = [p for p in poison if not found.get(p.key)]
    without_reason = [p for p in poison if any(not reason for _, reason in found.get(p.key, []))]
    problems = [f"{p.what} on {p.topic} not dead-lettered" for p in missing]
    problems += [f"{p.what} dead-lettered without a reason" for p in without_reason]
    detail = "; ".join(problems) or "; ".join(
        f"{p.what}: by {', '.join(sorted({c for c, _ in found[p.key]}))} "
        f"({found[p.key][0][1][:100]!r})"
        for p in poison
    )
    return Finding("poison events dead-lettered with their reason", not problems, detail)


async def _read_all(bootstrap: str, topic: str, idle: float = 2.0) -> list[Any]:
    """Every record of a topic, read from the beginning until nothing more comes."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list[Any] = []
    try:
        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < idle:
            batch = await consumer.getmany(timeout_ms=300)
            for partition in batch.values():
                records.extend(partition)
                quiet_since = time.monotonic()
    finally:
        await consumer.stop()
    return records


async def check(
    platform: PrivatePlatform, outcomes: Outcomes, poison: list[Poison]
) -> list[Finding]:
    return [
        await relation_versions(platform),
        await list_memberships(platform),
        await contact_moments(platform, outcomes),
        await donations(platform, outcomes),
        await dead_letters(platform, poison),
    ]


async def reconcile(
    platform: PrivatePlatform,
    outcomes: Outcomes,
    poison: list[Poison] | None = None,
    timeout: float = 180.0,
    progress: Callable[[str], None] | None = None,
) -> Reconciliation:
    """The checks, repeated until they all hold (events still in flight) or ``timeout``;
    ``progress`` hears what still disagrees, every 15 s or so."""
    started = time.monotonic()
    told = started
    while True:
        try:
            findings = await check(platform, outcomes, poison or [])
        except (OSError, asyncpg.PostgresError, httpx.HTTPError) as error:
            findings = [Finding("reconciliation could run", False, repr(error)[:300])]
        elapsed = time.monotonic() - started
        if all(f.ok for f in findings) or elapsed > timeout:
            return Reconciliation(findings, elapsed)
        if progress is not None and time.monotonic() - told > 15:
            told = time.monotonic()
            for finding in findings:
                if not finding.ok:
                    progress(f"after {elapsed:.0f} s still: {finding.invariant}: {finding.detail}")
        await asyncio.sleep(3)
