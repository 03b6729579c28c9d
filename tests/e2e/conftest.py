"""The local API (`make run`) as a real process on a free loopback port, shared by the e2e tests."""

import os
import time

import httpx
import pytest

from infra import runtime
from infra.local_api import running
from infra.provider_standin import BASE_URL_VARS, KEY_VARS

PROVIDER_VARS = (*KEY_VARS.values(), *BASE_URL_VARS.values())


def local_env(data) -> dict[str, str]:
    """`make run`'s environment on a fresh machine: no AWS, no provider key or URL (so the provider stand-in
    answers), and its data in `data` rather than the developer's .local/."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("AWS_") and k not in (*runtime.TABLES.values(), *PROVIDER_VARS)
    }
    return env | {"LOCAL_DATA": str(data)}


@pytest.fixture(scope="session")
def local_api(tmp_path_factory):
    # HOST is set to a wildcard to show it moves nothing: only --host on the command line does.
    env = local_env(tmp_path_factory.mktemp("local") / "state.json") | {"HOST": "0.0.0.0"}
    with running(env) as (base, lines):
        yield base, lines


@pytest.fixture
def server(local_api):
    base, _lines = local_api
    with httpx.Client(base_url=base, timeout=10) as client:
        yield client


@pytest.fixture
def server_output(local_api):
    _base, lines = local_api

    def output() -> str:
        time.sleep(0.2)  # the reader thread trails the server by a moment
        return "".join(lines)

    return output
