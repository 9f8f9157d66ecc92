"""``relata-automation``: run the automation service's processes."""

from __future__ import annotations

import asyncio

import asyncpg
import typer

from relata_automation.app import MIGRATIONS, create_api, create_relay, create_worker
from relata_automation.batch import run_batch
from relata_automation.settings import get_settings
from relata_common.db import asyncpg_dsn
from relata_common.db import migrate as run_migrations
from relata_common.runtime import serve

app = typer.Typer(help="The Relata automation service.", no_args_is_help=True)


@app.command()
def api(host: str = "127.0.0.1", port: int = 8006) -> None:
    """Serve the HTTP API (stateless: run as many replicas as needed)."""
    serve(create_api(), host=host, port=port, settings=get_settings())


@app.command()
def worker(host: str = "127.0.0.1", port: int = 9106) -> None:
    """Follow relations and list memberships, carry out automatic merges and rule runs (scale
    up to the partition count); health and metrics on PORT."""
    serve(create_worker(), host=host, port=port, settings=get_settings())


@app.command()
def relay(host: str = "127.0.0.1", port: int = 9006) -> None:
    """Publish the outbox (automation events) to Kafka; health and metrics on PORT."""
    serve(create_relay(), host=host, port=port, settings=get_settings())


@app.command()
def migrate() -> None:
    """Create the database if missing and migrate it to the newest schema."""
    asyncio.run(run_migrations(MIGRATIONS, get_settings().database_url))
    typer.echo("automation database is up to date")


@app.command()
def batch() -> None:
    """Look for duplicates among all relations now and update the review queue."""
    settings = get_settings()

    async def run() -> None:
        await run_migrations(MIGRATIONS, settings.database_url)
        connection = await asyncpg.connect(asyncpg_dsn(settings.database_url))
        try:
            await run_batch(
                connection,
                min_stars=settings.min_stars,
                max_block=settings.max_block,
                progress=typer.echo,
            )
        finally:
            await connection.close()

    asyncio.run(run())


if __name__ == "__main__":
    app()
