"""What the fault suite and the system tests do to a private platform: set up a small world
(an administrator, a view of persons with a saved list, a staff user who may edit it,
relations), run a bounded write load through the gateway, publish donations as the donations
module would, and inject events no consumer can apply.

The load remembers every outcome, so reconciliation can tell a lost write from one that was
never acknowledged: each contact moment carries a unique subject, each donation a unique id.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import orjson
from aiokafka import AIOKafkaProducer

from relata_common.events import (
    DONATIONS_TOPIC,
    RELATIONS_TOPIC,
    DonationReceivedPayload,
    Envelope,
)
from relata_common.kafka import ensure_topics
from relata_common.publishing import Publisher
from relata_testing.private import INTERNAL_TOKEN, PrivatePlatform

ADMIN = ("admin", "admin-password-123")
STAFF = ("staff", "staff-password-123")
VIEW_FORM = {
    "tabs": [
        {
            "name": "Person",
            "fields": ["relation_number", "first_name", "infix", "last_name", "birth_date"],
        },
        {"name": "Contact", "fields": ["addresses", "emails", "phones"]},
        {
            "name": "More",
            "fields": ["contact_moments", "lists", "functions", "history", "donations"],
        },
    ]
}
PERSON_VIEW = {"kind": "field", "field": "relation_type", "op": "equals", "value": "person"}
IN_UTRECHT = {"kind": "field", "field": "city", "op": "equals", "value": "Utrecht"}
CITIES = ("Utrecht", "Amersfoort", "Zeist")
INTERNAL = {"X-Internal-Token": INTERNAL_TOKEN, "X-Actor-Kind": "system"}
SUBJECT_PREFIX = "load-"


@dataclass
class Login:
    """A user's access token, renewed when half its life is over: an import of a million
    relations outlasts the fifteen minutes a token lives."""

    gateway: str
    username: str
    password: str
    _headers: dict[str, str] = field(default_factory=dict)
    _renew_at: float = 0.0

    @property
    def headers(self) -> dict[str, str]:
        if time.monotonic() >= self._renew_at:
            response = httpx.post(
                f"{self.gateway}/auth/token",
                json={"username": self.username, "password": self.password},
                timeout=30,
            )
            response.raise_for_status()
            token = response.json()
            self._headers = {"Authorization": f"Bearer {token['access_token']}"}
            self._renew_at = time.monotonic() + token["expires_in"] / 2
        return self._headers


@dataclass
class World:
    """The platform and what was made in it, by id."""

    platform: PrivatePlatform
    admin_login: Login
    staff_login: Login
    staff_id: str
    view_id: str
    list_ids: list[str]
    relation_ids: list[str]

    @property
    def gateway(self) -> str:
        return self.platform.gateway_url

    @property
    def admin(self) -> dict[str, str]:
        return self.admin_login.headers

    @property
    def staff(self) -> dict[str, str]:
        return self.staff_login.headers


def _ok(response: httpx.Response, *statuses: int) -> Any:
    if response.status_code not in (statuses or (200, 201)):
        raise RuntimeError(f"{response.request.url}: {response.status_code} {response.text}")
    return response.json() if response.content else None


def person(i: int) -> dict[str, Any]:
    return {
        "relation_type": "person",
        "external_id": f"load-{i}",
        "fields": {
            "first_name": f"Test{i}",
            "last_name": f"Person{i}",
            "addresses": [_address(CITIES[i % len(CITIES)], i)],
        },
    }


def _address(city: str, number: int) -> dict[str, Any]:
    return {
        "type": "home",
        "street": "Oudegracht",
        "house_number": str(number + 1),
        "postal_code": "3511 AB",
        "city": city,
        "country": "NL",
    }


def import_relations(platform: PrivatePlatform, count: int) -> list[str]:
    """Relations through the bulk import (NDJSON), as an association's migration loads them;
    their ids are read back from the relations database (the import reports counts only)."""
    body = b"\n".join(orjson.dumps(person(i)) for i in range(count)) + b"\n"
    with httpx.Client(base_url=platform.url("relations-api"), timeout=600) as client:
        report = _ok(
            client.post(
                "/relations/import",
                content=body,
                headers={**INTERNAL, "Content-Type": "application/x-ndjson"},
            )
        )
    if report.get("invalid_count"):
        raise RuntimeError(f"the import refused rows: {report['invalid'][:3]}")
    return asyncio.run(_imported_ids(platform))


async def _imported_ids(platform: PrivatePlatform) -> list[str]:
    connection = await asyncpg.connect(platform.dsn("relata_relations"))
    try:
        rows = await connection.fetch(
            "SELECT id FROM relations WHERE external_id LIKE 'load-%' ORDER BY relation_number"
        )
    finally:
        await connection.close()
    return [str(row["id"]) for row in rows]


def build_world(platform: PrivatePlatform, relations: int = 20) -> World:
    """An administrator, a view of persons with a saved list, a staff user who may edit it."""
    platform.create_admin(*ADMIN)
    gateway = platform.gateway_url
    admin = Login(gateway, *ADMIN)
    with httpx.Client(base_url=gateway, timeout=30, headers=admin.headers) as client:
        view = _ok(
            client.post(
                "/admin/views",
                json={"name": "Persons", "base_filter": PERSON_VIEW, "form": VIEW_FORM},
            )
        )
        user = _ok(
            client.post(
                "/users",
                json={
                    "username": STAFF[0],
                    "display_name": "Staff",
                    "password": STAFF[1],
                    "role": "staff",
                },
            )
        )
        grant = {"user_id": user["user_id"], "can_edit": True}
        _ok(client.put(f"/admin/views/{view['view_id']}/grants", json=grant), 204)
        saved = _ok(
            client.post(
                f"/views/{view['view_id']}/lists", json={"name": "In Utrecht", "filter": IN_UTRECHT}
            )
        )
        donors = {"kind": "donations", "min_count": 1}
        donor_list = _ok(
            client.post(
                f"/views/{view['view_id']}/lists", json={"name": "Donors", "filter": donors}
            )
        )
    return World(
        platform=platform,
        admin_login=admin,
        staff_login=Login(gateway, *STAFF),
        staff_id=user["user_id"],
        view_id=view["view_id"],
        list_ids=[view["lists"][0]["list_id"], saved["list_id"], donor_list["list_id"]],
        relation_ids=import_relations(platform, relations),
    )


def wait_until_in_view(world: World, timeout: float = 120.0) -> None:
    """Until the view's list counts every relation made (events have flowed through)."""
    deadline = time.monotonic() + timeout
    path = f"{world.gateway}/views/{world.view_id}/evaluate"
    while time.monotonic() < deadline:
        page = httpx.post(
            path, headers=world.admin, json={"filter": PERSON_VIEW}, params={"limit": 1}, timeout=30
        )
        if page.status_code == 200 and page.json().get("count", 0) >= len(world.relation_ids):
            return
        time.sleep(1)
    raise TimeoutError(f"the view did not show all {len(world.relation_ids)} relations in time")


