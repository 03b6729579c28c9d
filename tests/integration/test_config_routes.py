"""The model-config routes end to end: template route → v2 event → real handler → moto (SPEC sections 2-4, 8)."""

import json
import uuid

import pytest

from infra import runtime
from modelconfig.catalog import CATALOG
from modelconfig.storage import aws as aws_clients
from tests.support.api import Api
from tests.support.constants import FLASH, OPUS, PRO
from tests.support.faults import cancelled, fail

LITE = "google-ai-studio/gemini-2.5-flash-lite"


def config_items(aws):
    return [i for i in aws.items() if i["sk"]["S"].startswith("CONFIG#")]


# ---- defaults -----------------------------------------------------------------------------------------


def test_defaults_lists_every_action_agent_and_model_without_any_aws_call(api, aws):
    calls = aws.count_calls()
    data = api.get("/api/model-configs/defaults").data
    assert calls == {}
    assert set(data["defaults"]) == set(CATALOG.actions)
    assert data["defaults"]["templateSelection"] == {
        "name": LITE,
        "max_tokens": 2000,
        "temperature": 0.6,
        "fallbackModel": "google-ai-studio/gemini-2.5-flash-lite-latest",
    }
    agents = {a["key"]: a for a in data["agents"]}
    assert agents["blueprint"]["constraint"] is None
    assert agents["fastCodeFixer"]["constraint"] == {"enabled": True, "allowedModels": ["disabled"]}
    assert agents["blueprint"]["description"]
    models = {m["id"]: m for m in data["models"]}
    assert models["disabled"] == {
        "id": "disabled",
        "name": "Disabled",
        "provider": None,
        "size": "lite",
        "contextSize": 0,
    }
    assert models[OPUS]["provider"] == "anthropic"
    assert data["message"]


# ---- list and get -------------------------------------------------------------------------------------


def test_list_merges_overrides_in_one_query(api, aws):
    assert api.put("/api/model-configs/blueprint", {"modelName": PRO, "maxTokens": 1000}).status == 200
    calls = aws.count_calls()
    data = api.get("/api/model-configs").data
    assert calls == {"dynamodb.Query": 1}
    assert set(data["configs"]) == set(CATALOG.actions) == set(data["defaults"])
    blueprint = data["configs"]["blueprint"]
    assert blueprint["name"] == PRO
    assert blueprint["max_tokens"] == 1000
    assert blueprint["reasoning_effort"] == "high"
    assert blueprint["isUserOverride"] is True
    assert blueprint["userConfigId"]
    assert data["configs"]["deepDebugger"]["isUserOverride"] is False


def test_get_one_config_in_one_read(api, aws):
    calls = aws.count_calls()
    data = api.get("/api/model-configs/deepDebugger").data
    assert calls == {"dynamodb.Query": 1}  # the override and the key status it depends on
    assert data["config"]["isUserOverride"] is False
    assert data["defaultConfig"]["name"] == "google-ai-studio/gemini-3-flash-preview"
    assert data["config"] == data["defaultConfig"] | {"isUserOverride": False}


def test_stored_model_that_left_the_catalog_reads_as_the_default(api, aws):
    api.put("/api/model-configs/blueprint", {"modelName": PRO, "fallbackModel": FLASH})
    aws.dynamodb.update_item(
        TableName=aws.table,
        Key={"pk": {"S": "USER#user-a"}, "sk": {"S": "CONFIG#blueprint"}},
        UpdateExpression="SET fallbackModel = :gone",
        ExpressionAttributeValues={":gone": {"S": "openai/gpt-3-retired"}},
    )
    config = api.get("/api/model-configs/blueprint").data["config"]
    assert config["name"] == PRO
    assert config["fallbackModel"] == "google-ai-studio/gemini-2.5-pro"


# ---- put ----------------------------------------------------------------------------------------------


