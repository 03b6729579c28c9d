"""Domain errors. `modelconfig.api.envelope` maps each class to one HTTP status and error name; nothing here
knows about HTTP. Messages are shown to users: they never carry a key, a raw upstream body or internals."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every error a user may see, with a message fit to show them."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(DomainError):
    """The request is well-formed but asks for something the rules do not allow."""


class Unauthenticated(DomainError):
    """No usable identity."""


class AccessDenied(DomainError):
    """The user may not use what they asked for (no platform access and no key of theirs)."""


class NotFound(DomainError):
    """Nothing to act on."""


class NotAllowedMethod(DomainError):
    """The path exists, but not with this method."""

    def __init__(self, message: str, allowed: list[str]) -> None:
        super().__init__(message)
        self.allowed = allowed


class PreconditionFailed(DomainError):
    """An If-Match named a version of the data that is no longer the current one; nothing was written."""


class PayloadTooLarge(DomainError):
    """The request body is over the limit."""


class TooManyRequests(DomainError):
    """A per-user limit is spent for now; nothing was called or stored."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ServiceUnavailable(DomainError):
    """AWS kept failing after the SDK's retries, or a short lock could not be taken in time."""


class Conflict(ServiceUnavailable):
    """Another change of the same data is under way; retrying shortly succeeds."""


def describe(errors: list[Any]) -> str:
    """One readable line from pydantic validation errors: `field: problem; field: problem`."""
    parts = []
    for e in errors[:10]:
        if e.get("type") == "json_invalid":
            reason = (e.get("ctx") or {}).get("error") if isinstance(e.get("ctx"), dict) else None
            parts.append(f"malformed JSON: {reason}" if reason else "malformed JSON")
            continue
        where = ".".join(str(p) for p in e.get("loc", ()) if p not in ("body", "path", "query"))
        if not where and e.get("type") == "missing":
            parts.append("a JSON object body is required")
            continue
        text = e.get("msg", "invalid")
        parts.append(f"{where}: {text}" if where else text)
    return "; ".join(parts) or "invalid request"
