"""A real loopback provider server for the tests that reach a provider (the model test, the limits)."""

import asyncio

import pytest

from tests.conftest import reset_caches
from tests.provider_server import ProviderServer


@pytest.fixture(scope="session")
def server():
    s = ProviderServer()
    yield s
    s.stop()


@pytest.fixture(autouse=True)
def _providers_on_loopback(server, monkeypatch):
    """Every integration test's provider calls and key checks go to the loopback server, never the network:
    a key PUT without its own `provider` fixture is checked (and accepted) there too."""
    server.reset()
    for name, url in server.base_urls().items():
        monkeypatch.setenv(name, url)


@pytest.fixture
def provider(server, aws, monkeypatch):
    server.reset()
    for name, url in server.base_urls().items():
        monkeypatch.setenv(name, url)
    reset_caches()
    return server


@pytest.fixture
def waits(monkeypatch) -> list[float]:
    """The waits the provider client makes before a retry, recorded and skipped.

    Tests assert what was waited for, never how long a run took: wall-clock bounds fail on a busy machine.
    """
    seen: list[float] = []
    real = asyncio.sleep

    async def record(delay: float, *args, **kwargs):
        seen.append(delay)
        return await real(0)

    monkeypatch.setattr(asyncio, "sleep", record)
    return seen
