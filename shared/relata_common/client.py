"""The one way a process calls another service.

One ``httpx.AsyncClient`` per process carries every call to every service, with a connection
pool per service inside it, built once. Each call carries the internal token, the correlation
id of the work in progress (so one request's log trail crosses every hop), who acts
(``X-Actor-Kind``/``X-Actor-Id``) and If-Match when a write names the version it read; the
answer says its ETag version. Failures mean one thing everywhere: a timeout, a refused
connection or a 5xx is ``ServiceUnavailable`` (503, answered with Retry-After); a 4xx is passed
on as the service gave it.
"""

from __future__ import annotations

import asyncio
import json as stdlib_json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal
from urllib.parse import quote

import httpx
import orjson

from relata_common.errors import DomainError, FieldError, InvalidInput, ServiceUnavailable
from relata_common.events import Actor
from relata_common.logging import correlation_id_var, get_logger
from relata_common.settings import CommonSettings
from relata_common.web import CORRELATION_HEADER, INTERNAL_TOKEN_HEADER, etag

log = get_logger(__name__)

# What may stay as it is in a path the callers build: the delimiters and percent signs they
# wrote themselves. Anything else (a control character or other text a client put in a path
# parameter) is percent-encoded, so it reaches the service as a value, never as a broken URL.
_URL_SAFE = "/?&=%:@!$'()*+,;~-._"
LOOKUP_MAX = 1000
"""Ids the relations service looks up in one ``POST /relations/lookup``."""

Refusals = Literal["raise", "return"]


class Upstream(DomainError):
    """A client error answered by a service, passed on with its status and detail."""

    def __init__(self, status_code: int, body: Any) -> None:
        detail = body.get("detail") if isinstance(body, dict) else body
        super().__init__(str(detail)[:500])
        self.status_code = status_code
        self.error_type = "upstream"
        self.body = body


class UpstreamInvalidInput(InvalidInput, Upstream):
    """A service's 422 naming fields: answered in the same shape (a list under ``detail``, as
    the gateway's OpenAPI document promises), and still an Upstream answer to code that
    catches those."""

    def __init__(self, errors: list[FieldError], body: Any) -> None:
        # Not InvalidInput.__init__: its super() call would land in Upstream's.
        DomainError.__init__(self, InvalidInput(errors).message)
        self.errors = errors
        self.body = body


def refusal(status_code: int, body: Any) -> Upstream:
    """The error a service's 4xx answer becomes: field errors stay field errors."""
    detail = body.get("detail") if isinstance(body, dict) else None
    if status_code != 422 or not isinstance(detail, list):
        return Upstream(status_code, body)
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
class Answer:
    """A service's answer: status, headers and body, with its JSON and ETag version."""

    status: int
    headers: httpx.Headers
    content: bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @cached_property
    def body(self) -> Any:
        """The JSON body (None when there is none)."""
        return orjson.loads(self.content) if self.content else None

    def json(self) -> Any:
        return self.body

    @property
    def text(self) -> str:
        return self.content.decode()

    @property
    def version(self) -> int | None:
        """The version the ETag names, if the answer has one."""
        tag = self.headers.get("ETag", "").removeprefix("W/").strip('"')
        return int(tag) if tag.isdigit() else None

    def error(self) -> str:
        body = _body_or_text(self)
        detail = body.get("detail") if isinstance(body, dict) else body
        return f"{self.status}: {detail}"


def _encode(body: Any) -> bytes:
    try:
        return orjson.dumps(body)
    except TypeError:
        # orjson refuses integers beyond 64 bits, which a client may send through the gateway.
        return stdlib_json.dumps(body).encode()


def _origin(url: str) -> str:
    parsed = httpx.URL(url)
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme}://{parsed.host}{port}"


def actor_headers(actor: Actor) -> dict[str, str]:
    headers = {"X-Actor-Kind": actor.kind.value}
    if actor.id:
        headers["X-Actor-Id"] = actor.id
    return headers


class ServiceClient:
    """Calls to one service through the process's shared client."""

    def __init__(self, client: InternalClient, name: str) -> None:
        self.client = client
        self.name = name

    async def call(self, method: str, path: str, **options: Any) -> Answer:
        """See :meth:`InternalClient.call`."""
        return await self.client.call(self.name, method, path, **options)


