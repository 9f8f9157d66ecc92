"""What a running ``crm up`` tells the other ``crm`` commands: where its infrastructure is.

``crm up`` writes ``platform.json`` into its run directory (the Kafka port may not be 9092,
PostgreSQL may be an embedded one, the processes may run from another port base) and removes
it when it stops; ``crm status``, ``crm seed`` and ``crm reindex`` read it, falling back to the
``CRM_`` environment.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from relata_cli.processes import DEFAULT_PORT_BASE

STATE_FILE = "platform.json"
SHARED_KEYS = (
    "CRM_POSTGRES_URL",
    "CRM_REDIS_URL",
    "CRM_KAFKA_BOOTSTRAP",
    "CRM_DATABASE_PREFIX",
    "CRM_INDEX_DIR",
    "CRM_PORT_BASE",
)
SECRETS_FILE = "secrets.json"
SECRET_KEYS = ("CRM_INTERNAL_TOKEN", "CRM_JWT_SECRET")
DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432"
DEFAULT_KAFKA = "127.0.0.1:9092"


def save(run_dir: Path, environment: dict[str, str]) -> Path:
    path = run_dir / STATE_FILE
    state = {key: environment[key] for key in SHARED_KEYS if key in environment}
    path.write_text(json.dumps({**state, "pid": os.getpid()}, indent=2) + "\n")
    return path


def remove(run_dir: Path) -> None:
    (run_dir / STATE_FILE).unlink(missing_ok=True)


def installation_secrets(run_dir: Path) -> dict[str, str]:
    """The internal token and the JWT secret of the installation in ``run_dir``: made on its
    first start (random, kept in ``secrets.json``, readable by its owner only) and the same on
    every start after. A secret set in the environment is used instead of the file's."""
    path = run_dir / SECRETS_FILE
    if not path.exists():
        made = {key: secrets.token_urlsafe(48) for key in SECRET_KEYS}
        run_dir.mkdir(parents=True, exist_ok=True)
        # Created with mode 0600 from the start: never readable by others, not even briefly.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            json.dump(made, file, indent=2)
    kept = json.loads(path.read_text())
    return {key: os.environ.get(key) or kept[key] for key in SECRET_KEYS}


def environment(run_dir: Path) -> dict[str, str]:
    """The process environment, with what the running platform recorded on top (its
    addresses, and its secrets when it has made them)."""
    path = run_dir / STATE_FILE
    saved: dict[str, object] = {}
    if path.exists():
        try:
            saved = json.loads(path.read_text())
        except (OSError, ValueError):
            saved = {}
    recorded = {key: str(saved[key]) for key in SHARED_KEYS if key in saved}
    if (run_dir / SECRETS_FILE).exists():
        recorded |= installation_secrets(run_dir)
    return {**os.environ, **recorded}


def database_name(env: dict[str, str], database: str) -> str:
    """A process's database, with the run's prefix (``crm up --database-prefix``)."""
    return env.get("CRM_DATABASE_PREFIX", "") + database


def internal_token(env: dict[str, str]) -> str:
    """The token the ``crm`` commands send to the services' internal APIs."""
    token = env.get("CRM_INTERNAL_TOKEN")
    if not token:
        raise RuntimeError(
            "no internal token: start the platform with `crm up` (it makes one) or set "
            "CRM_INTERNAL_TOKEN"
        )
    return token


def postgres_url(env: dict[str, str]) -> str:
    return env.get("CRM_POSTGRES_URL") or DEFAULT_POSTGRES


def kafka_bootstrap(env: dict[str, str]) -> str:
    return env.get("CRM_KAFKA_BOOTSTRAP") or DEFAULT_KAFKA


def port_base(env: dict[str, str]) -> int:
    """Where the platform's ports start (``crm up --port-base``)."""
    return int(env.get("CRM_PORT_BASE") or DEFAULT_PORT_BASE)
