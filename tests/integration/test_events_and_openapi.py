"""Sample events for `sam local invoke -e` (SPEC section 1) and the OpenAPI document (section 9)."""

import json
import os
import subprocess
import sys

import pytest

from infra import api_reference, openapi, runtime

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
    elif fn.logical_id == "ResolveFunction":
        assert set(result) == {"resolved"}, result
        assert len(result["resolved"]) == len(event.get("agentActions", [None]))
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


def test_make_invoke_runs_resolve_as_the_readme_shows():
    out = invoke("ResolveFunction", "infra/events/ResolveFunction-all-actions.json")
    assert out.returncode == 0, out.stderr
    resolved = json.loads(out.stdout)["resolved"]
    assert len(resolved) == 13
    assert set(resolved["blueprint"]) == {
        "config", "model", "provider", "baseUrl", "keySource", "apiKey", "error", "fallback", "providerOverride"
    }  # fmt: skip
    assert '"message":"resolved"' in out.stderr


def test_make_invoke_says_which_functions_exist():
    out = invoke("PutConfig")
    assert out.returncode == 2 and out.stdout == ""
    assert "no function 'PutConfig' in template.yaml; one of: ListConfigsFunction," in out.stderr
    assert "Traceback" not in out.stderr
    missing = invoke("PutConfigFunction", "infra/events/nope.json")
    assert missing.returncode == 2 and "cannot read the event infra/events/nope.json" in missing.stderr


def test_committed_openapi_document_and_api_reference_are_in_sync():
    committed = (runtime.ROOT / "docs" / "openapi.json").read_text()
    assert committed == openapi.text(), "run `make openapi` and commit docs/openapi.json"
    reference = (runtime.ROOT / "docs" / "api.md").read_text()
    assert reference == api_reference.text(), "run `make openapi` and commit docs/api.md"
    for path in json.loads(committed)["paths"]:
        assert f"`{path}`" in reference


def test_the_openapi_document_reads_well():
    doc = openapi.document()
    operations = [op for ops in doc["paths"].values() for op in ops.values()]
    assert sorted(op["operationId"] for op in operations) == [
        "deleteConfig", "deleteCustomProvider", "deleteKey", "exportMe", "getConfig", "getDefaults", "listAudit",
        "listByokProviders", "listConfigs", "listCustomProviders", "listKeys", "putConfig", "putCustomProvider",
        "putKey", "resetAllConfigs", "testConfig",
    ]  # fmt: skip
    assert {tag for op in operations for tag in op["tags"]} == {t["name"] for t in doc["tags"]} == {
        "accountability", "configs", "custom providers", "keys", "test"
    }  # fmt: skip
    schemas = doc["components"]["schemas"]
    text = json.dumps(doc)
    assert [n for n in schemas if f'"#/components/schemas/{n}"' not in text] == []  # no orphan schema
    titles = [f.get("title") for s in schemas.values() for f in s.get("properties", {}).values()]
    assert "testPrompt" in titles and "Testprompt" not in titles
    for body in ("UpdateBody", "TestBody", "KeyBody", "CustomProviderBody"):
        assert schemas[body]["examples"], body


def test_the_readme_and_docs_link_only_inside_the_repository():
    import re

    for doc in [runtime.ROOT / "README.md", *(runtime.ROOT / "docs").glob("*.md")]:
        for target in re.findall(r"\]\(([^)#]+)", doc.read_text()):
            if target.startswith(("http://", "https://")):
                continue
            assert (doc.parent / target).resolve().is_relative_to(runtime.ROOT), f"{doc.name} links to {target}"
            assert (doc.parent / target).exists(), f"{doc.name} links to a missing {target}"


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
    catalog_ids, custom_ids = update["modelName"]["anyOf"]
    assert "disabled" in catalog_ids["enum"] and len(catalog_ids["enum"]) == 25
    assert custom_ids["pattern"] == "^custom/[a-z0-9][a-z0-9-]{0,31}/"  # a model of the caller's custom provider
    assert update["modelName"]["maxLength"] == 240  # custom/<32-character name>/<200-character model>
    assert len(schemas["AgentActionName"]["enum"]) == 13
    assert schemas["ByokProvider"]["enum"] == ["openai", "anthropic", "google-ai-studio", "grok"]
    assert schemas["TestBody"]["properties"]["testPrompt"]["anyOf"][0]["maxLength"] == 4000
    for ops in doc["paths"].values():
        for op in ops.values():
            assert "422" not in op["responses"]
            assert {"200", "400", "401", "500", "503"} <= set(op["responses"])
    assert doc["components"]["securitySchemes"]["jwt"]["scheme"] == "bearer"


