"""The fixtures every tier shares, and each test's tier from its folder. The shared code lives in
tests/support/, one job a module; nothing here acts at import: the environment is isolated in
pytest_configure, before any test module loads."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable
from typing import Any

import pytest

from tests.support import environment


def pytest_configure(config: pytest.Config) -> None:
    environment.isolate()


@pytest.fixture(scope="session", autouse=True)
def _logs_to_this_sessions_stdout() -> None:
    """Powertools' handler keeps the stdout it was made with. A second pytest session in the same process
    (mutmut runs several) would log to the first one's closed capture, and logging would print its traceback."""
    from modelconfig.observability import logger

    logger.registered_handler.stream = sys.stdout  # type: ignore[attr-defined]  (setStream would flush the closed one)


@pytest.fixture
def log_lines(monkeypatch: pytest.MonkeyPatch) -> Callable[[], list[dict[str, Any]]]:
    """The service's JSON log lines written from now on in this test."""
    from modelconfig.observability import logger

    stream = io.StringIO()
    monkeypatch.setattr(logger.registered_handler, "stream", stream)
    return lambda: [json.loads(line) for line in stream.getvalue().splitlines()]


TIERS = ("unit", "integration", "e2e")


DRIFT_TEST = "test_iam_drift.py"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Each test is marked by its folder: `make unit`, `make integration` and `make e2e` select on it.

    The IAM drift test judges what every integration test did, so it runs last, and only when every
    integration test runs (a partial run would leave grants looking unused)."""
    for item in items:
        tier = item.path.parent.name
        if tier not in TIERS:
            raise pytest.UsageError(f"{item.nodeid}: a test lives under tests/unit, tests/integration or tests/e2e")
        item.add_marker(tier)
    drift = [item for item in items if item.path.name == DRIFT_TEST]
    if not drift:
        return
    others = [item for item in items if item.path.name != DRIFT_TEST]
    narrowed = config.option.keyword or config.option.deselect or any("::" in arg for arg in config.args)
    if not narrowed and config.option.markexpr in ("", "integration"):
        items[:] = others + drift
    else:
        items[:] = others
        config.hook.pytest_deselected(items=drift)
