"""Creating and dropping a service database as a user with a password."""

from __future__ import annotations

from typing import Any

import pytest

from relata_common import db


class Refused(Exception):
    """Stands in for the server: the test only looks at what would be sent."""


@pytest.mark.parametrize("operation", [db.ensure_database, db.drop_database])
async def test_the_password_reaches_the_server(
    operation: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Catches the password masked as *** on the way to asyncpg (``str()`` of a SQLAlchemy
    URL hides it): on a server that asks for one, such as a stock Debian PostgreSQL on
    127.0.0.1, every service would fail to start with "password authentication failed"."""
    sent: list[str] = []

    async def connect(dsn: str, **_: Any) -> None:
        sent.append(dsn)
        raise Refused

    monkeypatch.setattr(db.asyncpg, "connect", connect)
    with pytest.raises(Refused):
        await operation("postgresql+asyncpg://relata:s3cret@127.0.0.1:5432/relata_lists")
    assert sent == ["postgresql://relata:s3cret@127.0.0.1:5432/postgres"]
