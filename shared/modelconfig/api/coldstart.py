"""The last step of every function's import: the cold start's objects set aside, then the handler wrapped."""

from __future__ import annotations

import functools
import gc
import random
import sys
from collections.abc import Callable
from typing import Any

from modelconfig import instance
from modelconfig.observability import traced


def entry_point(handler: Callable[..., Any], *, rest_through_first_request: bool = True) -> Callable[..., Any]:
    """The function's `lambda_handler`, made once its module's imports are done.

    What a cold start builds lives as long as the sandbox: the imports (Powertools, pydantic, the catalog, the
    routes), then, on the first request, the SDK's client and service model. The collector rests until the
    first answer (on Lambda it has rested since the layer's import, see `modelconfig/__init__.py`); then
    `gc.freeze()` moves all of it to the permanent generation, so no later collection walks it again.
    Measured: a full collection of about 30 ms and 10 to 30 ms of young ones, gone from every cold start.

    A function whose first request may run for minutes (the sweep) passes `rest_through_first_request=False`:
    its collector runs again from the start of that request."""
    gc.freeze()
    _register_snapstart_hooks()
    serve = traced(handler)
    if not rest_through_first_request:
        gc.enable()
        return serve
    first = True

    @functools.wraps(handler)
    def lambda_handler(event: Any, context: Any) -> Any:
        nonlocal first
        if not first:
            return serve(event, context)
        first = False
        gc.disable()
        try:
            return serve(event, context)
        finally:
            gc.freeze()
            gc.enable()

    return lambda_handler


def _register_snapstart_hooks() -> None:
    """With SnapStart on (the template's `SnapStart` parameter), Lambda snapshots an instance once its init is
    done and starts later instances as copies of that memory. Lambda's Python runtimes ship the registry the
    hooks go in; elsewhere (tests, `make run`) there is none, no snapshot, and nothing to register."""
    try:
        from snapshot_restore_py import (  # type: ignore[import-untyped]
            register_after_restore,
            register_before_snapshot,
        )
    except ImportError:
        return
    register_before_snapshot(before_snapshot)
    register_after_restore(after_restore)


def before_snapshot() -> None:
    """Nothing learnt from the outside world goes into the snapshot: an init makes no AWS or provider call, so
    this empties nothing today, and keeps it so. The SDK is imported and its session made, which every restored
    instance would otherwise pay for on its first request; no client is made, so none holds the snapshot's
    credentials or connections."""
    instance.forget()
    aws = sys.modules.get("modelconfig.storage.aws")  # imported by every function that calls AWS
    if aws is not None:
        aws.session()


def after_restore() -> None:
    """A restored instance is one of many copies of the same memory. It forgets what the copy holds (clients,
    connections, cached keys, host verdicts: `modelconfig.instance`) and draws a new seed for Python's `random`,
    whose sequence (the SDK's retry jitter) every copy would otherwise repeat. Ids come from `uuid4`, which reads
    the kernel's random source on each call, not a seeded state."""
    instance.forget()
    random.seed()
