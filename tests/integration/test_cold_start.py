"""What a cold start loads. Each function is imported in a fresh process from its file, as Lambda does, and
serves its sample event against the moto server. `make bench` times this; these are the properties its
figures rest on, checked on every run."""

import json
import os
import subprocess
import sys

import pytest

from infra import runtime

FUNCTIONS = runtime.functions()


REFUSED = "http://127.0.0.1:9"  # should a sample ever call a provider: a refused connection, not the internet


def probe(fn: runtime.Function, env: dict[str, str], python: str = sys.executable) -> dict:
    """Import the function from its file in a fresh process and serve its first sample event (tests/cold_probe)."""
    event = sorted((runtime.ROOT / "infra" / "events").glob(f"{fn.logical_id}*.json"))[0]
    handler = fn.handler.rsplit(".", 1)[1]
    env = env | {"AWS_LAMBDA_FUNCTION_NAME": fn.logical_id}  # as Lambda sets it
    env |= {p: REFUSED for p in ("OPENAI_BASE_URL", "ANTHROPIC_BASE_URL", "GOOGLE_AI_STUDIO_BASE_URL", "GROK_BASE_URL")}
    proc = subprocess.run(
        [python, "-m", "tests.cold_probe", str(fn.source), handler, str(event)],
        cwd=runtime.ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("PROBE ")]
    assert proc.returncode == 0 and lines, proc.stderr[-3000:]
    return json.loads(lines[0][len("PROBE ") :])


@pytest.mark.parametrize("fn", FUNCTIONS, ids=lambda fn: fn.logical_id)
def test_a_cold_start_loads_only_what_its_request_needs(shared_aws, fn):
    found = probe(fn, shared_aws.env | {"PYTHONPATH": str(runtime.SHARED), "POWERTOOLS_TRACE_DISABLED": "true"})
    assert found["status"] < 500
    # No SDK, no HTTP client and no X-Ray SDK at import. The collector rests from the layer's import (the
    # function's first) to the first answer, then runs again with the cold start's objects frozen.
    assert found["import"] == []
    assert found["collections"] <= 3  # `from typing import Annotated` may come first; unpaused, about 80 ran
    assert found["frozen"] > 10_000  # about 39,000 objects
    assert found["enabled"] is True
    # The first request loads botocore's session and client only if it calls AWS, never boto3's extra layers,
    # and never the X-Ray SDK while tracing is off.
    expected = {"botocore.session", "botocore.client"} if fn.logical_id != "GetDefaultsFunction" else set()
    if fn.logical_id == "PutCustomProviderFunction":
        expected.add("httpx")  # the egress guard reads the URL with the library that will send to it
    assert set(found["first"]) == expected  # the model test's sample is a switched-off action: no provider call


@pytest.mark.parametrize("fn", FUNCTIONS, ids=lambda fn: fn.logical_id)
def test_with_tracing_on_each_function_serves_from_the_layers_own_packages(shared_aws, fn):
    """Tracing=Active as deployed: the layer's requirements installed alone (not the dev virtualenv, where moto
    brings the X-Ray SDK along), the runtime's boto3, and Powertools' Tracer on."""
    from benchmarks.run import lambda_sys_path

    python, path = lambda_sys_path()
    env = shared_aws.env | {
        "PYTHONPATH": os.pathsep.join((path, str(runtime.ROOT))),
        "POWERTOOLS_TRACE_DISABLED": "false",
        "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR",  # no X-Ray daemon here: segments go nowhere, quietly
    }
    found = probe(fn, env, python)
    assert found["status"] < 500
    assert "aws_xray_sdk" in found["import"]  # the Tracer is made at import when tracing is on