# --- the write load ---------------------------------------------------------------------------


@dataclass
class Outcomes:
    """Every write the load attempted, by what the platform answered."""

    edits: dict[int, int] = field(default_factory=dict)
    """Status (or 0 for no answer) → how many edits got it."""
    moments_acked: set[str] = field(default_factory=set)
    """Subjects of contact moments answered 201: each must exist exactly once."""
    moments_unknown: set[str] = field(default_factory=set)
    """Subjects whose request got no answer or a 5xx: each may exist once, never twice."""
    donations: set[str] = field(default_factory=set)
    """Donation ids the broker acknowledged: each must reach the lists read model once."""
    donations_unknown: set[str] = field(default_factory=set)
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)

    def took(self, operation: str, seconds: float) -> None:
        self.latencies.setdefault(operation, []).append(seconds)

    def failed(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1

    def summary(self) -> dict[str, Any]:
        return {
            "edits": {str(status): n for status, n in sorted(self.edits.items())},
            "contact_moments_acknowledged": len(self.moments_acked),
            "contact_moments_unanswered": len(self.moments_unknown),
            "donations_acknowledged": len(self.donations),
            "donations_unacknowledged": len(self.donations_unknown),
            "errors": dict(sorted(self.errors.items())),
        }


class WriteLoad:
    """Edits, contact moments and donations at a steady pace from a few concurrent loops."""

    def __init__(self, world: World, outcomes: Outcomes, *, seed: int = 8) -> None:
        self.world = world
        self.outcomes = outcomes
        self.random = random.Random(seed)
        self.counter = itertools.count()
        self.producer: AIOKafkaProducer | None = None

    async def run(self, seconds: float, workers: int = 4, pause: float = 0.05) -> None:
        """Write for ``seconds`` from ``workers`` loops, each pausing ``pause`` between writes."""
        deadline = time.monotonic() + seconds
        async with httpx.AsyncClient(base_url=self.world.gateway, timeout=10) as client:
            await asyncio.gather(
                *(self._loop(client, deadline, pause) for _ in range(workers)),
                self._donations(deadline, pause * 4),
            )

    async def _loop(self, client: httpx.AsyncClient, deadline: float, pause: float) -> None:
        while time.monotonic() < deadline:
            relation_id = self.random.choice(self.world.relation_ids)
            try:
                if self.random.random() < 0.6:
                    await self._edit(client, relation_id)
                else:
                    await self._contact_moment(client, relation_id)
            except httpx.HTTPError as error:
                self.outcomes.failed(type(error).__name__)
            await asyncio.sleep(pause)

    async def _edit(self, client: httpx.AsyncClient, relation_id: str) -> None:
        base = f"/views/{self.world.view_id}/relations/{relation_id}"
        started = time.perf_counter()
        card = await client.get(base, headers=self.world.staff)
        if card.status_code != 200:
            self.outcomes.edits[card.status_code] = self.outcomes.edits.get(card.status_code, 0) + 1
            return
        n = next(self.counter)
        city = self.random.choice(CITIES)
        edit = {"fields": {"last_name": f"Edited{n}", "addresses": [_address(city, n)]}}
        headers = {**self.world.staff, "If-Match": card.headers["ETag"]}
        try:
            response = await client.patch(base, json=edit, headers=headers)
            status = response.status_code
        except httpx.HTTPError:
            status = 0
        self.outcomes.edits[status] = self.outcomes.edits.get(status, 0) + 1
        self.outcomes.took("edit", time.perf_counter() - started)

    async def _contact_moment(self, client: httpx.AsyncClient, relation_id: str) -> None:
        subject = f"{SUBJECT_PREFIX}{uuid.uuid4().hex[:12]}"
        body = {
            "kind": self.random.choice(["phone", "email", "visit"]),
            "direction": self.random.choice(["in", "out"]),
            "subject": subject,
            "occurred_at": datetime.now(UTC).isoformat(),
        }
        path = f"/views/{self.world.view_id}/relations/{relation_id}/contact-moments"
        started = time.perf_counter()
        try:
            response = await client.post(path, json=body, headers=self.world.staff)
        except httpx.HTTPError:
            self.outcomes.moments_unknown.add(subject)
            return
        if response.status_code == 201:
            self.outcomes.moments_acked.add(subject)
            self.outcomes.took("contact_moment", time.perf_counter() - started)
        elif response.status_code >= 500:
            self.outcomes.moments_unknown.add(subject)
        else:
            self.outcomes.failed(f"contact moment {response.status_code}")

    async def _donations(self, deadline: float, pause: float) -> None:
        """Donations arriving from the platform topic, as the donations module sends them."""
        producer = await start_producer(self.world.platform.kafka_bootstrap)
        try:
            while time.monotonic() < deadline:
                relation_id = uuid.UUID(self.random.choice(self.world.relation_ids))
                donation_id = uuid.uuid4()
                try:
                    await asyncio.wait_for(
                        producer.send_and_wait(
                            DONATIONS_TOPIC,
                            donation(donation_id, relation_id).to_json(),
                            key=str(relation_id).encode(),
                        ),
                        15,
                    )
                    self.outcomes.donations.add(str(donation_id))
                except Exception:  # the broker did not acknowledge: may or may not be there
                    self.outcomes.donations_unknown.add(str(donation_id))
                await asyncio.sleep(pause)
        finally:
            await producer.stop()


def donation(donation_id: uuid.UUID, relation_id: uuid.UUID) -> Envelope:
    payload = DonationReceivedPayload(
        donation_id=donation_id,
        relation_id=relation_id,
        amount=Decimal("25.00"),
        received_on=date.today(),
        campaign="load",
    )
    return Publisher.for_module("donations").envelope(
        "donation.received", relation_id, payload, event_id=uuid.uuid5(donation_id, "event")
    )


async def start_producer(bootstrap: str) -> AIOKafkaProducer:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=False,  # Tansu rejects the idempotent producer
        request_timeout_ms=10_000,
    )
    await producer.start()
    return producer


