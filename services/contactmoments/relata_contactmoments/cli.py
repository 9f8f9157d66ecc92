"""``relata-contactmoments``: run the contact moments service's processes."""

from __future__ import annotations

import asyncio

import typer

from relata_common.db import migrate as run_migrations
from relata_common.runtime import serve
from relata_contactmoments.app import MIGRATIONS, create_api, create_relay, create_worker
from relata_contactmoments.settings import get_settings

app = typer.Typer(help="The Relata contact moments service.", no_args_is_help=True)


@app.command()
def api(host: str = "127.0.0.1", port: int = 8002) -> None:
    """Serve the HTTP API (stateless: run as many replicas as needed)."""
    serve(create_api(), host=host, port=port, settings=get_settings())


@app.command()
def worker(host: str = "127.0.0.1", port: int = 9102) -> None:
    """Consume crm.relations (add workers up to the partition count); health on PORT."""
    serve(create_worker(), host=host, port=port, settings=get_settings())


@app.command()
def relay(host: str = "127.0.0.1", port: int = 9002) -> None:
    """Publish the outbox to Kafka (standbys wait for the lock); health and metrics on PORT."""
    serve(create_relay(), host=host, port=port, settings=get_settings())


@app.command()
def migrate() -> None:
    """Create the database if missing and migrate it to the newest schema."""
    asyncio.run(run_migrations(MIGRATIONS, get_settings().database_url))
    typer.echo("contact moments database is up to date")


if __name__ == "__main__":
    app()
