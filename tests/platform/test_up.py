"""The README's first command, end to end.

``make up`` bootstraps the environment and runs ``uv run crm up``; this test runs that command
(with a run directory, database prefix, Redis database and ports of its own, so it starts from
nothing and runs beside a ``make up`` on the same machine), waits until
the platform is ready and the demo association is loaded, walks through the gateway as the
demo users would, then stops the platform with SIGTERM and checks that no process is left.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import stat
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import jwt
import pytest

from relata_cli import runstate
from relata_cli.main import busy_ports
from relata_cli.processes import GATEWAY, HIGHEST_OFFSET, PROCESSES, port, url
from relata_cli.seed import DEMO_USERS, MEMBERSHIP, UTRECHT_LIST
from relata_common.db import drop_database
from relata_gateway.settings import GatewaySettings
from tests.conftest import Infrastructure

pytestmark = [pytest.mark.slow, pytest.mark.timeout(480)]

ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT = 180.0
SEED_TIMEOUT = 120.0
EVENTUAL_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
PASSWORDS = {user.username: user.password for user in DEMO_USERS}
NEW_ADDRESS = {
    "type": "home",
    "street": "Oudegracht",
    "house_number": "158",
    "postal_code": "3511 AZ",
    "city": "Utrecht",
    "country": "NL",
}
T = TypeVar("T")


@dataclass
class Platform:
    process: subprocess.Popen[bytes]
    output: Path
    run_dir: Path
    port_base: int

    @property
    def gateway_url(self) -> str:
        return url(GATEWAY, self.port_base)

    def tail(self, lines: int = 40) -> str:
        text = self.output.read_text(errors="replace") if self.output.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def fail(self, message: str) -> None:
        pytest.fail(
            f"{message}\n--- crm up output (last lines) ---\n{self.tail()}\n"
            f"--- process logs: {self.run_dir / 'logs'}",
            pytrace=False,
        )

    def eventually(self, what: str, probe: Callable[[], T | None], timeout: float) -> T:
        """Poll until ``probe`` gives a value; fail naming ``what`` after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.fail(f"crm up exited with {self.process.returncode} while waiting: {what}")
            try:
                value = probe()
            except (httpx.HTTPError, AssertionError, KeyError) as error:
                value, last_error = None, error
            if value is not None:
                return value
            time.sleep(0.5)
        self.fail(f"not within {timeout:.0f} s: {what} (last error: {last_error!r})")
        raise AssertionError  # unreachable: fail raises


def _uv() -> str:
    """The uv ``make`` uses (on PATH, in ~/.local/bin, or the tools environment)."""
    return subprocess.check_output([ROOT / "scripts" / "uv-path.sh"], text=True).strip()


def _group_members(pgid: int) -> set[int]:
    """Live (not zombie) processes of a process group, read from /proc."""
    members = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        state, group = fields[0], int(fields[2])
        if group == pgid and state != "Z":
            members.add(int(entry.name))
    return members


def _bindable(port_number: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port_number))
        except OSError:
            return False
        return True


def free_port_base(attempts: int = 200) -> int:
    """A port base whose every process port is free, below the kernel's ephemeral range (from
    32768), where free ports handed out to brokers and clients would soon collide with it."""
    for _ in range(attempts):
        base = random.randrange(10_000, 32_000 - HIGHEST_OFFSET)
        if all(_bindable(port(spec, base)) for spec in PROCESSES):
            return base
    raise RuntimeError("no port base with every process port free")


def _drop_databases(server: str, prefix: str) -> None:
    async def drop() -> None:
        for database in dict.fromkeys(spec.database for spec in PROCESSES):
            await drop_database(f"{server}/{prefix}{database}")

    # In a thread of its own: a browser test's Playwright keeps an event loop running in this
    # one, and asyncio.run refuses to start beside it.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, drop()).result()


