"""The local API (`make run`) as a real process on a free loopback port, shared by the e2e tests."""

import os
import subprocess
import sys
import threading
import time

import httpx
import pytest

from infra import runtime
from infra.local_aws import free_port


@pytest.fixture(scope="session")
def local_api():
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k not in ("TABLE_NAME",)}
    env |= {"PORT": str(port), "GOOGLE_AI_STUDIO_API_KEY": "AIza-local-e2e-platform-key-000000"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "infra.local_api"],
        cwd=runtime.ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout or []), daemon=True)
    reader.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{base}/openapi.json", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail("local API did not start: " + "".join(lines))
    yield base, lines
    proc.terminate()
    proc.wait(timeout=10)


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
