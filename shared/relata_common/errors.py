"""Domain errors. Domain code raises these; the HTTP layer maps each to one status code."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every error a client can cause and correct."""

    status_code = 400
    error_type = "bad_request"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class NotFound(DomainError):
    status_code = 404
    error_type = "not_found"


class Conflict(DomainError):
    status_code = 409
    error_type = "conflict"


class PreconditionRequired(DomainError):
    status_code = 428
    error_type = "precondition_required"


class PreconditionFailed(DomainError):
    status_code = 412
    error_type = "precondition_failed"


class FieldError(dict):
    """One bad field, in FastAPI's validation-error shape: ``loc``, ``msg``, ``type``."""

    def __init__(
        self, loc: tuple[str | int, ...] | list[str | int], msg: str, type: str = "value_error"
    ):
        super().__init__(loc=list(loc), msg=msg, type=type)


class InvalidInput(DomainError):
    """422 naming each offending field, in the same shape as FastAPI's request validation."""

    status_code = 422
    error_type = "validation_error"

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors))
        self.errors = errors

    @classmethod
    def single(cls, loc: tuple[str | int, ...], msg: str) -> InvalidInput:
        return cls([FieldError(loc, msg)])


class Unauthorized(DomainError):
    """The caller did not say who they are (or said it with a bad credential)."""

    status_code = 401
    error_type = "unauthorized"


class Forbidden(DomainError):
    status_code = 403
    error_type = "forbidden"


class Gone(DomainError):
    status_code = 410
    error_type = "gone"


class PayloadTooLarge(DomainError):
    status_code = 413
    error_type = "payload_too_large"


class UnsupportedMediaType(DomainError):
    status_code = 415
    error_type = "unsupported_media_type"


class TooManyRequests(DomainError):
    """Too many attempts for now; ``retry_after`` says in how many seconds to try again."""

    status_code = 429
    error_type = "too_many_requests"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message, retry_after=retry_after)
        self.retry_after = retry_after


class ServiceUnavailable(DomainError):
    """Another service did not answer (or answered with its own failure)."""

    status_code = 503
    error_type = "service_unavailable"