def test_put_returns_the_row_and_keeps_id_and_created_at(api, aws):
    calls = aws.count_calls()
    first = api.put(
        "/api/model-configs/blueprint",
        {"modelName": PRO, "maxTokens": 1234, "temperature": 0.7, "reasoningEffort": "medium", "fallbackModel": FLASH},
    ).data["config"]
    # The override it replaces and the key status in one Query, then the write and its audit entry in one
    # transaction (SPEC section 12).
    assert calls == {"dynamodb.Query": 1, "dynamodb.TransactWriteItems": 1}
    assert first["userId"] == "user-a"
    assert first["agentActionName"] == "blueprint"
    assert (first["modelName"], first["maxTokens"], first["temperature"]) == (PRO, 1234, 0.7)
    assert (first["reasoningEffort"], first["fallbackModel"], first["isActive"]) == ("medium", FLASH, True)
    assert first["createdAt"].endswith("Z") and first["createdAt"] == first["updatedAt"]
    assert uuid.UUID(first["id"]).version == 4

    second = api.put("/api/model-configs/blueprint", {"modelName": FLASH}).data["config"]
    assert second["id"] == first["id"]
    assert second["createdAt"] == first["createdAt"]
    assert second["updatedAt"] >= first["updatedAt"]
    assert (second["maxTokens"], second["temperature"], second["reasoningEffort"], second["fallbackModel"]) == (
        None,
        None,
        None,
        None,
    )
    assert len(config_items(aws)) == 1
    other = api.put("/api/model-configs/deepDebugger", {"modelName": PRO}).data["config"]
    assert other["id"] != first["id"]  # one id per override


def test_put_ignores_unknown_fields_and_never_stores_them(api, aws):
    body = {"modelName": PRO, "isUserOverride": False, "userConfigId": "x", "userId": "victim", "evil": 1}
    row = api.put("/api/model-configs/blueprint", body).data["config"]
    assert row["userId"] == "user-a"
    (item,) = config_items(aws)
    assert {"userConfigId", "isUserOverride", "evil"}.isdisjoint(item)
    assert item["pk"]["S"] == "USER#user-a"


def test_model_not_allowed_for_action_lists_the_allowed_models(api, aws):
    reply = api.put("/api/model-configs/templateSelection", {"modelName": PRO})
    assert reply.status == 400
    assert reply.error["name"] == "ValidationError"
    assert "not allowed" in reply.error["message"]
    assert LITE in reply.error["message"]
    fallback = api.put("/api/model-configs/fastCodeFixer", {"modelName": "disabled", "fallbackModel": PRO})
    assert fallback.status == 400
    assert "fallback" in fallback.error["message"] and "not allowed" in fallback.error["message"]
    assert config_items(aws) == []


def test_provider_without_platform_or_user_key_is_403_naming_it(api, aws):
    calls = aws.count_calls()
    reply = api.put("/api/model-configs/blueprint", {"modelName": OPUS})
    assert reply.status == 403
    assert reply.error["name"] == "Forbidden"
    assert reply.error["message"] == (
        "provider 'anthropic' is not enabled on this platform and you have no API key for it; "
        "add one with PUT /api/byok-keys/anthropic"
    )
    assert calls == {"dynamodb.Query": 1}  # the key status read, and no write
    fallback = api.put("/api/model-configs/blueprint", {"modelName": PRO, "fallbackModel": "grok/grok-4-fast"})
    assert fallback.status == 403
    assert fallback.error["message"] == (
        "provider 'grok' is not enabled on this platform and you have no API key for it; "
        "add one with PUT /api/byok-keys/grok"
    )
    vertex = api.put("/api/model-configs/blueprint", {"modelName": "google-vertex-ai/openai/gpt-oss-120b-maas"})
    assert vertex.status == 403
    assert (
        vertex.error["message"] == "provider 'google-vertex-ai' is not enabled on this platform and takes no user keys"
    )
    assert config_items(aws) == []


def test_disabled_needs_no_key(api):
    assert api.put("/api/model-configs/fastCodeFixer", {"modelName": "disabled"}).status == 200


