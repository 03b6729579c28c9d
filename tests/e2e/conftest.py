"""The local API (`make run`) as a real process on a free loopback port, shared by the e2e tests."""

import os
import time

import httpx
import pytest

from infra.local_api import running


@pytest.fixture(scope="session")
def local_api():
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "TABLE_NAME"}
    # HOST is set to a wildcard to show it moves nothing: only --host on the command line does.
    env |= {"GOOGLE_AI_STUDIO_API_KEY": "AIza-local-e2e-platform-key-000000", "HOST": "0.0.0.0"}
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
