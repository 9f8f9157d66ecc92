"""What every administration route shares: the caller needs the administration right, and an
API key the ``admin`` scope."""

from __future__ import annotations

from typing import Annotated, Any

from relata_gateway.deps import needs
from relata_gateway.rights import Right, Scope, scope
from relata_gateway.security import User

Administrator = Annotated[User, needs(Right.ADMINISTRATION)]
"""The caller, when their role has the administration right (403 otherwise)."""

ADMIN: dict[str, Any] = {
    "openapi_extra": scope(Scope.ADMIN),
    "responses": {
        401: {"description": "no bearer token or API key, or one that is not valid"},
        403: {
            "description": "the caller's role lacks the administration right, or the API key "
            "lacks the admin scope (changing an administrator or giving the admin role needs "
            "the admin role itself)"
        },
    },
}
"""Keyword arguments of every administration route (``@router.get(path, **ADMIN)``)."""


def answering(answers: dict[int, str], *, etag: bool = False) -> dict[str, Any]:
    """:data:`ADMIN` with more documented answers: ``answering({404: "no such user"})``;
    ``etag``: a 200 answer carries the version as ETag."""
    responses: dict[int | str, dict[str, Any]] = {
        **ADMIN["responses"],
        **{code: {"description": text} for code, text in answers.items()},
    }
    if etag:
        header = {"description": "the version, for If-Match", "schema": {"type": "string"}}
        responses[200] = {"headers": {"ETag": header}}
    return {**ADMIN, "responses": responses}
