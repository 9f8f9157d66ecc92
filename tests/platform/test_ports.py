"""``crm up --port-base``: one number moves every process, and the other ``crm`` commands find
them there. Binds nothing but one probe socket on a free port."""

from __future__ import annotations

import socket
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from relata_cli import runstate
from relata_cli.main import busy_ports
from relata_cli.processes import (
    DEFAULT_PORT_BASE,
    PROCESSES,
    SERVICE_URL_SETTINGS,
    named,
    port,
    service_urls,
)
from tests.platform.test_up import free_port_base


def test_the_default_base_keeps_the_documented_ports() -> None:
    """Catches a default that moves the ports the README names (gateway 8000, relations 8001)."""
    assert port(named("gateway")) == 8000
    assert port(named("relations-api")) == 8001
    assert port(named("lists-worker")) == 9103


def test_another_base_moves_every_process_and_no_two_collide() -> None:
    """Catches a process left on its fixed port (it would clash with a running ``make up``)."""
    base = 20_000
    moved = [port(spec, base) for spec in PROCESSES]
    assert len(set(moved)) == len(PROCESSES)
    assert not set(moved) & {port(spec) for spec in PROCESSES}
    assert port(named("gateway"), base) == base


def test_services_find_each_other_at_the_base() -> None:
    """Catches a service URL setting that still points at the default ports: the gateway
    would then call another installation's services."""
    base = 20_000
    urls = service_urls(base)
    assert set(urls) == set(SERVICE_URL_SETTINGS)
    for setting, name in SERVICE_URL_SETTINGS.items():
        assert urlsplit(urls[setting]).port == port(named(name), base), setting


def test_the_other_commands_read_the_base_crm_up_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Catches ``crm status``/``seed``/``reindex`` looking at 8000 while the platform runs
    elsewhere (the base must travel through the run directory's platform.json)."""
    monkeypatch.delenv("CRM_PORT_BASE", raising=False)
    assert runstate.port_base(runstate.environment(tmp_path)) == DEFAULT_PORT_BASE
    runstate.save(tmp_path, {"CRM_PORT_BASE": "23000"})
    assert runstate.port_base(runstate.environment(tmp_path)) == 23_000


def test_busy_ports_looks_at_the_chosen_base() -> None:
    """Catches the refusal to start checking the default ports instead of the chosen ones."""
    base = free_port_base()
    assert busy_ports(base) == []
    search = named("search")
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", port(search, base)))
        listener.listen()
        assert busy_ports(base) == [search]
