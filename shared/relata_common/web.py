"""HTTP conventions every service shares: errors, health, readiness, metrics, internal token,
correlation ids."""

from __future__ import annotations

import contextlib
import logging
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Annotated, Protocol, TypeVar

import asyncpg
from fastapi import APIRouter, Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, Histogram, generate_latest
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from relata_common.db import transaction
from relata_common.errors import (
    DomainError,
    Forbidden,
    InvalidInput,
    TooManyRequests,
    Unauthorized,
)
from relata_common.events import Actor, ActorKind
from relata_common.input import CleanInputMiddleware
from relata_common.logging import REQUESTS_LOGGER, correlation_id_var, get_logger
from relata_common.versions import etag, parse_if_match

log = get_logger(__name__)
_requests = logging.getLogger(REQUESTS_LOGGER)
_requests_log = get_logger(REQUESTS_LOGGER)

CORRELATION_HEADER = "X-Correlation-ID"
INTERNAL_TOKEN_HEADER = "X-Internal-Token"
RETRY_AFTER = "1"
"""Seconds a client waits before retrying a 503."""

REQUEST_SECONDS = Histogram(
    "relata_http_request_seconds",
    "HTTP request latency",
    ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
)

ReadinessCheck = Callable[[], Awaitable[None]]


class RequestContextMiddleware:
    """Binds the caller's correlation id (or a new one), echoes it, and times the request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = CORRELATION_HEADER.lower().encode()
        incoming = dict(scope["headers"]).get(header)
        correlation_id = incoming.decode()[:100] if incoming else str(uuid.uuid4())
        token = correlation_id_var.set(correlation_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"].append((header, correlation_id.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            elapsed = time.perf_counter() - started
            REQUEST_SECONDS.labels(
                scope["method"], getattr(route, "path", "unmatched"), str(status)
            ).observe(elapsed)
            if _requests.isEnabledFor(logging.INFO):  # checked first: the line is not free
                _requests_log.info(
                    "request handled",
                    method=scope["method"],
                    path=scope["path"],
                    status=status,
                    ms=round(elapsed * 1000, 1),
                )
            correlation_id_var.reset(token)


DEFAULT_MAX_BODY_BYTES = 1024 * 1024


class BodyLimitMiddleware:
    """Refuses request bodies over a limit with 413, before anything reads them whole.

    Streaming endpoints (bulk import, mail ingestion) are listed in ``unlimited`` and enforce
    their own per-line or per-message limits.
    """

    def __init__(
        self, app: ASGIApp, max_bytes: int = DEFAULT_MAX_BODY_BYTES, unlimited: Sequence[str] = ()
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.unlimited = tuple(unlimited)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.unlimited or ("\0",)):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        seen = 0
        refused = False

        async def counted() -> Message:
            nonlocal seen, refused
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes and not refused:
                    refused = True
                    await self._refuse(send)
                    return {"type": "http.disconnect"}  # the app stops reading
            return message

        async def unless_refused(message: Message) -> None:
            if not refused:
                await send(message)

        with contextlib.suppress(ClientDisconnect):
            await self.app(scope, counted, unless_refused)

    async def _refuse(self, send: Send) -> None:
        body = (
            b'{"detail": "the request body is larger than '
            + str(self.max_bytes).encode()
            + b' bytes", "type": "payload_too_large"}'
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(InvalidInput)
    async def invalid_input(_: Request, error: InvalidInput) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": error.errors})

    @app.exception_handler(DomainError)
    async def domain_error(_: Request, error: DomainError) -> JSONResponse:
        body = {"detail": error.message, "type": error.error_type, **error.details}
        # A 503 is worth retrying (another service or the database is down for a moment);
        # a 429 says when.
        headers = {"Retry-After": RETRY_AFTER} if error.status_code == 503 else None
        if isinstance(error, TooManyRequests):
            headers = {"Retry-After": str(error.retry_after)}
        return JSONResponse(status_code=error.status_code, content=body, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def request_validation(_: Request, error: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in error.errors()
        ]
        return JSONResponse(status_code=422, content={"detail": errors})

    async def unavailable(request: Request, error: Exception) -> JSONResponse:
        if isinstance(error, DBAPIError) and not database_unavailable(error):
            raise error  # a bug: let it be the 500 it is, with its traceback in the log
        log.warning("database unavailable", path=request.url.path, error=str(error))
        body = {"detail": "the database is unavailable: retry shortly", "type": "unavailable"}
        return JSONResponse(status_code=503, content=body, headers={"Retry-After": RETRY_AFTER})

    # asyncpg raises a refused or reset connection as it is, unwrapped by SQLAlchemy.
    app.add_exception_handler(DBAPIError, unavailable)
    app.add_exception_handler(ConnectionError, unavailable)


_UNAVAILABLE = (
    OSError,
    asyncpg.QueryCanceledError,  # the statement timeout: the database is busy, retry later
    asyncpg.TooManyConnectionsError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.ConnectionDoesNotExistError,
)


def database_unavailable(error: DBAPIError) -> bool:
    """Whether the database could not be reached or dropped the connection (a 503, retried by
    the caller), rather than refusing the statement (a bug)."""
    if error.connection_invalidated:
        return True
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, _UNAVAILABLE):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


def internal_token_guard(expected: str) -> Callable[..., None]:
    """A dependency refusing calls that lack the internal service token (401) or forge it (403)."""

    def guard(
        token: Annotated[str | None, Header(alias=INTERNAL_TOKEN_HEADER)] = None,
    ) -> None:
        if token is None:
            raise Unauthorized("missing internal service token")
        if not secrets.compare_digest(token.encode(), expected.encode()):
            raise Forbidden("invalid internal service token")

    return guard


def operations_router(checks: Sequence[tuple[str, ReadinessCheck]]) -> APIRouter:
    """``/health`` (the process runs), ``/ready`` (its dependencies answer), ``/metrics``."""
    router = APIRouter(tags=["operations"])

    @router.get("/health")
    async def health() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @router.get("/ready")
    async def ready() -> JSONResponse:
        """Readiness: every dependency this process needs answers."""
        results: dict[str, str] = {}
        for name, check in checks:
            try:
                await check()
                results[name] = "ok"
            except Exception as error:
                results[name] = f"failed: {error!r}"[:300]
        ok = all(v == "ok" for v in results.values())
        return JSONResponse(
            status_code=200 if ok else 503,
            content={"status": "ready" if ok else "not ready", "checks": results},
            headers=None if ok else {"Retry-After": RETRY_AFTER},
        )

    @router.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


def create_app(
    *,
    title: str,
    description: str,
    lifespan: Callable,
    internal_token: str,
    routers: Sequence[APIRouter],
    readiness: Sequence[tuple[str, ReadinessCheck]],
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    unlimited_paths: Sequence[str] = (),
) -> FastAPI:
    """A service's FastAPI app: its routers behind the internal token, plus the operations ones."""
    app = FastAPI(title=title, description=description, lifespan=lifespan, version="1")
    # Added first, so it runs inside the body limit: it reads bodies the limit has bounded.
    app.add_middleware(CleanInputMiddleware, unchecked_bodies=unlimited_paths)
    app.add_middleware(BodyLimitMiddleware, max_bytes=max_body_bytes, unlimited=unlimited_paths)
    app.add_middleware(RequestContextMiddleware)
    install_error_handlers(app)
    guard = Depends(internal_token_guard(internal_token))
    for router in routers:
        app.include_router(router, dependencies=[guard])
    app.include_router(operations_router(readiness))
    return app


