"""The integration tier's fixtures: a real loopback provider server for the tests that reach a provider, AWS
under moto with the template's table, the API through the template, and worker processes on one moto server."""

import contextlib
import json
import os
import uuid
from collections.abc import Iterator

import pytest

from infra import runtime
from tests.provider_server import ProviderServer
from tests.support.api import Api
from tests.support.aws import Aws, attribute_handlers, mocked_aws, reset_caches
from tests.support.constants import PLATFORM_KEYS, PLATFORM_SECRET
from tests.support.network import network  # noqa: F401  (the fake network fixture: no traffic off loopback)
from tests.support.workers import SharedAws


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
    from modelconfig.providers import client

    seen: list[float] = []
    monkeypatch.setattr(client, "_sleep", seen.append)
    return seen


# ---- AWS under moto, the API through the template, and concurrent clients ----------------------------------


@pytest.fixture(scope="session", autouse=True)
def _calls_attributed_to_functions() -> None:
    attribute_handlers()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    with mocked_aws(monkeypatch, MODEL_TEST_TIMEOUT_SECONDS="2") as counted:
        yield counted


@pytest.fixture
def api(aws: Aws) -> Api:
    return Api("user-a")


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    from infra.local_aws import AtomicMotoServer

    server = AtomicMotoServer()
    server.start()
    yield server.endpoint
    server.stop()


@pytest.fixture
def shared_aws(moto_server: str) -> SharedAws:
    table = f"configs-{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    env |= {
        "AWS_ENDPOINT_URL": moto_server,
        "TABLE_NAME": table,
        "AUDIT_TABLE_NAME": f"audit-{table}",
        "USER_SECRET_PREFIX": f"model-config/{table}/",
        "PLATFORM_KEYS_SECRET_ID": PLATFORM_SECRET,
        "PLATFORM_MODEL_PROVIDERS": "google-ai-studio",
        "POWERTOOLS_LOG_LEVEL": "ERROR",
        "KEY_WRITE_LIMIT_PER_MINUTE": "100000",  # twenty clients of one user: the limit is tested on its own
    }
    shared = SharedAws(moto_server, table, env)
    runtime.create_table(shared.client("dynamodb"), table)
    runtime.create_table(shared.client("dynamodb"), f"audit-{table}", "AuditTable")
    sm = shared.client("secretsmanager")
    with contextlib.suppress(sm.exceptions.ResourceExistsException):
        sm.create_secret(Name=PLATFORM_SECRET, SecretString=json.dumps(PLATFORM_KEYS))
    return shared
