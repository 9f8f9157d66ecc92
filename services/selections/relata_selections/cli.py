"""``relata-selections``: run the selections service's processes."""

from __future__ import annotations

import asyncio

import typer

from relata_common.db import migrate as run_migrations
from relata_common.runtime import serve
from relata_selections.app import MIGRATIONS, create_api, create_relay, create_worker
from relata_selections.settings import get_settings

app = typer.Typer(help="The Relata selections service.", no_args_is_help=True)


@app.command()
def api(host: str = "127.0.0.1", port: int = 8004) -> None:
    """Serve the HTTP API (stateless: run as many replicas as needed)."""
    serve(create_api(), host=host, port=port, settings=get_settings())


@app.command()
def worker(host: str = "127.0.0.1", port: int = 9104) -> None:
    """Follow merges and erasures of relations and run the daily refresh (scale up to the
    partition count); health and metrics on PORT."""
    serve(create_worker(), host=host, port=port, settings=get_settings())


@app.command()
def relay(host: str = "127.0.0.1", port: int = 9004) -> None:
    """Publish the outbox (selection events) to Kafka; health and metrics on PORT."""
    serve(create_relay(), host=host, port=port, settings=get_settings())


@app.command()
def migrate() -> None:
    """Create the database if missing and migrate it to the newest schema."""
    asyncio.run(run_migrations(MIGRATIONS, get_settings().database_url))
    typer.echo("selections database is up to date")


if __name__ == "__main__":
    app()
