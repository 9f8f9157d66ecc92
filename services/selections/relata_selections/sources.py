"""The lists service as the source of a selection's members: it evaluates a relation list or a
filter into the ids of the relations that match now."""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from relata_common.errors import DomainError, FieldError, InvalidInput, NotFound, ServiceUnavailable
from relata_common.events import SelectionSource
from relata_common.logging import get_logger
from relata_common.web import INTERNAL_TOKEN_HEADER

log = get_logger(__name__)


class SourceGone(DomainError):
    """The list a selection is taken from no longer exists."""

    status_code = 409
    error_type = "source_gone"


def source_filter(source: SelectionSource) -> dict[str, Any]:
    """The filter the lists service evaluates for a source: a list is ``in_list``."""
    if source.kind == "list":
        return {"kind": "in_list", "list_id": str(source.list_id)}
    if source.kind == "filter" and source.filter is not None:
        return source.filter
    raise ValueError("a hand-made selection has no source to evaluate")


class ListsSource:
    """Calls ``POST /evaluate/ids`` of the lists service with one shared client."""

    def __init__(
        self, client: httpx.AsyncClient, base_url: str, token: str, timeout: float = 60.0
    ) -> None:
        self.client = client
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    async def relation_ids(self, source: SelectionSource) -> list[str]:
        """Every relation in the source now, as id strings (asyncpg's COPY takes them as is)."""
        try:
            response = await self.client.post(
                f"{self.base_url}/evaluate/ids",
                content=orjson.dumps({"filter": source_filter(source)}),
                headers={INTERNAL_TOKEN_HEADER: self.token, "Content-Type": "application/json"},
                timeout=self.timeout,
            )
        except httpx.HTTPError as error:
            log.warning("lists service unreachable", error=repr(error))
            raise ServiceUnavailable("the lists service does not answer") from None
        if response.status_code == 422:
            raise self._refused(source, response)
        if response.status_code != 200:
            log.warning("lists service failed", status=response.status_code, body=response.text)
            raise ServiceUnavailable(f"the lists service answered {response.status_code}")
        return orjson.loads(response.content)["relation_ids"]

    def _refused(self, source: SelectionSource, response: httpx.Response) -> DomainError:
        if source.kind == "list":
            return NotFound(
                f"relation list {source.list_id} not found", list_id=str(source.list_id)
            )
        try:
            errors = orjson.loads(response.content)["detail"]
            return InvalidInput(
                [
                    FieldError(
                        ("body", "source", "filter", *_after_filter(e.get("loc", []))),
                        e.get("msg", "invalid"),
                        e.get("type", "value_error"),
                    )
                    for e in errors
                ]
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
            return InvalidInput.single(("body", "source", "filter"), "the filter is not valid")


def _after_filter(loc: list[Any]) -> list[Any]:
    """The lists service names paths from ``body.filter``; keep what follows."""
    return list(loc[2:]) if loc[:2] == ["body", "filter"] else list(loc)