def test_order_of_checks_identity_then_body_then_constraint_then_access(api):
    assert Api(None).put("/api/model-configs/blueprint", raw_body="{not json").status == 401
    assert api.put("/api/model-configs/templateSelection", {"modelName": OPUS, "maxTokens": 0}).status == 400
    constraint = api.put("/api/model-configs/templateSelection", {"modelName": OPUS})
    assert constraint.status == 400
    assert constraint.error["message"] == (
        f"model '{OPUS}' is not allowed for templateSelection; allowed models: disabled, "
        "google-ai-studio/gemini-2.5-flash-lite, google-ai-studio/gemini-2.5-flash-lite-latest, openai/gpt-5-mini, "
        "grok/grok-code-fast-1, grok/grok-4-fast, grok/grok-4-1-fast-reasoning, grok/grok-4-1-fast-non-reasoning, "
        "google-vertex-ai/openai/gpt-oss-120b-maas (platform only), "
        "google-vertex-ai/moonshotai/kimi-k2-thinking-maas (platform only), "
        "google-vertex-ai/qwen/qwen3-coder-480b-a35b-instruct-maas (platform only)"  # no user key unlocks them
    )
    assert api.put("/api/model-configs/blueprint", {"modelName": OPUS}).status == 403


def test_platform_providers_default_to_the_keys_in_the_platform_secret(api, aws, monkeypatch):
    from tests.support.aws import reset_caches

    monkeypatch.delenv("PLATFORM_MODEL_PROVIDERS")
    reset_caches()
    assert api.put("/api/model-configs/blueprint", {"modelName": PRO}).status == 200
    calls = aws.count_calls()
    assert api.put("/api/model-configs/blueprint", {"modelName": FLASH}).status == 200
    assert calls == {"dynamodb.Query": 1, "dynamodb.TransactWriteItems": 1}  # the platform secret is cached
    assert api.put("/api/model-configs/blueprint", {"modelName": OPUS}).status == 403


# ---- delete and reset-all -----------------------------------------------------------------------------


def test_delete_is_a_read_and_one_transaction_and_404_when_nothing_is_there(api, aws):
    api.put("/api/model-configs/blueprint", {"modelName": PRO})
    calls = aws.count_calls()
    assert api.delete("/api/model-configs/blueprint").data["message"]
    assert calls == {"dynamodb.Query": 1, "dynamodb.TransactWriteItems": 1}  # what it deletes, then it and its entry
    calls.clear()
    missing = api.delete("/api/model-configs/blueprint")
    assert calls == {"dynamodb.Query": 1}  # nothing to delete: nothing written, nothing audited
    assert missing.status == 404
    assert missing.error["name"] == "NotFound"
    assert api.get("/api/model-configs/blueprint").data["config"]["isUserOverride"] is False


def test_reset_all_deletes_only_the_callers_overrides(api, aws):
    other = Api("user-b")
    for action in ("blueprint", "deepDebugger", "phaseImplementation"):
        api.put(f"/api/model-configs/{action}", {"modelName": PRO})
    other.put("/api/model-configs/blueprint", {"modelName": FLASH})
    calls = aws.count_calls()
    data = api.post("/api/model-configs/reset-all").data
    assert data["resetCount"] == 3
    assert calls == {"dynamodb.Query": 1, "dynamodb.TransactWriteItems": 1}  # three deletes and one entry
    calls.clear()
    assert api.post("/api/model-configs/reset-all").data["resetCount"] == 0
    assert calls == {"dynamodb.Query": 1}
    assert other.get("/api/model-configs/blueprint").data["config"]["name"] == FLASH


def test_reset_all_reads_again_when_an_override_changes_after_its_read(api, aws):
    for action in ("blueprint", "deepDebugger"):
        api.put(f"/api/model-configs/{action}", {"modelName": PRO})
    client = aws_clients.dynamodb()
    raced = []

    def other_tab(params, **_kw):  # another save lands between the reset's read and its transaction
        if not raced:
            raced.append(True)
            assert Api("user-a").put("/api/model-configs/blueprint", {"modelName": FLASH}).status == 200

    client.meta.events.register("before-call.dynamodb.TransactWriteItems", other_tab)
    try:
        assert api.post("/api/model-configs/reset-all").data["resetCount"] == 2
    finally:
        client.meta.events.unregister("before-call.dynamodb.TransactWriteItems", other_tab)
    assert config_items(aws) == []
    reset = aws.audit_entries("user-a")[-1]
    assert reset["action"] == "config.reset_all"
    assert [row["modelName"] for row in reset["before"]] == [FLASH, PRO]  # what it really deleted, the newer save


