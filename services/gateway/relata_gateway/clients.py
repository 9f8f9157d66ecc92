"""Calls to the internal services: one pooled client per service, the internal token, the
caller's correlation id, timeouts, and errors turned into the gateway's own."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from relata_common.errors import DomainError, FieldError, InvalidInput
from relata_common.logging import current_correlation_id
from relata_common.web import CORRELATION_HEADER, INTERNAL_TOKEN_HEADER


class ServiceUnavailable(DomainError):
    status_code = 503
    error_type = "service_unavailable"


class Upstream(DomainError):
    """A client error answered by a service, passed on with its status and detail."""

    def __init__(self, status_code: int, body: Any) -> None:
        detail = body.get("detail") if isinstance(body, dict) else body
        super().__init__(str(detail)[:500])
        self.status_code = status_code
        self.error_type = "upstream"
        self.body = body


@dataclass
class ServiceClient:
    name: str
    client: httpx.AsyncClient
    timeout: float

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> httpx.Response:
        """One call; 4xx answers raise Upstream, failures and 5xx raise ServiceUnavailable."""
        try:
            response = await self.client.request(
                method,
                path,
                json=json,
                params=params,
                headers={CORRELATION_HEADER: current_correlation_id(), **(headers or {})},
                timeout=timeout or self.timeout,
            )
        except httpx.HTTPError as error:
            raise ServiceUnavailable(f"the {self.name} service did not answer: {error!r}") from None
        if response.status_code >= 500:
            raise ServiceUnavailable(f"the {self.name} service failed ({response.status_code})")
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = response.text
            raise _invalid_input(response.status_code, body) or Upstream(response.status_code, body)
        return response


class UpstreamInvalidInput(InvalidInput, Upstream):
    """A service's 422 naming fields: answered to clients in the same shape (a list under
    ``detail``, as the gateway's OpenAPI document promises), and still an Upstream answer to
    code that catches those."""

    def __init__(self, errors: list[FieldError], body: Any) -> None:
        # Not InvalidInput.__init__: its super() call would land in Upstream's.
        DomainError.__init__(self, InvalidInput(errors).message)
        self.errors = errors
        self.body = body


def _invalid_input(status_code: int, body: Any) -> UpstreamInvalidInput | None:
    detail = body.get("detail") if isinstance(body, dict) else None
    if status_code != 422 or not isinstance(detail, list):
        return None
    return UpstreamInvalidInput(
        [
            FieldError(
                [part for part in error.get("loc", []) if isinstance(part, str | int)],
                str(error.get("msg", "invalid")),
                str(error.get("type", "value_error")),
            )
            for error in detail
            if isinstance(error, dict)
        ],
        body,
    )


@dataclass
class Services:
    relations: ServiceClient
    contactmoments: ServiceClient
    lists: ServiceClient
    search: ServiceClient
    selections: ServiceClient
    automation: ServiceClient

    async def aclose(self) -> None:
        for service in (
            self.relations,
            self.contactmoments,
            self.lists,
            self.search,
            self.selections,
            self.automation,
        ):
            await service.client.aclose()


def build_services(
    urls: dict[str, str],
    token: str,
    timeout: float,
    transports: dict[str, httpx.AsyncBaseTransport] | None = None,
) -> Services:
    """One client per service, reused for the life of the process (building one is costly)."""
    transports = transports or {}
    clients = {
        name: ServiceClient(
            name,
            httpx.AsyncClient(
                base_url=url,
                headers={INTERNAL_TOKEN_HEADER: token},
                transport=transports.get(name),
                limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
            ),
            timeout,
        )
        for name, url in urls.items()
    }
    return Services(**clients)
