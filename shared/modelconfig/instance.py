"""What a running instance learns from the outside world, and how it forgets it.

An instance keeps what it read or opened for as long as it lives: the SDK's clients and their connections, the
platform's keys, resolve's cache of users' keys, the egress guard's verdicts on hosts, the provider clients and
their connections. Each module that keeps such a thing registers how
to empty it with `@keeps`; `forget()` empties all of them. A module not yet imported has kept nothing, so
forgetting imports nothing.

Two callers: a SnapStart instance, around its snapshot (`api.coldstart`), so that what one instance learnt is
never restored into another; and the tests, which start each case as a fresh instance.
"""

from __future__ import annotations

from collections.abc import Callable

_forgetters: list[Callable[[], None]] = []


def keeps[F: Callable[[], None]](reset: F) -> F:
    """Register `reset` as the way to empty what its module keeps for the instance's life."""
    _forgetters.append(reset)
    return reset


def forget() -> None:
    """Empty everything the instance has kept: its next request starts as a fresh instance's first would."""
    for reset in _forgetters:
        reset()