# --- poison -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Poison:
    topic: str
    key: str
    what: str


async def inject_poison(platform: PrivatePlatform, relation_id: str) -> list[Poison]:
    """Events no consumer can apply: not JSON, not an envelope, a schema version from the
    future, an empty value. Each carries a unique key, to find it in the dead-letter topic."""
    bootstrap = platform.kafka_bootstrap
    await ensure_topics(bootstrap, [RELATIONS_TOPIC, DONATIONS_TOPIC], partitions=12)
    future = Envelope(
        type="relation.updated",
        schema_version=99,
        producer="relations",
        subject_id=relation_id,
        payload={"shape": "unknown"},
    )
    bad_donation = donation(uuid.uuid4(), uuid.UUID(relation_id)).model_copy(
        update={"payload": {"donation_id": "not-a-uuid", "amount": -5}}
    )
    cases = [
        (RELATIONS_TOPIC, b"{not json", "malformed JSON"),
        (RELATIONS_TOPIC, b'{"hello": "world"}', "JSON but no envelope"),
        (RELATIONS_TOPIC, future.to_json(), "unknown schema_version 99"),
        (DONATIONS_TOPIC, b"\xff\xfe binary", "binary garbage"),
        (DONATIONS_TOPIC, bad_donation.to_json(), "envelope with an invalid payload"),
    ]
    producer = await start_producer(bootstrap)
    injected = []
    try:
        for topic, value, what in cases:
            key = f"poison-{uuid.uuid4().hex[:10]}"
            await producer.send_and_wait(topic, value, key=key.encode())
            injected.append(Poison(topic, key, what))
    finally:
        await producer.stop()
    return injected