class InternalClient:
    """Every call this process makes to the other services, over one connection pool.

    ``urls`` names each service's base URL (from the settings); ``timeouts`` overrides the
    default ``timeout`` for a service; ``transports`` replaces the network for a service (tests
    reach in-process ASGI apps through them).
    """

    def __init__(
        self,
        urls: Mapping[str, str],
        token: str,
        *,
        timeout: float,
        timeouts: Mapping[str, float] | None = None,
        transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
        connections_per_service: int = 200,
    ) -> None:
        self.urls = {name: url.rstrip("/") for name, url in urls.items()}
        self.timeouts = dict(timeouts or {})
        self.timeout = timeout
        mounts: dict[str, httpx.AsyncBaseTransport] = {}
        for name, transport in (transports or {}).items():
            origin = _origin(self.urls[name])
            if origin in mounts:
                raise ValueError(f"two services with a transport share the address {origin}")
            mounts[origin] = transport
        # A pool per service behind the one client: httpcore's pool housekeeping scans every
        # connection it holds (quadratically) on each request, so one pool of every service's
        # connections made a composed card (three to four calls) markedly slower under load.
        for origin in {_origin(url) for url in self.urls.values()} - mounts.keys():
            mounts[origin] = httpx.AsyncHTTPTransport(
                limits=httpx.Limits(
                    max_connections=connections_per_service, max_keepalive_connections=50
                )
            )
        self._http = httpx.AsyncClient(
            headers={INTERNAL_TOKEN_HEADER: token}, mounts=mounts, timeout=timeout
        )

    @classmethod
    def from_settings(
        cls,
        settings: CommonSettings,
        services: Iterable[str],
        *,
        timeout: float,
        transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
    ) -> InternalClient:
        """A client for these services at their ``<name>_url`` settings, waiting for each
        ``<name>_timeout`` seconds where the settings have one (else ``timeout``)."""
        names = tuple(services)
        return cls(
            {name: getattr(settings, f"{name}_url") for name in names},
            settings.internal_token.get_secret_value(),
            timeout=timeout,
            timeouts={
                name: getattr(settings, f"{name}_timeout")
                for name in names
                if hasattr(settings, f"{name}_timeout")
            },
            transports=transports,
        )

    def service(self, name: str) -> ServiceClient:
        if name not in self.urls:
            raise KeyError(f"no address for the {name} service")
        return ServiceClient(self, name)

    async def call(
        self,
        service: str,
        method: str,
        path: str,
        *,
        json: Any = None,
        content: bytes | None = None,
        params: Mapping[str, Any] | None = None,
        actor: Actor | None = None,
        if_match: int | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        refusals: Refusals = "raise",
    ) -> Answer:
        """One call. A 4xx raises :class:`Upstream` (or returns, with ``refusals="return"``);
        no answer in time, no connection or a 5xx raises ``ServiceUnavailable``.

        ``content`` is a body sent as it is (a raw e-mail), its Content-Type given in
        ``headers``; ``json`` a body encoded here."""
        sent = self._headers(actor, if_match, headers)
        if json is not None:
            content = _encode(json)
            sent["Content-Type"] = "application/json"
        try:
            response = await self._http.request(
                method,
                f"{self.urls[service]}{quote(path, safe=_URL_SAFE)}",
                content=content,
                params=params,
                headers=sent,
                timeout=timeout or self.timeouts.get(service, self.timeout),
            )
        except httpx.HTTPError as error:
            log.warning("service unreachable", service=service, error=repr(error))
            raise ServiceUnavailable(f"the {service} service did not answer: {error!r}") from None
        answer = Answer(response.status_code, response.headers, response.content)
        if answer.status >= 500:
            log.warning("service failed", service=service, status=answer.status)
            raise ServiceUnavailable(f"the {service} service failed ({answer.status})")
        if answer.status >= 400 and refusals == "raise":
            raise refusal(answer.status, _body_or_text(answer))
        return answer

    @staticmethod
    def _headers(
        actor: Actor | None, if_match: int | None, extra: Mapping[str, str] | None
    ) -> dict[str, str]:
        # Outside a request or event (a scheduled task) there is no id to pass on: a fresh
        # one per call, not stored, so a long-running loop does not reuse one for ever.
        headers = {CORRELATION_HEADER: correlation_id_var.get() or str(uuid.uuid4())}
        if actor is not None:
            headers |= actor_headers(actor)
        if if_match is not None:
            headers["If-Match"] = etag(if_match)
        return headers | dict(extra or {})

    async def lookup_relations(
        self, ids: Sequence[uuid.UUID | str], *, concurrency: int = 1
    ) -> list[dict[str, Any]]:
        """The states of these relations from the relations service, ``LOOKUP_MAX`` a call
        (``concurrency`` calls at once); unknown ids are left out. A refusal is a failure of
        the relations service here: the ids were ours, not a client's."""
        limit = asyncio.Semaphore(concurrency)

        async def chunk(part: Sequence[uuid.UUID | str]) -> list[dict[str, Any]]:
            async with limit:
                answer = await self.call(
                    "relations",
                    "POST",
                    "/relations/lookup",
                    json={"ids": [str(i) for i in part]},
                    refusals="return",
                )
            if not answer.ok:
                raise ServiceUnavailable(f"the relations lookup failed: {answer.error()}")
            return answer.body

        parts = [ids[i : i + LOOKUP_MAX] for i in range(0, len(ids), LOOKUP_MAX)]
        found = await asyncio.gather(*(chunk(p) for p in parts))
        return [state for part in found for state in part]

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> InternalClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()


def _body_or_text(answer: Answer) -> Any:
    try:
        return answer.body
    except orjson.JSONDecodeError:
        return answer.text
