"""Every process of the platform, as ``crm up`` starts them: one line per process."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ProcessSpec:
    name: str
    command: tuple[str, ...]
    port: int
    database: str
    docs: bool = False


PROCESSES: tuple[ProcessSpec, ...] = (
    ProcessSpec("relations-api", ("relata-relations", "api"), 8001, "relata_relations", docs=True),
    ProcessSpec("relations-relay", ("relata-relations", "relay"), 9001, "relata_relations"),
    ProcessSpec("lists-api", ("relata-lists", "api"), 8003, "relata_lists", docs=True),
    ProcessSpec("lists-worker", ("relata-lists", "worker"), 9103, "relata_lists"),
    ProcessSpec("lists-relay", ("relata-lists", "relay"), 9003, "relata_lists"),
    ProcessSpec(
        "contactmoments-api",
        ("relata-contactmoments", "api"),
        8002,
        "relata_contactmoments",
        docs=True,
    ),
    ProcessSpec(
        "contactmoments-worker",
        ("relata-contactmoments", "worker"),
        9102,
        "relata_contactmoments",
    ),
    ProcessSpec(
        "contactmoments-relay", ("relata-contactmoments", "relay"), 9002, "relata_contactmoments"
    ),
    # One process: API, index follower and consumer (the tantivy index lives in the process).
    ProcessSpec("search", ("relata-search", "serve"), 8005, "relata_search", docs=True),
    ProcessSpec(
        "selections-api", ("relata-selections", "api"), 8004, "relata_selections", docs=True
    ),
    ProcessSpec("selections-worker", ("relata-selections", "worker"), 9104, "relata_selections"),
    ProcessSpec("selections-relay", ("relata-selections", "relay"), 9004, "relata_selections"),
    ProcessSpec(
        "automation-api", ("relata-automation", "api"), 8006, "relata_automation", docs=True
    ),
    ProcessSpec("automation-worker", ("relata-automation", "worker"), 9106, "relata_automation"),
    ProcessSpec("automation-relay", ("relata-automation", "relay"), 9006, "relata_automation"),
    ProcessSpec("gateway-worker", ("relata-gateway", "worker"), 9100, "relata_gateway"),
    ProcessSpec("gateway", ("relata-gateway", "api"), 8000, "relata_gateway", docs=True),
)
GATEWAY = PROCESSES[-1]

DEFAULT_PORT_BASE = 8000
"""The gateway's port; every other process keeps its distance from it (relations-api at
base + 1, lists-worker at base + 1103), so one number moves the whole platform."""
HIGHEST_OFFSET = max(spec.port for spec in PROCESSES) - DEFAULT_PORT_BASE
SERVICE_URL_SETTINGS = {
    "CRM_RELATIONS_URL": "relations-api",
    "CRM_CONTACTMOMENTS_URL": "contactmoments-api",
    "CRM_LISTS_URL": "lists-api",
    "CRM_SELECTIONS_URL": "selections-api",
    "CRM_SEARCH_URL": "search",
    "CRM_AUTOMATION_URL": "automation-api",
}
"""The settings through which services find each other's APIs."""


def named(name: str) -> ProcessSpec:
    return next(spec for spec in PROCESSES if spec.name == name)


def port(spec: ProcessSpec, base: int = DEFAULT_PORT_BASE) -> int:
    """The port of a process when the platform runs from ``base``."""
    return spec.port - DEFAULT_PORT_BASE + base


def url(spec: ProcessSpec, base: int = DEFAULT_PORT_BASE) -> str:
    return f"http://127.0.0.1:{port(spec, base)}"


def service_urls(base: int = DEFAULT_PORT_BASE) -> dict[str, str]:
    """The ``CRM_*_URL`` settings that point every service at the others' ports."""
    return {setting: url(named(name), base) for setting, name in SERVICE_URL_SETTINGS.items()}
