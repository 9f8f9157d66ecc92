"""The ``crm`` command line."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import typer

from relata_cli.infrastructure import local_infrastructure
from relata_cli.processes import GATEWAY, PROCESSES, ProcessSpec
from relata_common.asyncapi import specification

app = typer.Typer(help="Run and operate the Relata CRM platform.", no_args_is_help=True)


def _answers(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
        return True
    except OSError:
        return False


def _start(spec: ProcessSpec, env: dict[str, str], log_dir: Path) -> subprocess.Popen[bytes]:
    """Start one process, logging to its own file."""
    log = open(log_dir / f"{spec.name}.log", "ab")  # noqa: SIM115 - lives as long as the process
    return subprocess.Popen(
        [*spec.command, "--port", str(spec.port)],
        env={**env, "CRM_DATABASE_NAME": spec.database},
        stdout=log,
        stderr=log,
    )


def _wait_ready(spec: ProcessSpec, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise typer.Exit(f"{spec.name} exited with {process.returncode}; see its log")
        try:
            if httpx.get(f"http://127.0.0.1:{spec.port}/ready", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise typer.Exit(f"{spec.name} not ready after {timeout} s; see its log")


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


@app.command()
def up(
    kafka: str = typer.Option("", help="bootstrap of a running Kafka; default: start Tansu"),
    run_dir: Path = typer.Option(Path(".run"), help="logs, embedded servers' data, indexes"),
    seed: bool = typer.Option(True, help="load the demo association on first start"),
) -> None:
    """Start the whole platform on this machine; Ctrl-C stops it cleanly."""
    _stop_on_signals()
    log_dir = run_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    running: list[tuple[ProcessSpec, subprocess.Popen[bytes]]] = []
    try:
        with local_infrastructure(run_dir, kafka) as infrastructure:
            for note in infrastructure.notes:
                typer.echo(note)
            env = {
                **os.environ,
                **infrastructure.environment(),
                "CRM_INDEX_DIR": str((run_dir / "search-index").resolve()),
            }
            for spec in PROCESSES:
                running.append((spec, _start(spec, env, log_dir)))
            with typer.progressbar(running, label="starting services") as progress:
                for spec, process in progress:
                    _wait_ready(spec, process, timeout=120)
            _report(running)
            if seed:
                from relata_cli.seed import seed_demo_once

                seed_demo_once(env)
            typer.echo("Ctrl-C stops everything.")
            _watch(running)
    except KeyboardInterrupt:
        pass
    finally:
        _stop(running)


def _report(running: list[tuple[ProcessSpec, subprocess.Popen[bytes]]]) -> None:
    for spec, _ in running:
        extra = f"  (API docs: http://127.0.0.1:{spec.port}/docs)" if spec.docs else ""
        typer.echo(f"{spec.name:<22} http://127.0.0.1:{spec.port}{extra}")
    typer.echo(f"\nRelata is up: http://127.0.0.1:{GATEWAY.port}  (OpenAPI: /docs)")


def _stop(running: list[tuple[ProcessSpec, subprocess.Popen[bytes]]]) -> None:
    if running:
        typer.echo("stopping", err=True)
    for _, process in reversed(running):
        if process.poll() is None:
            process.terminate()
    for _, process in running:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


@app.command()
def status() -> None:
    """Show whether every local process is ready."""
    for spec in PROCESSES:
        try:
            response = httpx.get(f"http://127.0.0.1:{spec.port}/ready", timeout=2)
            state = response.json().get("status", response.status_code)
        except httpx.HTTPError as error:
            state = f"down ({type(error).__name__})"
        typer.echo(f"{spec.name:<20} {state}")


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