# vibesdk's web client (src/lib/api-client.ts) types the answers with these shapes; extra fields are fine,
# missing or retyped ones are not. Each field: the JSON types the TypeScript type admits, and whether it is
# required (`field?:` is optional: absent, never null, which the Compact models guarantee by leaving None out).
VIBESDK = {
    # UserModelConfig: the Drizzle row of user_model_configs (dates travel as ISO strings).
    "ConfigRow": {
        "id": ({"string"}, True),
        "userId": ({"string"}, True),
        "agentActionName": ({"string"}, True),
        "modelName": ({"string", "null"}, True),
        "maxTokens": ({"integer", "number", "null"}, True),
        "temperature": ({"number", "null"}, True),
        "reasoningEffort": ({"string", "null"}, True),
        "providerOverride": ({"string", "null"}, True),
        "fallbackModel": ({"string", "null"}, True),
        "isActive": ({"boolean", "null"}, True),
        "createdAt": ({"string", "null"}, True),
        "updatedAt": ({"string", "null"}, True),
    },
    # UserModelConfigWithMetadata: ModelConfig plus the override's metadata.
    "MergedConfig": {
        "name": ({"string"}, True),
        "reasoning_effort": ({"string"}, False),
        "max_tokens": ({"integer", "number"}, False),
        "temperature": ({"number"}, False),
        "fallbackModel": ({"string"}, False),
        "isUserOverride": ({"boolean"}, True),
        "userConfigId": ({"string"}, False),
    },
    "TestResult": {  # ModelTestResult
        "success": ({"boolean"}, True),
        "error": ({"string"}, False),
        "responsePreview": ({"string"}, False),
        "latencyMs": ({"integer", "number"}, True),
        "modelUsed": ({"string"}, True),
    },
    "ProviderStatus": {  # UserProviderStatus
        "provider": ({"string"}, True),
        "hasValidKey": ({"boolean"}, True),
        "keyPreview": ({"string"}, False),
    },
}
VIBESDK["KeyStatus"] = VIBESDK["ProviderStatus"]  # GET /api/byok-keys lists the same status, with more fields


def _types(schema: dict) -> set[str]:
    if "anyOf" in schema:
        return set().union(*(_types(s) for s in schema["anyOf"]))
    return {schema["type"]} if "type" in schema else set()


@pytest.mark.parametrize("name", sorted(VIBESDK))
def test_the_openapi_document_still_satisfies_vibesdks_client_types(name):
    schema = openapi.document()["components"]["schemas"][name]
    for field, (admitted, required) in VIBESDK[name].items():
        assert field in schema["properties"], f"{name}.{field} is missing"
        ours = _types(schema["properties"][field])
        if not required:
            ours.discard("null")  # a Compact model leaves None out: the field is absent, never null
        assert ours and ours <= admitted, f"{name}.{field}: {ours} is not within {admitted}"
        assert (field in schema.get("required", [])) >= required, f"{name}.{field} must be required"


def _json_type(value: object) -> str:
    return {bool: "boolean", int: "integer", float: "number", str: "string", type(None): "null"}[type(value)]


def test_real_answers_satisfy_vibesdks_client_types(api, aws, provider):
    """The same shapes, checked on real answers: no optional field ever comes as null."""

    def check(name: str, value: dict) -> None:
        for field, (admitted, required) in VIBESDK[name].items():
            if field not in value:
                assert not required, f"{name}.{field} is missing from {value}"
                continue
            assert _json_type(value[field]) in admitted | ({"number"} if "integer" in admitted else set()), (
                f"{name}.{field} = {value[field]!r}"
            )

    api.put("/api/byok-keys/anthropic", {"apiKey": "sk-ant-api03-abcdefghij0123456789ABCDEFGHIJ"})
    check(
        "ConfigRow", api.put("/api/model-configs/blueprint", {"modelName": "anthropic/claude-opus-4-5"}).data["config"]
    )
    for merged in api.get("/api/model-configs").data["configs"].values():
        check("MergedConfig", merged)
    check("MergedConfig", api.get("/api/model-configs/blueprint").data["config"])
    check("TestResult", api.post("/api/model-configs/test", {"agentActionName": "blueprint"}).data["testResult"])
    check("TestResult", api.post("/api/model-configs/test", {"agentActionName": "fastCodeFixer"}).data["testResult"])
    for status in api.get("/api/model-configs/byok-providers").data["providers"]:
        check("ProviderStatus", status)
    for status in api.get("/api/byok-keys").data["providers"]:
        check("KeyStatus", status)