@contextmanager
def running_platform(directory: Path, infrastructure: Infrastructure) -> Iterator[Platform]:
    """``crm up`` on free ports, with the tests' PostgreSQL server and Redis database (a
    ``make up`` on the same machine keeps its own ports, databases, Redis and run directory);
    Kafka is a Tansu broker of its own (on a free port, 9092 being taken then). Stopped, its
    processes gone and its databases dropped on the way out."""
    base = free_port_base()
    prefix = f"relata_up_{uuid.uuid4().hex[:8]}_"
    output = directory / "crm-up.out"
    run_dir = directory / "run"
    env = {
        **os.environ,
        "CRM_DATABASE_PREFIX": prefix,
        "CRM_POSTGRES_URL": infrastructure.postgres_url,
        "CRM_REDIS_URL": infrastructure.redis_url,
    }
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [_uv(), "run", "crm", "up", "--run-dir", str(run_dir), "--port-base", str(base)],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: every child is findable
        )
    try:
        yield Platform(process, output, run_dir, base)
    finally:
        if process.poll() is None:  # the test failed before stopping it: leave nothing behind
            process.send_signal(signal.SIGTERM)
            with suppress(subprocess.TimeoutExpired):
                process.wait(timeout=STOP_TIMEOUT)
        if _group_members(process.pid):
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        _drop_databases(infrastructure.postgres_url, prefix)


@pytest.fixture
def platform(tmp_path: Path, infrastructure: Infrastructure) -> Iterator[Platform]:
    """A platform of this test's own (it is stopped within the test)."""
    with running_platform(tmp_path, infrastructure) as started:
        yield started


