"""The ``crm`` command line."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated

import httpx
import typer

from relata_cli import runstate
from relata_cli import status as state
from relata_cli.infrastructure import Unavailable, local_infrastructure
from relata_cli.processes import (
    DEFAULT_PORT_BASE,
    GATEWAY,
    HIGHEST_OFFSET,
    PROCESSES,
    ProcessSpec,
    named,
    port,
    service_urls,
)
from relata_cli.seed import DEFAULT_RELATIONS, seed_demo_once
from relata_common.asyncapi import specification

app = typer.Typer(
    help="Run and operate the Relata CRM platform.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)


def _answers(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
        return True
    except OSError:
        return False


def busy_ports(base: int = DEFAULT_PORT_BASE) -> list[ProcessSpec]:
    """Processes whose port (from ``base``) something else answers on already."""
    return [spec for spec in PROCESSES if _answers("127.0.0.1", port(spec, base))]


def _start(spec: ProcessSpec, env: dict[str, str], log_dir: Path) -> subprocess.Popen[bytes]:
    """Start one process, logging to its own file."""
    log = open(log_dir / f"{spec.name}.log", "ab")  # noqa: SIM115 - lives as long as the process
    return subprocess.Popen(
        [*spec.command, "--port", str(port(spec, runstate.port_base(env)))],
        env={**env, "CRM_DATABASE_NAME": runstate.database_name(env, spec.database)},
        stdout=log,
        stderr=log,
    )


class NotReady(Exception):
    """A process exited or did not become ready in time."""


def _wait_ready(
    spec: ProcessSpec, process: subprocess.Popen[bytes], base: int, deadline: float
) -> None:
    ready = f"http://127.0.0.1:{port(spec, base)}/ready"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise NotReady(f"{spec.name} exited with {process.returncode}")
        try:
            if httpx.get(ready, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise NotReady(f"{spec.name} was not ready in time")


def _stop_on_signals() -> None:
    """Ctrl-C and SIGTERM both stop the platform through the same clean path."""

    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)


def _watch(running: list[tuple[ProcessSpec, subprocess.Popen[bytes]]]) -> None:
    """Wait for a stop signal, saying so when a process dies meanwhile."""
    reported: set[str] = set()
    while True:
        for spec, process in running:
            if process.poll() is not None and spec.name not in reported:
                typer.echo(f"{spec.name} exited with {process.returncode}; see its log", err=True)
                reported.add(spec.name)
        time.sleep(1)


RunDir = Annotated[
    Path,
    typer.Option(envvar="CRM_RUN_DIR", help="logs, embedded servers' data, indexes, run state"),
]


@app.command()
def up(
    kafka: str = typer.Option("", help="bootstrap of a running Kafka; default: start Tansu"),
    run_dir: RunDir = Path(".run"),
    seed: bool = typer.Option(True, help="load the demo association on first start"),
    demo_relations: int = typer.Option(
        DEFAULT_RELATIONS, min=1, help="how many relations the demo association has"
    ),
    database_prefix: str = typer.Option(
        "",
        envvar="CRM_DATABASE_PREFIX",
        help="put before every database name, to run apart from other installations",
    ),
    ready_timeout: float = typer.Option(180.0, help="seconds the processes get to become ready"),
    port_base: int = typer.Option(
        DEFAULT_PORT_BASE,
        envvar="CRM_PORT_BASE",
        min=1024,
        max=65535 - HIGHEST_OFFSET,
        help="the gateway's port; the other processes take theirs at the same distance from it "
        f"as from {DEFAULT_PORT_BASE} (relations-api at base + 1, lists-worker at base + 1103)",
    ),
) -> None:
    """Start the whole platform on this machine; Ctrl-C stops it cleanly."""
    busy = busy_ports(port_base)
    if busy:
        listed = ", ".join(f"{port(spec, port_base)} ({spec.name})" for spec in busy)
        typer.echo(
            f"ports in use already: {listed}. Is the platform running? (crm status) "
            "Another --port-base runs a second one beside it.",
            err=True,
        )
        raise typer.Exit(1)
    _stop_on_signals()
    log_dir = run_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    try:
        with local_infrastructure(run_dir, kafka) as infrastructure:
            for note in infrastructure.notes:
                typer.echo(note)
            env = {
                **os.environ,
                **infrastructure.environment(),
                **runstate.installation_secrets(run_dir),
                "CRM_DATABASE_PREFIX": database_prefix,
                "CRM_INDEX_DIR": str((run_dir / "search-index").resolve()),
                "CRM_PORT_BASE": str(port_base),
                **service_urls(port_base),
            }
            _run(env, run_dir, log_dir, seed, demo_relations, ready_timeout)
    except KeyboardInterrupt:
        pass
    except NotReady as error:
        typer.echo(f"{error}; see its log in {log_dir}", err=True)
        raise typer.Exit(1) from None
    except Unavailable as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(1) from None
    finally:
        runstate.remove(run_dir)
    typer.echo("stopped", err=True)


def _run(
    env: dict[str, str],
    run_dir: Path,
    log_dir: Path,
    seed: bool,
    demo_relations: int,
    ready_timeout: float,
) -> None:
    """Start every process, seed, and wait; the processes are stopped however this ends."""
    running: list[tuple[ProcessSpec, subprocess.Popen[bytes]]] = []
    try:
        for spec in PROCESSES:
            running.append((spec, _start(spec, env, log_dir)))
        runstate.save(run_dir, env)
        base = runstate.port_base(env)
        deadline = time.monotonic() + ready_timeout
        with typer.progressbar(running, label="starting services") as progress:
            for spec, process in progress:
                _wait_ready(spec, process, base, deadline)
        _report(running, base)
        if seed:
            seed_demo_once(env, demo_relations)
        typer.echo("Ctrl-C stops everything.")
        _watch(running)
    finally:
        _stop(running)


def _report(running: list[tuple[ProcessSpec, subprocess.Popen[bytes]]], base: int) -> None:
    for spec, _ in running:
        address = f"http://127.0.0.1:{port(spec, base)}"
        extra = f"  (API docs: {address}/docs)" if spec.docs else ""
        typer.echo(f"{spec.name:<22} {address}{extra}")
    typer.echo(f"\nRelata is up: http://127.0.0.1:{port(GATEWAY, base)}  (OpenAPI: /docs)")


def _stop(running: list[tuple[ProcessSpec, subprocess.Popen[bytes]]], grace: float = 20) -> None:
    """Terminate every process, then kill what is left after the grace period.

    Further Ctrl-C or SIGTERM are ignored meanwhile: a second one must not leave orphans.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if running:
        typer.echo("stopping", err=True)
    for _, process in reversed(running):
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + grace
    for spec, process in running:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            typer.echo(f"{spec.name} did not stop in {grace:.0f} s: killed", err=True)
            process.kill()
            process.wait()