def test_a_transaction_refused_as_invalid_is_not_retried(api, aws):
    api.put("/api/model-configs/blueprint", {"modelName": PRO})
    left = cancelled(aws_clients.dynamodb(), "ValidationError", "None", times=3)
    assert api.post("/api/model-configs/reset-all").status == 500  # a bug to fix, not a busy table to wait for
    assert left == [2]


def test_reset_all_gives_503_when_transactions_keep_conflicting(api, aws):
    api.put("/api/model-configs/blueprint", {"modelName": PRO})
    left = cancelled(aws_clients.dynamodb(), "TransactionConflict", "None", times=3)
    reply = api.post("/api/model-configs/reset-all")
    assert left == [0]  # tried three times
    assert reply.status == 503
    assert reply.error["name"] == "ServiceUnavailable"
    assert "request id" in reply.error["message"]


# ---- byok-providers -----------------------------------------------------------------------------------


def test_byok_providers_without_keys(api, aws):
    calls = aws.count_calls()
    data = api.get("/api/model-configs/byok-providers").data
    assert calls == {"dynamodb.Query": 1}
    assert data["providers"] == [
        {"provider": p, "hasValidKey": False} for p in ("openai", "anthropic", "google-ai-studio", "grok")
    ]
    assert data["modelsByProvider"] == {}
    assert data["platformModels"] == CATALOG.models_of("google-ai-studio")
    assert "disabled" not in data["platformModels"]


def test_byok_providers_without_a_provider_list_reads_the_platform_secret_once(api, aws, monkeypatch):
    from tests.support.aws import reset_caches

    monkeypatch.delenv("PLATFORM_MODEL_PROVIDERS")
    reset_caches()
    calls = aws.count_calls()
    data = api.get("/api/model-configs/byok-providers").data
    assert calls == {"dynamodb.Query": 1, "secretsmanager.GetSecretValue": 1}
    assert data["platformModels"] == CATALOG.models_of("google-ai-studio")  # the one provider with a key there
    calls.clear()
    api.get("/api/model-configs/byok-providers")
    assert calls == {"dynamodb.Query": 1}  # cached for the warm requests


def test_byok_providers_filtered_by_action(api):
    data = api.get("/api/model-configs/byok-providers", query={"agentAction": "conversationalResponse"}).data
    assert PRO not in data["platformModels"]
    assert FLASH in data["platformModels"] and LITE in data["platformModels"]
    bad = api.get("/api/model-configs/byok-providers", query={"agentAction": "nope"})
    assert bad.status == 400
    assert "blueprint" in bad.error["message"]


# ---- identity and isolation ---------------------------------------------------------------------------


@pytest.mark.parametrize("claims", [{}, {"sub": ""}, {"sub": "   "}, {"sub": 42}, {"sub": "x" * 300}, {"sub": "a\nb"}])
def test_unusable_identity_is_401_on_every_route(aws, claims):
    for method, path in [
        ("GET", "/api/model-configs"),
        ("GET", "/api/model-configs/defaults"),
        ("GET", "/api/model-configs/byok-providers"),
        ("GET", "/api/model-configs/blueprint"),
        ("PUT", "/api/model-configs/blueprint"),
        ("DELETE", "/api/model-configs/blueprint"),
        ("POST", "/api/model-configs/test"),
        ("POST", "/api/model-configs/reset-all"),
        ("GET", "/api/byok-keys"),
        ("PUT", "/api/byok-keys/openai"),
        ("DELETE", "/api/byok-keys/openai"),
    ]:
        reply = Api(None).request(method, path, raw_body="{}", claims=claims)
        assert reply.status == 401, (method, path)
        assert reply.error["name"] == "Unauthorized"
    no_authorizer = Api(None).request("GET", "/api/model-configs")
    assert no_authorizer.status == 401


