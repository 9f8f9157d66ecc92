"""Optimistic concurrency, one way in every service.

A versioned resource's version is its ETag (``"7"``). A write names the version it read in
``If-Match``: without one it is refused with 428, and when the resource has moved on since with
412, whose body carries ``current_version`` so the caller can re-read. The FastAPI
dependencies reading the header are in :mod:`relata_common.web`.
"""

from __future__ import annotations

from relata_common.errors import PreconditionFailed, PreconditionRequired


def etag(version: int) -> str:
    """The ETag of a resource at ``version``."""
    return f'"{version}"'


def version_of(tag: str | None) -> int | None:
    """The version an ETag or If-Match value names (weak or strong), or None if it names none."""
    if tag is None:
        return None
    value = tag.strip().removeprefix("W/").strip('"')
    return int(value) if value.isdigit() else None


def parse_if_match(if_match: str | None) -> int:
    """The version an If-Match header names: 428 without the header, 412 when it names none."""
    if if_match is None:
        raise PreconditionRequired("this write needs an If-Match header with the ETag you read")
    version = version_of(if_match)
    if version is None:
        raise PreconditionFailed(f"If-Match {if_match!r} names no version of this resource")
    return version


def check_version(resource: str, current: int, expected: int | None) -> None:
    """Refuse (412) a write on ``resource`` (e.g. ``"relation <id>"``) read at ``expected``
    when it is at ``current`` now. ``expected`` None: the caller did not ask for a check."""
    if expected is not None and current != expected:
        raise PreconditionFailed(
            f"{resource} is at version {current}, not {expected}", current_version=current
        )


def is_stale(status: int) -> bool:
    """Whether a service refused a write because the version it named is no longer current."""
    return status == PreconditionFailed.status_code
