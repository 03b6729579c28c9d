"""The one clock of the domain: UTC, ISO-8601 with milliseconds and a `Z`, as every stored and returned time."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def now() -> float:
    """Seconds since the epoch (a function, so tests can move time)."""
    return time.time()


def iso(seconds: float) -> str:
    """A time as the domain writes it: UTC, milliseconds, `Z` (so stored times sort as they compare)."""
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def now_iso() -> str:
    return iso(now())