def test_two_users_never_see_each_others_data(aws):
    alice, bob = Api("auth0|alice"), Api("auth0|bob")
    alice.put("/api/model-configs/blueprint", {"modelName": PRO, "maxTokens": 7})
    assert bob.get("/api/model-configs").data["configs"]["blueprint"]["isUserOverride"] is False
    assert bob.get("/api/model-configs/blueprint").data["config"]["isUserOverride"] is False
    assert bob.delete("/api/model-configs/blueprint").status == 404
    assert bob.post("/api/model-configs/reset-all").data["resetCount"] == 0
    assert alice.get("/api/model-configs/blueprint").data["config"]["max_tokens"] == 7


def test_user_id_comes_only_from_the_token(aws):
    api = Api("user-a")
    api.request("PUT", "/api/model-configs/blueprint", {"modelName": PRO}, query={"userId": "user-b"})
    assert Api("user-b").get("/api/model-configs/blueprint").data["config"]["isUserOverride"] is False


# ---- bad input ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("{not json", "malformed JSON"),
        ("", "JSON object body is required"),
        ("[1, 2]", ""),
        ('"a string"', ""),
        ("null", ""),
        ("[" * 50_000 + "]" * 50_000, "malformed JSON"),
        ('{"modelName": "' + PRO + '", "temperature": NaN}', "temperature"),
        ('{"modelName": "' + PRO + '", "temperature": Infinity}', "temperature"),
        ('{"modelName": "' + PRO + '", "maxTokens": ' + "9" * 5000 + "}", "malformed JSON"),
        ('{"modelName": "' + PRO + '", "temperature": 1e400}', "temperature"),
        ('{"modelName": "' + PRO + '", "maxTokens": 1e3}', "maxTokens"),
        ('{"modelName": "openai/gpt-4o"}', "unknown model id"),
        ('{"modelName": "' + PRO + '", "fallbackModel": "nope"}', "fallbackModel"),
        ('{"modelName": "' + PRO + '", "reasoningEffort": "max"}', "reasoningEffort"),
    ],
)
def test_bad_bodies_are_400_and_write_nothing(api, aws, raw, fragment):
    reply = api.put("/api/model-configs/blueprint", raw_body=raw)
    assert reply.status == 400, reply.body
    assert reply.error["name"] == "ValidationError"
    assert fragment in reply.error["message"]
    assert config_items(aws) == []


def test_unstorable_temperature_is_normalised(api, aws):
    row = api.put("/api/model-configs/blueprint", raw_body='{"modelName": "' + PRO + '", "temperature": 2e-288}')
    assert row.status == 200
    assert row.data["config"]["temperature"] == 0.0
    assert api.get("/api/model-configs/blueprint").data["config"]["temperature"] == 0.0


def test_body_over_one_megabyte_is_413(api, aws):
    huge = json.dumps({"modelName": PRO, "pad": "x" * (1024 * 1024)})
    reply = api.put("/api/model-configs/blueprint", raw_body=huge)
    assert reply.status == 413
    assert reply.error["name"] == "PayloadTooLarge"
    encoded = api.put("/api/model-configs/blueprint", raw_body=huge.encode())
    assert encoded.status == 413
    assert config_items(aws) == []


def test_base64_body_is_read(api):
    body = json.dumps({"modelName": PRO}).encode()
    assert api.put("/api/model-configs/blueprint", raw_body=body).status == 200


@pytest.mark.parametrize(
    "action", ["x" * 5000, "blueprint%2F..%2Fother", "bluepr%C3%AFnt", "Blueprint", "blueprint ", "défaut", "__proto__"]
)
def test_odd_agent_actions_are_400_on_every_action_route(api, aws, action):
    for method in ("GET", "PUT", "DELETE"):
        reply = api.request(method, f"/api/model-configs/{action}", {"modelName": PRO})
        assert reply.status == 400, (method, reply.body)
        assert "blueprint" in reply.error["message"]  # lists the valid actions
    assert config_items(aws) == []


