"""The one clock of the domain: UTC, ISO-8601 with milliseconds and a `Z`, as every stored and returned time."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def now() -> float:
    """Seconds since the epoch (a function, so tests can move time)."""
    return time.time()


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def now_iso() -> str:
    return iso(now())


def parse_iso(text: str) -> float:
    """Seconds since the epoch of an ISO-8601 date-time with a time zone; ValueError otherwise."""
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise ValueError("a time zone is required")
    return parsed.timestamp()
