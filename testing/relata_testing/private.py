"""A private platform: every process of ``crm up`` on free loopback ports, a Tansu broker of
its own and databases under a prefix of their own, so it runs beside other installations and
test runs on the same machine. The fault suite and the system tests kill and restart its
processes one by one, pause its broker and cut its database connections.

Unlike ``crm up`` it never loads the demo association and never touches a port or database it
did not choose itself; :meth:`PrivatePlatform.stop` drops its databases.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from relata_cli.processes import PROCESSES, SERVICE_URL_SETTINGS, ProcessSpec
from relata_cli.tansu import TansuBroker, free_ports
from relata_common.db import asyncpg_dsn, drop_database

DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432"
DEFAULT_REDIS = "redis://127.0.0.1:6379/13"
INTERNAL_TOKEN = "relata-private-internal-token"


class NotReady(RuntimeError):
    """A process exited or did not answer /ready in time."""


@dataclass
class Running:
    spec: ProcessSpec
    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None


@dataclass
class PrivatePlatform:
    run_dir: Path
    postgres_url: str = field(default_factory=lambda: os.environ.get("CRM_TEST_POSTGRES_URL", ""))
    redis_url: str = field(default_factory=lambda: os.environ.get("CRM_TEST_REDIS_URL", ""))
    prefix: str = field(default_factory=lambda: f"relata_sys_{uuid.uuid4().hex[:8]}_")
    specs: tuple[ProcessSpec, ...] = PROCESSES
    extra_env: dict[str, str] = field(default_factory=dict)
    broker: TansuBroker | None = None
    processes: dict[str, Running] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.postgres_url = self.postgres_url or DEFAULT_POSTGRES
        self.redis_url = self.redis_url or DEFAULT_REDIS
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / "logs").mkdir(exist_ok=True)
        for spec, port in zip(self.specs, free_ports(len(self.specs)), strict=True):
            log = self.run_dir / "logs" / f"{spec.name}.log"
            self.processes[spec.name] = Running(spec, port, log)

    # --- addresses -----------------------------------------------------------------------

    @property
    def kafka_bootstrap(self) -> str:
        assert self.broker is not None, "the platform is not started"
        return self.broker.bootstrap

    def url(self, name: str) -> str:
        return self.processes[name].url

    @property
    def gateway_url(self) -> str:
        return self.url("gateway")

    def database(self, database: str) -> str:
        """The prefixed name of a service database (``relata_lists`` → ``<prefix>relata_lists``)."""
        return f"{self.prefix}{database}"

    def database_url(self, database: str) -> str:
        url = make_url(self.postgres_url).set(database=self.database(database))
        return url.render_as_string(hide_password=False)

    def dsn(self, database: str) -> str:
        """A plain asyncpg DSN of a service database."""
        return asyncpg_dsn(self.database_url(database))

    def databases(self) -> list[str]:
        return list(dict.fromkeys(spec.database for spec in self.specs))

    def environment(self) -> dict[str, str]:
        env = {
            **os.environ,
            "CRM_POSTGRES_URL": self.postgres_url,
            "CRM_REDIS_URL": self.redis_url,
            "CRM_KAFKA_BOOTSTRAP": self.kafka_bootstrap,
            "CRM_DATABASE_PREFIX": self.prefix,
            "CRM_INTERNAL_TOKEN": INTERNAL_TOKEN,
            "CRM_ALLOW_TEST_SECRETS": "true",  # a harness platform, with the harness's token
            "CRM_INDEX_DIR": str((self.run_dir / "search-index").resolve()),
            "CRM_LOG_LEVEL": "WARNING",
            # The gateway's 2 s per service call is for a machine of its own; the fault runs
            # share two cores with whatever else runs, and a slow answer is not a fault here.
            "CRM_CALL_TIMEOUT": "10",
        }
        for setting, name in SERVICE_URL_SETTINGS.items():
            if name in self.processes:
                env[setting] = self.url(name)
        return {**env, **self.extra_env}

    # --- life cycle ----------------------------------------------------------------------

    def start(self, ready_timeout: float = 240.0) -> PrivatePlatform:
        self.broker = TansuBroker(log_file=self.run_dir / "logs" / "tansu.log").start()
        for name in self.processes:
            self._launch(name)
        deadline = time.monotonic() + ready_timeout
        for name in self.processes:
            self.wait_ready(name, deadline)
        return self

    def _launch(self, name: str) -> None:
        running = self.processes[name]
        env = self.environment()
        env["CRM_DATABASE_NAME"] = self.database(running.spec.database)
        log = running.log.open("ab")
        try:
            running.process = subprocess.Popen(
                [*running.spec.command, "--port", str(running.port)],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        finally:
            log.close()  # the child holds its own descriptor

    def wait_ready(self, name: str, deadline: float) -> None:
        running = self.processes[name]
        while time.monotonic() < deadline:
            if running.process is None or running.process.poll() is not None:
                code = running.process.returncode if running.process else None
                raise NotReady(f"{name} exited with {code}; see {running.log}")
            with suppress(httpx.HTTPError):
                if httpx.get(f"{running.url}/ready", timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        raise NotReady(f"{name} was not ready in time; see {running.log}")

    def kill(self, name: str) -> int:
        """``kill -9`` one process (no clean shutdown, no chance to finish anything)."""
        running = self.processes[name]
        assert running.process is not None
        pid = running.process.pid
        running.process.send_signal(signal.SIGKILL)
        running.process.wait()
        return pid

    def restart(self, name: str, ready_timeout: float = 120.0) -> None:
        self._launch(name)
        self.processes[name].restarts += 1
        self.wait_ready(name, time.monotonic() + ready_timeout)

    def create_admin(self, username: str, password: str) -> None:
        """A functional administrator in the gateway, as an operator creates the first one."""
        env = {**self.environment(), "CRM_DATABASE_NAME": self.database("relata_gateway")}
        subprocess.run(
            ["relata-gateway", "create-admin", "--username", username, "--password", password],
            env=env,
            check=True,
            capture_output=True,
        )

    @contextmanager
    def broker_paused(self) -> Iterator[None]:
        """Freeze the broker (SIGSTOP) and thaw it afterwards (SIGCONT).

        Tansu keeps its topics in memory, so a real stop would lose every topic: a frozen
        broker is what clients see of a broker that is down (connections hang, requests time
        out) while the log survives, as it would on a Kafka broker's disk.
        """
        assert self.broker is not None and self.broker.process is not None
        self.broker.process.send_signal(signal.SIGSTOP)
        try:
            yield
        finally:
            self.broker.process.send_signal(signal.SIGCONT)

    def stop(self, grace: float = 20.0, drop: bool = True) -> None:
        for running in reversed(self.processes.values()):
            if running.process is not None and running.process.poll() is None:
                running.process.terminate()
        deadline = time.monotonic() + grace
        for running in self.processes.values():
            if running.process is None:
                continue
            try:
                running.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                running.process.kill()
                running.process.wait()
        if self.broker is not None:
            if self.broker.process is not None:
                self.broker.process.send_signal(signal.SIGCONT)  # a paused broker cannot stop
            self.broker.stop()
        if drop:
            asyncio.run(self.drop_databases())

    async def drop_databases(self) -> None:
        for database in self.databases():
            await drop_database(self.database_url(database))

    async def terminate_connections(self) -> int:
        """Cut every connection to this platform's databases (pg_terminate_backend).

        What services see of a PostgreSQL restart: every open connection dies mid-use and new
        ones succeed again. Only this platform's databases are touched: the server is shared.
        """
        server = make_url(self.postgres_url).set(database="postgres")
        admin = await asyncpg.connect(asyncpg_dsn(server.render_as_string(hide_password=False)))
        try:
            names = [self.database(d) for d in self.databases()]
            rows = await admin.fetch(
                "SELECT pg_terminate_backend(pid) AS cut FROM pg_stat_activity "
                "WHERE datname = ANY($1::text[]) AND pid <> pg_backend_pid()",
                names,
            )
            return sum(1 for row in rows if row["cut"])
        finally:
            await admin.close()

    def __enter__(self) -> PrivatePlatform:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *_: object) -> None:
        self.stop()


def only(names: Iterable[str]) -> tuple[ProcessSpec, ...]:
    """The specs of the named processes, in ``crm up`` order."""
    wanted = set(names)
    return tuple(spec for spec in PROCESSES if spec.name in wanted)
