"""Sample events for `sam local invoke -e` (SPEC section 1) and the OpenAPI document (section 9)."""

import json
import os
import subprocess
import sys

import pytest

from infra import openapi, runtime

EVENTS = runtime.ROOT / "infra" / "events"


def samples():
    return sorted(EVENTS.glob("*.json"))


def logical_id(path):
    return path.stem.split("-", 1)[0]


def test_every_function_has_a_sample_and_every_sample_a_function():
    functions = {fn.logical_id for fn in runtime.functions()}
    named = {logical_id(p) for p in samples()}
    assert named == functions


@pytest.mark.parametrize("sample", samples(), ids=lambda p: p.name)
def test_every_sample_succeeds_in_process(aws, sample):
    fn = runtime.function(logical_id(sample))
    event = json.loads(sample.read_text())
    result = runtime.handler(fn)(event, runtime.Context(fn))
    if fn.routes:
        status, body = runtime.parse_response(result)
        assert event["requestContext"]["authorizer"]["jwt"]["claims"]["sub"]
        allowed = {200, 404} if fn.routes[0].method == "DELETE" else {200}
        assert status in allowed, body
    else:
        assert result["complete"] is True


def invoke(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    env["POWERTOOLS_LOG_LEVEL"] = "INFO"
    return subprocess.run(
        [sys.executable, "-m", "infra.invoke", *args],
        cwd=runtime.ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_make_invoke_runs_a_function_without_docker():
    out = invoke("PutConfigFunction", "infra/events/PutConfigFunction.json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)  # the answer alone on stdout: `make invoke ... | jq` works
    assert result["statusCode"] == 200
    assert json.loads(result["body"])["data"]["config"]["modelName"] == "disabled"
    assert '"message":"request"' in out.stderr  # the function's log lines go to stderr


def test_make_invoke_says_which_functions_exist():
    out = invoke("PutConfig")
    assert out.returncode == 2 and out.stdout == ""
    assert "no function 'PutConfig' in template.yaml; one of: ListConfigsFunction," in out.stderr
    assert "Traceback" not in out.stderr
    missing = invoke("PutConfigFunction", "infra/events/nope.json")
    assert missing.returncode == 2 and "cannot read the event infra/events/nope.json" in missing.stderr


def test_committed_openapi_document_is_in_sync():
    committed = (runtime.ROOT / "docs" / "openapi.json").read_text()
    assert committed == openapi.text(), "run `make openapi` and commit docs/openapi.json"


def test_openapi_has_every_route_with_bounds_and_enums():
    doc = openapi.document()
    assert doc["openapi"].startswith("3.")
    documented = {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}
    assert documented == {(r.path, r.method) for r, _ in runtime.routes()}
    schemas = doc["components"]["schemas"]
    update = schemas["UpdateBody"]["properties"]
    max_tokens = update["maxTokens"]["anyOf"][0]
    assert (max_tokens["minimum"], max_tokens["maximum"]) == (1, 200000)
    temperature = update["temperature"]["anyOf"][0]
    assert (temperature["minimum"], temperature["maximum"]) == (0, 2)
    assert "disabled" in update["modelName"]["enum"] and len(update["modelName"]["enum"]) == 25
    assert update["modelName"]["maxLength"] == 100
    assert len(schemas["AgentActionName"]["enum"]) == 13
    assert schemas["ByokProvider"]["enum"] == ["openai", "anthropic", "google-ai-studio", "grok"]
    assert schemas["TestBody"]["properties"]["testPrompt"]["anyOf"][0]["maxLength"] == 4000
    for ops in doc["paths"].values():
        for op in ops.values():
            assert "422" not in op["responses"]
            assert {"200", "400", "401", "500", "503"} <= set(op["responses"])
    assert doc["components"]["securitySchemes"]["jwt"]["scheme"] == "bearer"
