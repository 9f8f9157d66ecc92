"""Demo data: a Dutch professional association, loaded into a running platform.

Everything goes in the way it would in production: relations through the relations service's
bulk import, functions and contact moments through their APIs, donations and event
registrations as events on the platform topics (as the donations and events modules publish
them), and views, lists and users through the gateway's administration API. Seeding is
repeatable: relations match on their external ids, facts carry fixed ids or are checked first.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import typer

from relata_cli import demo_data, runstate
from relata_cli.demo_data import DemoRelation
from relata_cli.processes import GATEWAY, named, url
from relata_common.events import (
    DONATIONS_TOPIC,
    REGISTRATIONS_TOPIC,
    RELATIONS_TOPIC,
    DonationReceivedPayload,
    Envelope,
    RegistrationPayload,
)
from relata_common.publishing import Publisher

DEFAULT_RELATIONS = 2_000
IMPORT_CHUNK = 1_000
CONCURRENCY = 16
MEMBERSHIP = "Membership administration"
MARKETING = "Marketing"
DONORS = "Donors"
UTRECHT_LIST = "Members in Utrecht"

Progress = Callable[[int], None]


@dataclass(frozen=True)
class DemoUser:
    username: str
    display_name: str
    password: str
    role: str
    view: str | None = None
    can_edit: bool = False


ADMIN = DemoUser("admin", "Functioneel beheerder", "relata-admin", "admin")
DEMO_USERS = (
    ADMIN,
    DemoUser("anouk", "Anouk de Vries", "relata-demo", "staff", MEMBERSHIP, can_edit=True),
    DemoUser("daan", "Daan Bakker", "relata-demo", "staff", MEMBERSHIP),
    DemoUser("bram", "Bram Visser", "relata-demo", "staff", MARKETING),
    DemoUser("carla", "Carla van Dijk", "relata-demo", "staff", DONORS),
)
"""Demo logins: the administrator has every view; staff the one named, edit rights or not."""

NAMES = ["first_name", "initials", "infix", "last_name"]
CUSTOM_FIELDS: tuple[dict[str, Any], ...] = (
    {"key": "member_since", "label": "Lid sinds", "type": "date", "applies_to": "person"},
    {
        "key": "membership_type",
        "label": "Soort lidmaatschap",
        "type": "choice",
        "choices": list(demo_data.MEMBERSHIP_TYPES),
        "applies_to": "person",
    },
    {"key": "newsletter", "label": "Nieuwsbrief", "type": "boolean"},
)
VIEWS: tuple[dict[str, Any], ...] = (
    {
        "name": MEMBERSHIP,
        "base_filter": {
            "all": [
                {"kind": "field", "field": "relation_type", "op": "equals", "value": "person"},
                {"kind": "field", "field": "custom.membership_type", "op": "not_empty"},
            ]
        },
        "form": {
            "tabs": [
                {"name": "Person", "fields": ["relation_number", *NAMES, "birth_date"]},
                {"name": "Contact details", "fields": ["addresses", "phones", "emails"]},
                {
                    "name": "Membership",
                    "fields": ["custom.member_since", "custom.membership_type", "lists"],
                },
                {"name": "Network", "fields": ["functions", "contact_moments", "history"]},
            ]
        },
    },
    {
        "name": MARKETING,
        "base_filter": {
            "kind": "field",
            "field": "custom.newsletter",
            "op": "equals",
            "value": True,
        },
        "form": {
            "tabs": [
                {"name": "Contact", "fields": [*NAMES, "emails", "addresses"]},
                {"name": "Preferences", "fields": ["custom.newsletter"]},
            ]
        },
    },
    {
        "name": DONORS,
        "base_filter": {"kind": "donations", "min_count": 1},
        "form": {
            "tabs": [
                {"name": "Donor", "fields": [*NAMES, "organisation_name", "addresses"]},
                {"name": "Donations", "fields": ["donations"]},
            ]
        },
    },
)
LISTS: dict[str, tuple[dict[str, Any], ...]] = {
    MEMBERSHIP: (
        {
            "name": UTRECHT_LIST,
            "filter": {"kind": "field", "field": "city", "op": "equals", "value": "Utrecht"},
        },
    )
}


class SeedError(RuntimeError):
    """The platform refused or did not answer a step of the seeding."""


@dataclass
class Summary:
    relations: int = 0
    created: int = 0
    invalid: int = 0
    functions: int = 0
    donations: int = 0
    registrations: int = 0
    contact_moments: int = 0


def _check(response: httpx.Response, what: str, allowed: Iterable[int] = ()) -> httpx.Response:
    if response.status_code < 400 or response.status_code in set(allowed):
        return response
    raise SeedError(f"{what}: {response.status_code} {response.text[:500]}")


class Platform:
    """HTTP access to a running platform: the gateway as the admin, services internally."""

    def __init__(self, client: httpx.AsyncClient, env: dict[str, str]) -> None:
        self.client = client
        self.env = env
        self.internal = {"X-Internal-Token": runstate.internal_token(env)}
        self.bearer: dict[str, str] = {}
        base = runstate.port_base(env)
        self.gateway_url = url(GATEWAY, base)
        self.relations_url = url(named("relations-api"), base)
        self.contactmoments_url = url(named("contactmoments-api"), base)

    async def log_in(self, user: DemoUser) -> bool:
        response = await self.client.post(
            f"{self.gateway_url}/auth/token",
            json={"username": user.username, "password": user.password},
        )
        if response.status_code != 200:
            return False
        self.bearer = {"Authorization": f"Bearer {response.json()['access_token']}"}
        return True

    async def gateway(self, method: str, path: str, what: str, **kwargs: Any) -> httpx.Response:
        allowed = kwargs.pop("allowed", ())
        response = await self.client.request(
            method, f"{self.gateway_url}{path}", headers=self.bearer, **kwargs
        )
        return _check(response, what, allowed)

    async def service(
        self, method: str, url: str, what: str, *, headers: dict[str, str] | None = None, **kw: Any
    ) -> httpx.Response:
        allowed = kw.pop("allowed", ())
        response = await self.client.request(
            method, url, headers={**self.internal, **(headers or {})}, **kw
        )
        return _check(response, what, allowed)


# --- the administrator, views, lists and users ------------------------------------------------


def ensure_admin(env: dict[str, str]) -> None:
    """Create the first administrator directly in the gateway database (as an operator would)."""
    database = runstate.database_name(env, GATEWAY.database)
    command = [
        sys.executable,
        "-m",
        "relata_gateway.cli",
        "create-admin",
        "--username",
        ADMIN.username,
        "--password",
        ADMIN.password,
    ]
    done = subprocess.run(
        command,
        env={**env, "CRM_DATABASE_NAME": database, "CRM_LOG_JSON": "false"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise SeedError(f"creating the administrator failed: {done.stderr[-1000:]}")


async def _views(platform: Platform) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in (await platform.gateway("GET", "/views", "views")).json()}


async def ensure_views(platform: Platform) -> dict[str, dict[str, Any]]:
    for definition in CUSTOM_FIELDS:
        await platform.gateway(
            "POST", "/admin/custom-fields", "custom field", json=definition, allowed=(409,)
        )
    existing = await _views(platform)
    for view in VIEWS:
        if view["name"] not in existing:
            await platform.gateway("POST", "/admin/views", f"view {view['name']}", json=view)
    views = await _views(platform)
    for name, wanted in LISTS.items():
        have = {ref["name"] for ref in views[name]["lists"]}
        for item in wanted:
            if item["name"] not in have:
                path = f"/views/{views[name]['view_id']}/lists"
                await platform.gateway("POST", path, f"list {item['name']}", json=item)
    return await _views(platform)


async def ensure_users(platform: Platform, views: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Create the staff users (and grant their views); the ids of the ones created now."""
    created: dict[str, str] = {}
    for user in DEMO_USERS:
        if user.role == "admin":
            continue
        body = {
            "username": user.username,
            "display_name": user.display_name,
            "password": user.password,
            "role": user.role,
        }
        response = await platform.gateway(
            "POST", "/users", f"user {user.username}", json=body, allowed=(422,)
        )
        if response.status_code == 422:
            continue  # exists already, with its grants
        user_id = response.json()["user_id"]
        created[user.username] = user_id
        if user.view is not None:
            await platform.gateway(
                "PUT",
                f"/admin/views/{views[user.view]['view_id']}/grants",
                f"grant {user.username}",
                json={"user_id": user_id, "can_edit": user.can_edit},
            )
    return created


