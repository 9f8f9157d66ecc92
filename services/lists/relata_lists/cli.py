"""``relata-lists``: run the lists service's processes."""

from __future__ import annotations

import asyncio

import typer

from relata_common.db import migrate as run_migrations
from relata_common.runtime import serve
from relata_lists.app import MIGRATIONS, create_api, create_relay, create_worker
from relata_lists.settings import get_settings

app = typer.Typer(help="The Relata lists service.", no_args_is_help=True)


@app.command()
def api(host: str = "127.0.0.1", port: int = 8003) -> None:
    """Serve the HTTP API (stateless: run as many replicas as needed)."""
    serve(create_api(), host=host, port=port, settings=get_settings())


@app.command()
def worker(host: str = "127.0.0.1", port: int = 9103) -> None:
    """Consume events into the read model and keep memberships current (scale up to the
    partition count); health and metrics on PORT."""
    serve(create_worker(), host=host, port=port, settings=get_settings())


@app.command()
def relay(host: str = "127.0.0.1", port: int = 9003) -> None:
    """Publish the outbox (list definitions and membership changes) to Kafka."""
    serve(create_relay(), host=host, port=port, settings=get_settings())


@app.command()
def migrate() -> None:
    """Create the database if missing and migrate it to the newest schema."""
    asyncio.run(run_migrations(MIGRATIONS, get_settings().database_url))
    typer.echo("lists database is up to date")


if __name__ == "__main__":
    app()
