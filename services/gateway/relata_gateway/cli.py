"""``relata-gateway``: run the gateway's processes and manage its first administrator."""

from __future__ import annotations

import asyncio
import uuid

import typer
from sqlalchemy import select

from relata_common.db import create_engine, create_sessionmaker, transaction
from relata_common.db import migrate as run_migrations
from relata_common.runtime import serve
from relata_gateway.app import MIGRATIONS, create_api, create_worker
from relata_gateway.models import users
from relata_gateway.security import hash_password
from relata_gateway.settings import get_settings

app = typer.Typer(help="The Relata API gateway.", no_args_is_help=True)


@app.command()
def api(host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve the public API (stateless: run as many replicas as needed)."""
    serve(create_api(), host=host, port=port, settings=get_settings())


@app.command()
def worker(host: str = "127.0.0.1", port: int = 9100) -> None:
    """Keep the activity feed and the card cache current; health and metrics on PORT."""
    serve(create_worker(), host=host, port=port, settings=get_settings())


@app.command()
def migrate() -> None:
    """Create the database if missing and migrate it to the newest schema."""
    asyncio.run(run_migrations(MIGRATIONS, get_settings().database_url))
    typer.echo("gateway database is up to date")


async def ensure_user(username: str, password: str, role: str, display_name: str) -> bool:
    """Create a user unless one with this username exists; True when created."""
    settings = get_settings()
    await run_migrations(MIGRATIONS, settings.database_url)
    engine = create_engine(settings.database_url, pool_size=1)
    try:
        async with transaction(create_sessionmaker(engine)) as session:
            if await session.scalar(select(users.c.id).where(users.c.username == username)):
                return False
            await session.execute(
                users.insert().values(
                    id=uuid.uuid4(),
                    username=username,
                    display_name=display_name,
                    password_hash=hash_password(password),
                    role=role,
                )
            )
            return True
    finally:
        await engine.dispose()


@app.command("create-admin")
def create_admin(
    username: str = typer.Option(..., help="login name"),
    password: str = typer.Option(..., prompt=True, hide_input=True, help="at least 10 characters"),
) -> None:
    """Create a functional administrator (the first user of a new installation)."""
    if len(password) < 10:
        raise typer.BadParameter("use at least 10 characters", param_hint="--password")
    created = asyncio.run(ensure_user(username, password, "admin", username))
    typer.echo("administrator created" if created else "that user exists already")


if __name__ == "__main__":
    app()
