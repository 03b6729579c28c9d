"""A real loopback provider server for the tests that reach a provider (the model test, the limits)."""

import pytest

from tests.conftest import reset_caches
from tests.provider_server import ProviderServer


@pytest.fixture(scope="session")
def server():
    s = ProviderServer()
    yield s
    s.stop()


@pytest.fixture
def provider(server, aws, monkeypatch):
    server.reset()
    for name, url in server.base_urls().items():
        monkeypatch.setenv(name, url)
    reset_caches()
    return server