async def _transactional_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with transaction(request.app.state.sessions) as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(_transactional_session, scope="function")]
"""A session in a transaction that commits before the response is sent, or rolls back."""


async def _reading_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.reading_sessions() as session:
        yield session


ReadingSessionDep = Annotated[AsyncSession, Depends(_reading_session, scope="function")]
"""A session for an endpoint that only reads, one statement at a time (no transaction)."""


def _actor(
    kind: Annotated[ActorKind, Header(alias="X-Actor-Kind")] = ActorKind.SYSTEM,
    actor_id: Annotated[str | None, Header(alias="X-Actor-Id", max_length=200)] = None,
) -> Actor:
    return Actor(kind=kind, id=actor_id)


ActorDep = Annotated[Actor, Depends(_actor)]
"""Who makes the change, as stated by the caller (the gateway, or another module)."""


class Versioned(Protocol):
    version: int


V = TypeVar("V", bound=Versioned)


def with_etag(response: Response, resource: V) -> V:
    """The resource, its version set as the response's ETag."""
    response.headers["ETag"] = etag(resource.version)
    return resource


def required_version(
    if_match: Annotated[str | None, Header(alias="If-Match")] = None,
) -> int:
    """The version named by If-Match; writes without one are refused (428)."""
    return parse_if_match(if_match)


IfMatchDep = Annotated[int, Depends(required_version)]


def optional_version(
    if_match: Annotated[str | None, Header(alias="If-Match")] = None,
) -> int | None:
    """The version named by If-Match, for a write that is also allowed without one."""
    return None if if_match is None else parse_if_match(if_match)


OptionalIfMatchDep = Annotated[int | None, Depends(optional_version)]
