"""Check that PostgreSQL lets Relata in, and say how to tell it a password when it does not.

Usage: ``python scripts/check_postgres.py SETTING`` where SETTING is ``CRM_POSTGRES_URL``
(``make up``) or ``CRM_TEST_POSTGRES_URL`` (``make test``). A stock Debian or Ubuntu
PostgreSQL asks for a password on 127.0.0.1, and its ``postgres`` user has none, so the
default URL is refused there; this turns asyncpg's refusal into the lines that fix it.
"""

from __future__ import annotations

import asyncio
import os
import sys

import asyncpg
from sqlalchemy.engine import make_url

from relata_common.db import asyncpg_dsn

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432"
AUTHENTICATION_CLASS = "28"  # SQLSTATE class: invalid authorization specification


def advice(setting: str, url: str, error: Exception) -> str:
    """What to do when the server refused ``url`` for authentication."""
    server = make_url(url)
    user = server.username or "postgres"
    fixed = server.set(username=user, password="relata").render_as_string(hide_password=False)
    return "\n".join(
        [
            f"PostgreSQL at {server.host or 'its socket'}:{server.port or 5432} refused user "
            f"{user!r} ({setting}): {error}",
            "Relata needs a PostgreSQL user that may create databases. Give it a password and",
            "name it in CRM_POSTGRES_URL (make up) and CRM_TEST_POSTGRES_URL (make test), e.g.:",
            f"  sudo -u postgres psql -c \"ALTER USER {user} PASSWORD 'relata'\"",
            f"  export CRM_POSTGRES_URL={fixed}",
            f"  export CRM_TEST_POSTGRES_URL={fixed}",
        ]
    )


async def check(url: str) -> None:
    dsn = asyncpg_dsn(make_url(url).set(database="postgres").render_as_string(False))
    connection = await asyncpg.connect(dsn, timeout=10)
    await connection.close()


def main(setting: str) -> int:
    url = os.environ.get(setting) or DEFAULT_URL
    try:
        asyncio.run(check(url))
    except asyncpg.PostgresError as error:
        if str(getattr(error, "sqlstate", "")).startswith(AUTHENTICATION_CLASS):
            print(advice(setting, url, error), file=sys.stderr)
        else:
            print(f"PostgreSQL refused the connection ({setting}): {error}", file=sys.stderr)
        return 1
    except (OSError, TimeoutError) as error:
        print(f"PostgreSQL does not answer ({setting}): {error!r}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "CRM_POSTGRES_URL"))