BODY_ROUTES = [
    ("PUT", "/api/model-configs/blueprint", {"modelName": "disabled"}),
    ("POST", "/api/model-configs/test", {"agentActionName": "blueprint"}),
    ("PUT", "/api/byok-keys/openai", {"apiKey": "sk-0123456789abcdef"}),
]


@pytest.mark.parametrize(("method", "path", "body"), BODY_ROUTES)
@pytest.mark.parametrize(
    "content_type",
    [
        "application/x-www-form-urlencoded",  # curl -d without -H
        "multipart/form-data",  # without a boundary: this was a 500
        "multipart/form-data; boundary=xyz",
        "text/plain",
        "application/xml",
        "application/merge+json",
        "",
    ],
)
def test_a_body_of_any_other_content_type_is_a_400_saying_what_to_send(api, aws, method, path, body, content_type):
    calls = aws.count_calls()
    reply = api.request(method, path, raw_body=json.dumps(body), headers={"content-type": content_type})
    assert reply.status == 400, reply.body
    assert reply.error["name"] == "ValidationError"
    assert reply.error["message"].startswith("send the body as JSON with content-type: application/json (it came as ")
    assert sum(calls.values()) == 0  # refused before anything is read or written


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8", "Application/JSON"])
def test_json_content_types_are_accepted(api, aws, content_type):
    reply = api.put(
        "/api/model-configs/blueprint", raw_body='{"modelName": "disabled"}', headers={"content-type": content_type}
    )
    assert reply.status == 200, reply.body


# ---- faults -------------------------------------------------------------------------------------------


def test_persistent_throttling_is_503_with_the_request_id(api):
    fail(aws_clients.dynamodb(), "Query", "ProvisionedThroughputExceededException", times=3)
    reply = api.get("/api/model-configs")
    assert reply.status == 503
    assert reply.error["name"] == "ServiceUnavailable"
    assert "request id" in reply.error["message"]
    assert "Provisioned" not in reply.error["message"]


def test_unexpected_fault_is_a_500_envelope_without_internals(api):
    fail(aws_clients.dynamodb(), "Query", "ValidationException", "secret internals")  # not ours to expect
    reply = api.get("/api/model-configs/blueprint")
    assert reply.status == 500
    assert reply.error["name"] == "InternalError"
    assert "internals" not in json.dumps(reply.body)
    assert "request id" in reply.error["message"]


@pytest.mark.parametrize("route", ["/api/model-configs/blueprint", "/api/byok-keys/grok"])
def test_a_body_that_is_not_utf8_is_400_not_500(api, aws, route):
    reply = api.put(route, raw_body=b"\xff\xfe{not utf-8")  # API Gateway hands such bodies over base64-encoded
    assert reply.status == 400
    assert reply.error["message"] == "the body must be UTF-8 JSON"
    fn = runtime.find_route("PUT", route)[1]
    event = runtime.http_event(runtime.find_route("PUT", route)[0], path=route, claims={"sub": "u"}, body="x")
    event |= {"isBase64Encoded": True, "body": "%%% not base64 %%%"}
    status, body = runtime.parse_response(runtime.handler(fn)(event, runtime.Context(fn)))
    assert status == 400 and body["error"]["name"] == "ValidationError"
    assert config_items(aws) == []


def test_each_success_says_what_happened(api):
    """The messages are part of what a client shows; each is pinned here once."""
    said = {
        "defaults": api.get("/api/model-configs/defaults").data["message"],
        "put": api.put("/api/model-configs/blueprint", {"modelName": PRO}).data["message"],
        "list": api.get("/api/model-configs").data["message"],
        "get": api.get("/api/model-configs/blueprint").data["message"],
        "delete": api.delete("/api/model-configs/blueprint").data["message"],
        "reset": api.post("/api/model-configs/reset-all").data["message"],
    }
    assert said == {
        "defaults": "Default configurations retrieved successfully",
        "put": "Model configuration updated successfully",
        "list": "Model configurations retrieved successfully",
        "get": "Model configuration retrieved successfully",
        "delete": "Model configuration reset to default",
        "reset": "Reset 0 model configuration(s) to defaults",
    }