# --- relations ----------------------------------------------------------------------------------


def _chunks(items: Sequence[DemoRelation], size: int) -> Iterable[Sequence[DemoRelation]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def import_relations(
    platform: Platform, relations: Sequence[DemoRelation], summary: Summary, progress: Progress
) -> None:
    """The bulk import, a chunk per request (two in flight), reporting each chunk done."""
    pending: set[asyncio.Task[None]] = set()

    async def send(chunk: Sequence[DemoRelation]) -> None:
        body = b"\n".join(orjson.dumps(r.import_row()) for r in chunk)
        response = await platform.service(
            "POST",
            f"{platform.relations_url}/relations/import",
            "import",
            content=body,
            headers={"Content-Type": "application/x-ndjson"},
            timeout=300,
        )
        report = response.json()
        summary.created += report["created"]
        summary.invalid += report["invalid_count"]
        if report["invalid"]:
            typer.echo(f"refused by the import: {report['invalid'][:3]}", err=True)
        progress(len(chunk))

    for chunk in _chunks(relations, IMPORT_CHUNK):
        if len(pending) >= 2:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
        pending.add(asyncio.create_task(send(chunk)))
    for task in pending:
        await task
    summary.relations = len(relations)


async def _bounded(items: Iterable[Any], work: Callable[[Any], Any], limit: int) -> list[Any]:
    semaphore = asyncio.Semaphore(limit)

    async def one(item: Any) -> Any:
        async with semaphore:
            return await work(item)

    return await asyncio.gather(*(one(item) for item in items))


async def resolve(platform: Platform, external_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The state of each relation, found by its external id through the relations API."""

    async def find(external_id: str) -> tuple[str, dict[str, Any] | None]:
        response = await platform.service(
            "GET",
            f"{platform.relations_url}/relations",
            f"finding {external_id}",
            params={"external_id": external_id},
        )
        found = response.json()
        return external_id, (found[0] if found else None)

    pairs = await _bounded(sorted(set(external_ids)), find, CONCURRENCY)
    return {external_id: state for external_id, state in pairs if state is not None}


async def states_from_topic(
    env: dict[str, str], wanted: set[str], idle_seconds: float = 5.0
) -> dict[str, dict[str, Any]]:
    """The newest state of each wanted relation, read from ``crm.relations``.

    Every relation event carries the relation's full state, external id included, so a module
    learns relation ids the way it learns everything else: from the topic. Reads to the end of
    every partition; waits up to ``idle_seconds`` for relations still on their way.
    """
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=runstate.kafka_bootstrap(env),
        enable_auto_commit=False,
        fetch_max_wait_ms=100,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    await consumer.start()
    found: dict[str, dict[str, Any]] = {}
    try:
        partitions = consumer.partitions_for_topic(RELATIONS_TOPIC) or set()
        assigned = [TopicPartition(RELATIONS_TOPIC, p) for p in sorted(partitions)]
        if not assigned:
            return found
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        quiet_since = time.monotonic()
        while True:
            batch = await consumer.getmany(timeout_ms=500, max_records=5_000)
            for records in batch.values():
                for record in records:
                    state = (orjson.loads(record.value).get("payload") or {}).get("state") or {}
                    if state.get("external_id") in wanted and state.get("status") == "active":
                        found[state["external_id"]] = state
            at_end = await _at_end(consumer, assigned)
            if batch:
                quiet_since = time.monotonic()
            if at_end and len(found) == len(wanted):
                return found
            if at_end and time.monotonic() - quiet_since > idle_seconds:
                return found
    finally:
        await consumer.stop()


async def _at_end(consumer: Any, partitions: list[Any]) -> bool:
    for tp in partitions:
        highwater = consumer.highwater(tp)
        if highwater is None or await consumer.position(tp) < highwater:
            return False
    return True


# --- facts --------------------------------------------------------------------------------------


async def add_functions(
    platform: Platform,
    persons: Sequence[DemoRelation],
    states: dict[str, dict[str, Any]],
    summary: Summary,
) -> None:
    async def for_person(person: DemoRelation) -> None:
        state = states[person.external_id]
        held = {(f["role"], f["object_id"]) for f in state.get("functions", [])}
        for plan in person.functions:
            target = states.get(plan.organisation)
            if target is None or (plan.role, target["relation_id"]) in held:
                continue
            await platform.service(
                "POST",
                f"{platform.relations_url}/relations/{state['relation_id']}/functions",
                f"function of {person.external_id}",
                json={
                    "role": plan.role,
                    "object_id": target["relation_id"],
                    "start_date": plan.start_date.isoformat(),
                },
            )
            summary.functions += 1

    await _bounded([p for p in persons if p.functions], for_person, CONCURRENCY)


async def log_contact_moments(
    platform: Platform,
    persons: Sequence[DemoRelation],
    states: dict[str, dict[str, Any]],
    logged_by: str | None,
    summary: Summary,
) -> None:
    actor = {"X-Actor-Kind": "user", "X-Actor-Id": logged_by} if logged_by else {}

    async def for_person(person: DemoRelation) -> None:
        relation_id = states[person.external_id]["relation_id"]
        timeline = await platform.service(
            "GET",
            f"{platform.contactmoments_url}/relations/{relation_id}/contact-moments",
            "timeline",
            params={"limit": 1},
        )
        if timeline.json().get("items"):
            return  # logged by an earlier seeding
        for moment in person.contact_moments:
            await platform.service(
                "POST",
                f"{platform.contactmoments_url}/contact-moments",
                "contact moment",
                headers=actor,
                json={
                    "kind": moment.kind,
                    "direction": moment.direction,
                    "subject": moment.subject,
                    "notes": moment.notes,
                    "occurred_at": moment.occurred_at.isoformat(),
                    "relation_ids": [relation_id],
                },
            )
            summary.contact_moments += 1

    await _bounded([p for p in persons if p.contact_moments], for_person, CONCURRENCY)


def platform_events(
    persons: Sequence[DemoRelation], states: dict[str, dict[str, Any]]
) -> list[tuple[str, Envelope]]:
    """Donations and registrations as the donations and events modules publish them."""
    events: list[tuple[str, Envelope]] = []
    for person in persons:
        state = states.get(person.external_id)
        if state is None:
            continue
        relation_id = uuid.UUID(state["relation_id"])
        for donation in person.donations:
            payload = DonationReceivedPayload(
                donation_id=donation.donation_id,
                relation_id=relation_id,
                amount=donation.amount,
                received_on=donation.received_on,
                campaign=donation.campaign,
            )
            events.append(
                (
                    DONATIONS_TOPIC,
                    _envelope("donation.received", "donations", payload, donation.donation_id),
                )
            )
        for registration in person.registrations:
            registration_payload = RegistrationPayload(
                registration_id=registration.registration_id,
                relation_id=relation_id,
                event_code=registration.event_code,
                event_date=registration.event_date,
                status=registration.status,
            )
            envelope = _envelope(
                "registration.created",
                "events",
                registration_payload,
                registration.registration_id,
            )
            events.append((REGISTRATIONS_TOPIC, envelope))
    return events


def _envelope(
    kind: str, module: str, payload: DonationReceivedPayload | RegistrationPayload, fact: uuid.UUID
) -> Envelope:
    return Publisher.for_module(module).envelope(
        kind,
        payload.relation_id,
        payload,
        event_id=uuid.uuid5(demo_data.DEMO_NAMESPACE, f"event:{fact}"),  # republishing is harmless
    )


async def publish(env: dict[str, str], events: Sequence[tuple[str, Envelope]]) -> None:
    from aiokafka import AIOKafkaProducer

    from relata_common.kafka import ensure_topics

    bootstrap = runstate.kafka_bootstrap(env)
    partitions = int(env.get("CRM_TOPIC_PARTITIONS", "12"))
    await ensure_topics(bootstrap, (DONATIONS_TOPIC, REGISTRATIONS_TOPIC), partitions=partitions)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id="relata-demo-modules",
        acks="all",
        enable_idempotence=False,  # Tansu rejects the idempotent producer
        linger_ms=5,
    )
    await producer.start()
    try:
        batch = []
        for topic, envelope in events:
            batch.append(
                await producer.send(topic, envelope.to_json(), key=envelope.subject_id.encode())
            )
            if len(batch) >= 5_000:
                await asyncio.gather(*batch)
                batch.clear()
        await asyncio.gather(*batch)
    finally:
        await producer.stop()


# --- the whole --------------------------------------------------------------------------------


@contextlib.contextmanager
def _stage(label: str) -> Iterator[None]:
    started = time.monotonic()
    yield
    typer.echo(f"  {label}: {time.monotonic() - started:.1f} s")


async def _seed(env: dict[str, str], relations: int, *, only_if_empty: bool) -> Summary | None:
    async with httpx.AsyncClient(timeout=60) as client:
        platform = Platform(client, env)
        if not await platform.log_in(ADMIN):
            raise SeedError(f"cannot log in as {ADMIN.username!r}: was its password changed?")
        if only_if_empty and await _views(platform):
            return None
        views = await ensure_views(platform)
        created_users = await ensure_users(platform, views)
        organisations, persons = demo_data.association(relations)
        summary = Summary()
        everything = [*organisations, *persons]
        with typer.progressbar(
            length=len(everything), label=f"importing {relations} relations"
        ) as bar:
            await import_relations(platform, everything, summary, bar.update)
        engaged = [p for p in persons if p.has_facts]
        wanted = {p.external_id for p in engaged}
        wanted |= {plan.organisation for p in engaged for plan in p.functions}
        with _stage(f"finding {len(wanted)} relations on {RELATIONS_TOPIC}"):
            states = await states_from_topic(env, wanted)
        if len(states) < len(wanted):  # the broker lost older events (Tansu keeps them in memory)
            with _stage(f"looking up {len(wanted) - len(states)} relations by external id"):
                states |= await resolve(platform, wanted - set(states))
        engaged = [p for p in engaged if p.external_id in states]
        events = platform_events(engaged, states)
        with _stage(f"publishing {len(events)} donations and registrations"):
            await publish(env, events)
        summary.donations = sum(1 for topic, _ in events if topic == DONATIONS_TOPIC)
        summary.registrations = len(events) - summary.donations
        with _stage("functions and contact moments"):  # two services: side by side
            await asyncio.gather(
                add_functions(platform, engaged, states, summary),
                log_contact_moments(platform, engaged, states, created_users.get("anouk"), summary),
            )
        return summary


def seed_demo(env: dict[str, str], relations: int = DEFAULT_RELATIONS) -> Summary:
    """Load (or top up) the demo association with ``relations`` relations."""
    started = time.monotonic()
    ensure_admin(env)
    summary = asyncio.run(_seed(env, relations, only_if_empty=False))
    assert summary is not None
    _report(summary, time.monotonic() - started)
    return summary


def seed_demo_once(env: dict[str, str], relations: int = DEFAULT_RELATIONS) -> None:
    """Load the demo association unless the platform holds data already."""
    started = time.monotonic()
    try:
        ensure_admin(env)
        typer.echo("loading the demo association")
        summary = asyncio.run(_seed(env, relations, only_if_empty=True))
    except (SeedError, httpx.HTTPError, OSError) as error:
        typer.echo(f"demo data not loaded: {error}", err=True)
        return
    if summary is None:
        typer.echo("demo data: present already (views exist), not loaded again")
    else:
        _report(summary, time.monotonic() - started)
    print_logins(env)


def _report(summary: Summary, seconds: float) -> None:
    typer.echo(
        f"demo association: {summary.relations} relations ({summary.created} new, "
        f"{summary.invalid} refused), {summary.functions} functions, "
        f"{summary.donations} donations, {summary.registrations} event registrations, "
        f"{summary.contact_moments} contact moments in {seconds:.0f} s"
    )
    typer.echo("lists, search and cards catch up within moments (events are being processed)")


def print_logins(env: dict[str, str]) -> None:
    gateway = url(GATEWAY, runstate.port_base(env))
    typer.echo(f"\nDemo logins (POST {gateway}/auth/token):")
    for user in DEMO_USERS:
        if user.view is None:
            views = "every view (administrator)"
        else:
            views = f"{user.view} ({'can edit' if user.can_edit else 'read-only'})"
        typer.echo(f"  {user.username:<8} {user.password:<14} {views}")
