"""What every API accepts at its edge, whatever the operation: text without control characters
(but tab and line breaks) or unpaired surrogates, integers within 64 bits, finite numbers.

Such values have no meaning in a CRM and break what lies behind the API (PostgreSQL refuses a
NUL in text and a 65-bit integer, JSON cannot carry NaN back out), so they are refused here, as
a class, with a 422 naming where they were, before any route or model sees them: in the path,
a query parameter or anywhere in a JSON body.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from datetime import date
from typing import Annotated, Any
from urllib.parse import parse_qsl

from pydantic import BeforeValidator
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# C0 controls but tab, line feed and carriage return; DEL and the C1 controls; lone surrogates.
_BAD_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
INT64 = 2**63
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _written_day(value: Any) -> Any:
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _DAY.match(value):
        raise ValueError("give a day as YYYY-MM-DD")
    return value


Day = Annotated[date, BeforeValidator(_written_day)]
"""A day as a client writes it, YYYY-MM-DD only (pydantic alone would also take a number as
seconds since 1970)."""


class Refused(ValueError):
    def __init__(self, loc: Sequence[str | int], message: str) -> None:
        super().__init__(message)
        self.loc = list(loc)
        self.message = message


def text_problem(text: str) -> str | None:
    """Why this text is not acceptable, or None."""
    found = _BAD_TEXT.search(text)
    if found is None:
        return None
    char = found.group()
    if "\ud800" <= char <= "\udfff":
        return "contains an unpaired surrogate (not a character)"
    return f"contains the control character U+{ord(char):04X}"


def check_value(value: Any, loc: list[str | int]) -> None:
    """Raise :class:`Refused` at the first unacceptable value in a parsed JSON document."""
    stack: list[tuple[Any, list[str | int]]] = [(value, loc)]
    while stack:  # iterative: a deeply nested body must not exhaust the Python stack
        item, where = stack.pop()
        if isinstance(item, str):
            if problem := text_problem(item):
                raise Refused(where, f"text {problem}")
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            if not -INT64 <= item < INT64:
                raise Refused(where, "integer beyond 64 bits")
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise Refused(where, "number out of range (not finite)")
        elif isinstance(item, dict):
            for key, child in item.items():
                if problem := text_problem(key):
                    raise Refused(where, f"a key {problem}")
                stack.append((child, [*where, key]))
        elif isinstance(item, list):
            stack.extend((child, [*where, n]) for n, child in enumerate(item))


def _no_constants(name: str) -> Any:
    raise Refused(["body"], f"{name} is not a number JSON allows")


def check_body(body: bytes) -> None:
    """Refuse a JSON body with an unacceptable value; a body that is not JSON at all is left
    to the route (it answers its own 422)."""
    try:
        document = json.loads(body, parse_constant=_no_constants)
    except (ValueError, RecursionError) as error:
        if isinstance(error, Refused):
            raise
        return
    check_value(document, ["body"])


def check_target(scope: Scope) -> None:
    """Refuse an unacceptable path or query parameter."""
    if problem := text_problem(scope["path"]):
        raise Refused(["path"], f"the path {problem}")
    query = scope.get("query_string", b"").decode("latin-1")
    for name, value in parse_qsl(query, keep_blank_values=True, errors="surrogateescape"):
        problem = text_problem(name) or text_problem(value)
        if problem:
            raise Refused(["query", name], f"the parameter {problem}")


def _is_json(scope: Scope) -> bool:
    content_type = dict(scope["headers"]).get(b"content-type", b"").split(b";")[0].strip()
    return content_type == b"application/json" or content_type.endswith(b"+json")


class CleanInputMiddleware:
    """Applies the checks above to every request (``unchecked_bodies``: path prefixes whose
    bodies are streams the route checks line by line or message by message)."""

    def __init__(self, app: ASGIApp, unchecked_bodies: Sequence[str] = ()) -> None:
        self.app = app
        self.unchecked = tuple(unchecked_bodies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            check_target(scope)
        except Refused as refused:
            await _refuse(send, refused)
            return
        if (
            scope["method"] not in BODY_METHODS
            or not _is_json(scope)
            or (self.unchecked and scope["path"].startswith(self.unchecked))
        ):
            await self.app(scope, receive, send)
            return
        messages, body = await _read(receive)
        if messages[-1]["type"] == "http.request":  # the whole body arrived
            try:
                check_body(body)
            except Refused as refused:
                await _refuse(send, refused)
                return
        replay = iter(messages)

        async def replayed() -> Message:
            return next(replay, None) or await receive()

        await self.app(scope, replayed, send)


async def _read(receive: Receive) -> tuple[list[Message], bytes]:
    """Every message of the body (its size is bounded by the body limit outside this)."""
    messages: list[Message] = []
    chunks: list[bytes] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages, b""
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return messages, b"".join(chunks)


async def _refuse(send: Send, refused: Refused) -> None:
    detail = [{"loc": refused.loc, "msg": refused.message, "type": "value_error"}]
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 422,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
