"""``relata-search``: run the search service, or rebuild its index from the topics."""

from __future__ import annotations

import asyncio

import typer

from relata_common.db import create_engine, create_sessionmaker, transaction
from relata_common.db import migrate as run_migrations
from relata_common.runtime import serve as serve_app
from relata_search.app import MIGRATIONS, create_api
from relata_search.readmodel import start_rebuild
from relata_search.settings import get_settings

app = typer.Typer(help="The Relata search service.", no_args_is_help=True)


@app.command()
def serve(host: str = "127.0.0.1", port: int = 8005) -> None:
    """Serve the API with this process's index, its follower and the event consumer.

    One process per index directory (CRM_INDEX_DIR): replicas each need their own.
    """
    serve_app(create_api(), host=host, port=port, settings=get_settings())


@app.command()
def migrate() -> None:
    """Create the database if missing and migrate it to the newest schema."""
    asyncio.run(run_migrations(MIGRATIONS, get_settings().database_url))
    typer.echo("search database is up to date")


@app.command()
def reindex() -> None:
    """Rebuild from scratch: empty the read model; running processes replay the topics."""

    async def run() -> int:
        settings = get_settings()
        await run_migrations(MIGRATIONS, settings.database_url)
        engine = create_engine(settings.database_url, pool_size=1)
        try:
            async with transaction(create_sessionmaker(engine)) as session:
                return await start_rebuild(session)
        finally:
            await engine.dispose()

    typer.echo(f"rebuild started: generation {asyncio.run(run())}")


if __name__ == "__main__":
    app()
