"""The one error path: every error answer, from a handler or from the local API, is an `ErrorEnvelope`
rendered here, with its status and headers taken from the domain error's class."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any, NamedTuple

from modelconfig.errors import (
    AccessDenied,
    DomainError,
    InvalidInput,
    NotAllowedMethod,
    NotFound,
    PayloadTooLarge,
    PreconditionFailed,
    ServiceUnavailable,
    TooManyRequests,
    Unauthenticated,
)
from modelconfig.schemas import ErrorBody, ErrorEnvelope

JSON = "application/json"

STATUS: dict[type[DomainError], tuple[HTTPStatus, str]] = {
    InvalidInput: (HTTPStatus.BAD_REQUEST, "ValidationError"),
    Unauthenticated: (HTTPStatus.UNAUTHORIZED, "Unauthorized"),
    AccessDenied: (HTTPStatus.FORBIDDEN, "Forbidden"),
    NotFound: (HTTPStatus.NOT_FOUND, "NotFound"),
    NotAllowedMethod: (HTTPStatus.METHOD_NOT_ALLOWED, "MethodNotAllowed"),
    PreconditionFailed: (HTTPStatus.PRECONDITION_FAILED, "PreconditionFailed"),
    PayloadTooLarge: (HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "PayloadTooLarge"),
    TooManyRequests: (HTTPStatus.TOO_MANY_REQUESTS, "TooManyRequests"),
    ServiceUnavailable: (HTTPStatus.SERVICE_UNAVAILABLE, "ServiceUnavailable"),
}
DESCRIPTIONS = {
    400: "Invalid input: malformed JSON, wrong types, out-of-range values, unknown ids, or a model not allowed",
    401: "No identity (JWT `sub` claim)",
    403: "The model's provider is neither platform-enabled nor covered by a key of yours",
    404: "Nothing to act on",
    412: "If-Match named a version that is no longer the current one; nothing was written",
    413: "Body over 1 MB",
    429: "A per-user limit is spent; `Retry-After` gives the seconds to wait, and nothing was called or stored",
    500: "An unexpected fault; the message carries the request id",
    503: "AWS kept failing after retries; retry shortly",
}


class Rendered(NamedTuple):
    status: int
    headers: dict[str, str]
    body: str


def render(status: int, name: str, message: str, headers: dict[str, str] | None = None) -> Rendered:
    envelope = ErrorEnvelope(error=ErrorBody(name=name, message=message), message=message)
    return Rendered(int(status), {"Content-Type": JSON, **(headers or {})}, envelope.model_dump_json())


def internal(request_id: str) -> Rendered:
    return render(HTTPStatus.INTERNAL_SERVER_ERROR, "InternalError", f"internal error (request id {request_id})")


def _named(exc: DomainError, request_id: str) -> tuple[HTTPStatus, str, str]:
    """The status, error name and message of a domain error. A 503's message names the request id, so a user
    can report it."""
    status, name = next(v for k, v in STATUS.items() if isinstance(exc, k))
    message = f"{exc.message} (request id {request_id})" if isinstance(exc, ServiceUnavailable) else exc.message
    return status, name, message


def from_domain(exc: DomainError, request_id: str) -> Rendered:
    """The HTTP answer to a domain error."""
    status, name, message = _named(exc, request_id)
    headers: dict[str, str] = {}
    if isinstance(exc, TooManyRequests):
        headers["Retry-After"] = str(exc.retry_after)
    elif isinstance(exc, NotAllowedMethod):
        headers["Allow"] = ", ".join(exc.allowed)
    return render(status, name, message, headers)


def invoked(exc: DomainError, request_id: str) -> dict[str, Any]:
    """The answer of a directly invoked function (resolve) to a domain error: the same names and messages."""
    _status, name, message = _named(exc, request_id)
    return {"error": {"name": name, "message": message}}