def _log_in(client: httpx.Client, username: str) -> dict[str, str]:
    response = client.post(
        "/auth/token", json={"username": username, "password": PASSWORDS[username]}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _list_members(client: httpx.Client, headers: dict[str, str], path: str) -> set[str]:
    members: set[str] = set()
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        page = client.get(path, headers=headers, params=params)
        assert page.status_code == 200, page.text
        body = page.json()
        assert not body.get("too_large"), body
        members |= {row["relation_id"] for row in body["relations"]}
        cursor = body.get("next")
        if not cursor:
            return members


def _no_source_secret_accepted(
    platform: Platform, client: httpx.Client, headers: dict[str, str]
) -> None:
    """``crm up`` made its own secrets (in a file only its owner reads): an administrator token
    signed with the JWT secret written in the source is refused. Catches: an installation
    running with the source's default secret (such a token was once accepted with 200)."""
    secrets_file = platform.run_dir / runstate.SECRETS_FILE
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    me = client.get("/me", headers=headers).json()
    now = datetime.now(UTC)
    claims = {"sub": me["user_id"], "name": "admin", "role": "admin", "iat": now}
    forged = jwt.encode(
        claims | {"exp": now + timedelta(minutes=5)},
        GatewaySettings.model_fields["jwt_secret"].get_default().get_secret_value(),
        algorithm="HS256",
    )
    answer = client.get("/admin/users", headers={"Authorization": f"Bearer {forged}"})
    assert answer.status_code == 401, answer.text


def test_up_walkthrough_and_clean_stop(platform: Platform) -> None:
    started = time.monotonic()
    gateway = platform.gateway_url
    client = httpx.Client(base_url=gateway, timeout=30)

    # The platform comes up, then loads the demo association and prints the logins.
    platform.eventually(
        "the gateway answers /ready",
        lambda: client.get("/ready").status_code == 200 or None,
        READY_TIMEOUT,
    )
    ready_after = time.monotonic() - started
    platform.eventually(
        "the demo logins are printed",
        lambda: "Demo logins" in platform.tail(200) or None,
        SEED_TIMEOUT,
    )
    output = platform.tail(200)
    assert f"Relata is up: {gateway}" in output
    assert "anouk" in output and PASSWORDS["anouk"] in output
    assert client.get("/docs").status_code == 200

    # Anouk works in the membership administration.
    anouk = _log_in(client, "anouk")
    _no_source_secret_accepted(platform, client, anouk)
    views = {v["name"]: v for v in client.get("/views", headers=anouk).json()}
    assert set(views) == {MEMBERSHIP}, "anouk is granted exactly her view"
    view = views[MEMBERSHIP]
    lists = {ref["name"]: ref["list_id"] for ref in view["lists"]}
    assert view["lists"][0]["name"] == "All relations" and UTRECHT_LIST in lists
    base = f"/views/{view['view_id']}"

    # A member outside Utrecht, found the way a user would: by a filter, then by name.
    def member_outside_utrecht() -> dict[str, Any] | None:
        outside = {"not": {"kind": "field", "field": "city", "op": "equals", "value": "Utrecht"}}
        page = client.post(
            f"{base}/evaluate", headers=anouk, json={"filter": outside}, params={"limit": 5}
        )
        assert page.status_code == 200, page.text
        rows = page.json()["relations"]
        return rows[0] if rows else None

    member = platform.eventually(
        "members appear in the membership view", member_outside_utrecht, EVENTUAL_TIMEOUT
    )
    relation_id = member["relation_id"]

    def found_by_name() -> dict[str, Any] | None:
        hits = client.get(
            f"{base}/search", headers=anouk, params={"q": member["display_name"], "limit": 50}
        )
        assert hits.status_code == 200, hits.text
        return next((h for h in hits.json() if h["relation_id"] == relation_id), None)

    hit = platform.eventually(
        f"search finds {member['display_name']!r}", found_by_name, EVENTUAL_TIMEOUT
    )
    assert hit["display_name"] == member["display_name"]

    # She opens the card and moves the member to Utrecht (If-Match: the version she read).
    card = client.get(f"{base}/relations/{relation_id}", headers=anouk)
    assert card.status_code == 200, card.text
    version_read = card.headers["ETag"]
    assert card.json()["can_edit"] is True
    assert lists[UTRECHT_LIST] not in {ref["list_id"] for ref in card.json()["lists"]}
    edit = {"fields": {"addresses": [NEW_ADDRESS]}}
    changed = client.patch(
        f"{base}/relations/{relation_id}", headers={**anouk, "If-Match": version_read}, json=edit
    )
    assert changed.status_code == 200, changed.text
    contact = next(t for t in changed.json()["tabs"] if "addresses" in t["fields"])
    assert contact["fields"]["addresses"][0]["city"] == "Utrecht"
    stale = client.patch(
        f"{base}/relations/{relation_id}", headers={**anouk, "If-Match": version_read}, json=edit
    )
    assert stale.status_code == 412, "an edit based on an old version is refused"

    # Daan, a colleague, sees the change under "recently edited".
    daan = _log_in(client, "daan")

    def in_activity() -> dict[str, Any] | None:
        feed = client.get(f"{base}/activity", headers=daan)
        assert feed.status_code == 200, feed.text
        return next((i for i in feed.json() if i["relation_id"] == relation_id), None)

    item = platform.eventually("daan sees anouk's edit", in_activity, EVENTUAL_TIMEOUT)
    assert "addresses" in item["changed_fields"] and item["actor_kind"] == "user"

    # The member enters "Members in Utrecht", and the list shows it.
    members_path = f"{base}/lists/{lists[UTRECHT_LIST]}/members"
    platform.eventually(
        "the member enters 'Members in Utrecht'",
        lambda: relation_id in _list_members(client, daan, members_path) or None,
        EVENTUAL_TIMEOUT,
    )
    card = client.get(f"{base}/relations/{relation_id}", headers=daan).json()
    assert lists[UTRECHT_LIST] in {ref["list_id"] for ref in card["lists"]}
    client.close()

    # SIGTERM to the command stops everything it started, within 30 s, leaving no process.
    pgid = platform.process.pid
    group = _group_members(pgid)
    assert len(group) >= len(PROCESSES) + 2, f"expected uv, crm, Tansu and the services: {group}"
    stop_started = time.monotonic()
    platform.process.send_signal(signal.SIGTERM)
    deadline = stop_started + STOP_TIMEOUT
    while time.monotonic() < deadline and _group_members(pgid):
        time.sleep(0.2)
    left = _group_members(pgid)
    if left:
        platform.fail(f"processes left {STOP_TIMEOUT:.0f} s after SIGTERM: {sorted(left)}")
    assert platform.process.wait(timeout=5) == 0
    assert not busy_ports(platform.port_base), "a port is still taken after the stop"
    print(
        f"ready after {ready_after:.0f} s, walkthrough done after "
        f"{stop_started - started:.0f} s, stopped in {time.monotonic() - stop_started:.1f} s"
    )
