"""Per-user limits (SPEC section 10): what each limited request counts against, and the 429 when it is spent.

Checked after validation and before any provider call or secret write, so a refused request has called and
stored nothing, and a request that would call nothing (a `disabled` model, no key) counts against nothing.
"""

from __future__ import annotations

from modelconfig import clock
from modelconfig.access import KeySource
from modelconfig.errors import TooManyRequests
from modelconfig.records import Counter
from modelconfig.settings import settings
from modelconfig.storage import counters

MINUTE = 60
DAY = 86_400
_DESCRIPTION = {
    "test": "model tests per minute",
    "platform-test": "model tests on the platform's keys per day (UTC)",
    "key-write": "key changes per minute",
}


def _take(user_id: str, limited: list[Counter]) -> None:
    spent = counters.take(user_id, limited, clock.now())
    if spent is not None:
        c = spent.counter
        raise TooManyRequests(
            f"limit of {c.limit} {_DESCRIPTION[c.name]} reached; retry in {spent.retry_after}s", spent.retry_after
        )


def count_test(user_id: str, source: KeySource) -> None:
    """One model test that is about to call a provider with a key of `source`."""
    s = settings()
    limited = [Counter("test", s.test_limit_per_minute, MINUTE)]
    if source == "platform":
        limited.append(Counter("platform-test", s.platform_test_limit_per_day, DAY))
    _take(user_id, limited)


def count_key_write(user_id: str) -> None:
    """One PUT or DELETE of a key, about to write the user's secret."""
    _take(user_id, [Counter("key-write", settings().key_write_limit_per_minute, MINUTE)])