@app.command()
def seed(
    relations: int = typer.Option(
        DEFAULT_RELATIONS, "--relations", "-n", min=1, help="how many relations to load"
    ),
    run_dir: RunDir = Path(".run"),
) -> None:
    """Load (or top up) the demo association in the running platform.

    A Dutch professional association: persons, organisations, functions, memberships,
    donations, event registrations, contact moments, views and users. Repeating it adds
    nothing twice; a larger --relations adds the relations beyond those loaded before.
    """
    from relata_cli.seed import SeedError, print_logins, seed_demo

    env = runstate.environment(run_dir)
    try:
        seed_demo(env, relations)
    except (SeedError, httpx.HTTPError) as error:
        typer.echo(f"seeding failed: {error}", err=True)
        raise typer.Exit(1) from None
    print_logins(env)


@app.command()
def status(run_dir: RunDir = Path(".run")) -> None:
    """Show each process, outbox backlog and consumer lag.

    Readiness of every process, rows waiting in each service's outbox, and per consumer group
    the events not yet consumed ("unknown" where the broker or a database does not say).
    Exits with 1 when a process is not ready.
    """
    env = runstate.environment(run_dir)

    async def gather() -> tuple[list[state.ProcessState], list[state.Backlog], list[state.Lag]]:
        async with httpx.AsyncClient() as client:
            return await asyncio.gather(
                state.process_states(client, runstate.port_base(env)),
                state.outbox_backlogs(env),
                state.consumer_lags(env),
            )

    processes, backlogs, lags = asyncio.run(gather())
    typer.echo("processes")
    for process in processes:
        typer.echo(f"  {process.name:<22} :{process.port:<5} {process.state}")
    typer.echo("outbox backlog (events waiting to be published)")
    for backlog in backlogs:
        rows = str(backlog.rows) if backlog.rows is not None else state.UNKNOWN
        if backlog.note.startswith("no outbox"):
            rows = "-"
        note = f"  ({backlog.note})" if backlog.note else ""
        typer.echo(f"  {backlog.database:<30} {rows}{note}")
    typer.echo(f"consumer lag (events not yet consumed; Kafka at {runstate.kafka_bootstrap(env)})")
    if not lags:
        typer.echo("  no consumer groups")
    for lag in lags:
        value = state.UNKNOWN if lag.lag is None else str(lag.lag)
        note = f"  ({lag.note})" if lag.note else f"  over {lag.partitions} partitions"
        typer.echo(f"  {lag.group:<30} {value}{note}")
    down = [p for p in processes if p.state != "ready"]
    if down:
        raise typer.Exit(1)


