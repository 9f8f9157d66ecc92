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
)
