"""The services the gateway composes, each reached through the process's one internal client
(see :mod:`relata_common.client`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

import httpx

from relata_common.client import InternalClient, ServiceClient
from relata_gateway.settings import GatewaySettings

SERVICES = ("relations", "contactmoments", "lists", "search", "selections", "automation")


@dataclass
class Services:
    client: InternalClient
    relations: ServiceClient
    contactmoments: ServiceClient
    lists: ServiceClient
    search: ServiceClient
    selections: ServiceClient
    automation: ServiceClient

    async def aclose(self) -> None:
        await self.client.aclose()


def build_services(
    settings: GatewaySettings, transports: Mapping[str, httpx.AsyncBaseTransport] | None = None
) -> Services:
    """One client for every service, reused for the life of the process (building one is
    costly); calls wait ``call_timeout`` unless they say otherwise."""
    client = InternalClient.from_settings(
        settings, SERVICES, timeout=settings.call_timeout, transports=transports
    )
    named = {f.name for f in fields(Services)} - {"client"}
    return Services(client, **{name: client.service(name) for name in named})