@app.command()
def reindex(
    run_dir: RunDir = Path(".run"),
    wait: bool = typer.Option(True, help="wait until the replay has caught up"),
    timeout: float = typer.Option(600.0, help="seconds to wait at most"),
) -> None:
    """Rebuild the search index: the search service empties it and replays the topics."""
    env = runstate.environment(run_dir)
    search = port(named("search"), runstate.port_base(env))
    started = time.monotonic()
    try:
        response = httpx.post(
            f"http://127.0.0.1:{search}/admin/rebuild",
            headers={"X-Internal-Token": runstate.internal_token(env)},
            timeout=30,
        )
    except httpx.HTTPError as error:
        typer.echo(f"the search service did not answer: {error!r}", err=True)
        raise typer.Exit(1) from None
    if response.status_code >= 400:
        typer.echo(f"rebuild refused: {response.status_code} {response.text[:300]}", err=True)
        raise typer.Exit(1)
    generation = response.json().get("generation")
    typer.echo(
        f"search index rebuild started (generation {generation}): the index is refilled "
        "from the topics; results are incomplete until the replay has caught up"
    )
    if not wait:
        return
    # The generation's group, with the deployment's suffix (relata_common.kafka.consumer_group).
    suffix = f"-g{generation}{env.get('CRM_CONSUMER_GROUP_SUFFIX', '')}"
    while time.monotonic() - started < timeout:
        time.sleep(2)
        lags = [lag for lag in asyncio.run(state.consumer_lags(env)) if lag.group.endswith(suffix)]
        if lags and all(lag.lag == 0 and lag.partitions for lag in lags):
            typer.echo(f"search index rebuilt in {time.monotonic() - started:.0f} s")
            return
    typer.echo(f"the replay had not caught up after {timeout:.0f} s (see crm status)", err=True)
    raise typer.Exit(1)


@app.command()
def asyncapi(
    output: Path = typer.Option(Path("docs/asyncapi.json"), help="where to write the document"),
) -> None:
    """Write the AsyncAPI document of every topic and event."""
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(specification(), indent=2, sort_keys=True) + "\n")
    typer.echo(f"wrote {output}")


if __name__ == "__main__":
    sys.exit(app())
