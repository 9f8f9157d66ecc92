"""The OpenAPI document says, per operation, what a caller needs: the rights of their role
and the scope of an API key. Both are read from the routes themselves (the ``needs``
dependencies and the route's scope), so the document cannot drift from what is enforced; the
README's API table is written from the same data (``scripts/api-table.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, routing
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from relata_gateway.deps import admin_only
from relata_gateway.rights import ADMIN_ROLE, needed_scope

RIGHTS_KEY = "x-rights"
SCOPE_KEY = "x-api-key-scope"
PUBLIC = frozenset({"/auth/token", "/health", "/ready", "/metrics"})
"""Operations that need no caller at all."""


@dataclass(frozen=True)
class Access:
    method: str
    path: str
    summary: str
    rights: tuple[str, ...]
    scope: str | None


def _dependencies(dependant: Dependant) -> Iterator[Any]:
    stack = list(dependant.dependencies)
    while stack:
        current = stack.pop()
        yield current.call
        stack.extend(current.dependencies)


def rights_of(route: Any) -> tuple[str, ...]:
    """The rights the route's dependencies demand (``admin`` for administrators only)."""
    found: set[str] = set()
    for call in _dependencies(route.dependant):
        right = getattr(call, "right", None)
        if right is not None:
            found.add(str(right))
        elif call is admin_only:
            found.add(f"role {ADMIN_ROLE}")
    return tuple(sorted(found))


def access_table(app: FastAPI) -> list[Access]:
    """Every public operation with what it needs, in path order."""
    rows = []
    # Routers included with a prefix are wrapped; their contexts carry the full path and the
    # router's own dependencies, as the OpenAPI generator sees them.
    for route in routing.iter_route_contexts(app.routes):
        if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
            continue
        path = str(route.path_format)
        for method in sorted((route.methods or set()) - {"HEAD"}):
            public = path in PUBLIC
            rows.append(
                Access(
                    method=method,
                    path=path,
                    summary=_first_paragraph(route.description or route.summary or ""),
                    rights=rights_of(route),
                    scope=None if public else needed_scope(method, route.openapi_extra),
                )
            )
    return sorted(rows, key=lambda row: (row.path, row.method))


def _first_paragraph(text: str) -> str:
    return " ".join(text.strip().split("\n\n")[0].split())


def install(app: FastAPI) -> None:
    """Serve the document with each operation's rights and API-key scope."""

    def document() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            for row in access_table(app):
                operation = schema["paths"][row.path][row.method.lower()]
                operation[RIGHTS_KEY] = list(row.rights)
                if row.scope is not None:
                    operation[SCOPE_KEY] = row.scope
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = document  # type: ignore[method-assign]
