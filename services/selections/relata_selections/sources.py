"""The lists service as the source of a selection's members: it evaluates a relation list or a
filter into the ids of the relations that match now."""

from __future__ import annotations

from typing import Any

from relata_common.client import Answer, InternalClient
from relata_common.errors import DomainError, FieldError, InvalidInput, NotFound, ServiceUnavailable
from relata_common.events import SelectionSource
from relata_common.logging import get_logger

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
    """Calls ``POST /evaluate/ids`` of the lists service through the process's client."""

    def __init__(self, client: InternalClient) -> None:
        self.client = client

    async def relation_ids(self, source: SelectionSource) -> list[str]:
        """Every relation in the source now, as id strings (asyncpg's COPY takes them as is)."""
        answer = await self.client.call(
            "lists",
            "POST",
            "/evaluate/ids",
            json={"filter": source_filter(source)},
            refusals="return",
        )
        if answer.status == 422:
            raise self._refused(source, answer)
        if answer.status != 200:
            log.warning("lists service refused", status=answer.status, body=answer.text)
            raise ServiceUnavailable(f"the lists service answered {answer.status}")
        return answer.body["relation_ids"]

    def _refused(self, source: SelectionSource, answer: Answer) -> DomainError:
        if source.kind == "list":
            return NotFound(
                f"relation list {source.list_id} not found", list_id=str(source.list_id)
            )
        try:
            errors = answer.body["detail"]
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
        except (ValueError, KeyError, TypeError, AttributeError):
            return InvalidInput.single(("body", "source", "filter"), "the filter is not valid")


def _after_filter(loc: list[Any]) -> list[Any]:
    """The lists service names paths from ``body.filter``; keep what follows."""
    return list(loc[2:]) if loc[:2] == ["body", "filter"] else list(loc)
