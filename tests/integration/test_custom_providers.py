"""Custom OpenAI-compatible providers (SPEC section 13): the routes, the access rule, and the egress guard under
attack. No traffic leaves loopback: names resolve from the test's own table (`network`), and a connection to any
other address is refused in the test itself, which records where it was headed."""

from __future__ import annotations

import json
import time

import pytest

from infra import runtime
from modelconfig import resolve
from modelconfig.providers import egress
from tests.support.api import Api
from tests.support.constants import PLATFORM_KEYS, PLATFORM_SECRET, PRO

CUSTOM_KEY = "sk-custom-0123456789abcdef"
PUBLIC = "93.184.215.14"  # a public address: the guard lets it through, the test refuses the connection
PLATFORM_OPENAI = "sk-PLATFORM-openai-key-0000000000"


@pytest.fixture
def endpoint(server, aws, monkeypatch):
    """The loopback provider server as a user's custom endpoint, allowlisted by the operator (host:port)."""
    port = server.server_address[1]
    monkeypatch.setenv("CUSTOM_PROVIDER_ALLOWED_HOSTS", f"127.0.0.1:{port}")
    from tests.support.aws import reset_caches

    reset_caches()
    egress.reset_cache()
    return f"{server.base}/openai/v1"


@pytest.fixture(autouse=True)
def _cold():
    resolve.reset_cache()
    egress.reset_cache()
    yield
    egress.reset_cache()


def put(api: Api, name: str, body: dict, **kw):
    return api.put(f"/api/custom-providers/{name}", body, **kw)


def add(api: Api, endpoint: str, name: str = "lab", key: str | None = CUSTOM_KEY, **extra):
    body = {"baseUrl": endpoint, **({"apiKey": key} if key else {}), **extra}
    reply = put(api, name, body)
    assert reply.status == 200, reply.body
    return reply.data


def invoke(name: str, event: dict):
    fn = runtime.function(name)
    return runtime.handler(fn)(event, runtime.Context(fn))


def credentials(server) -> set[str]:
    """Every credential the endpoint ever received, in any header that carries one."""
    seen = [*server.checks, *server.seen]
    return {s.headers[h] for s in seen for h in ("authorization", "x-api-key", "x-goog-api-key") if h in s.headers}


# ---- the routes ------------------------------------------------------------------------------------------------


def test_put_checks_the_endpoint_and_lists_its_models(api, aws, server, endpoint):
    calls = aws.count_calls()
    saved = add(api, endpoint)
    assert saved["name"] == "lab" and saved["baseUrl"] == endpoint
    assert saved["models"] == ["standin-model"]  # the endpoint's own data[].id
    assert saved["keyPreview"] == "sk-c****cdef" and "verifiedAt" in saved and "verifyError" not in saved
    assert [c.path for c in server.checks] == ["/openai/v1/models"]
    assert server.checks[0].headers["authorization"] == f"Bearer {CUSTOM_KEY}"
    # counter, the providers' Query, lease, the secret read and write, one transaction
    assert calls == {
        "dynamodb.UpdateItem": 1,
        "dynamodb.Query": 1,
        "dynamodb.PutItem": 1,
        "secretsmanager.GetSecretValue": 1,
        "secretsmanager.CreateSecret": 1,
        "dynamodb.TransactWriteItems": 1,
    }
    assert aws.user_secret("user-a") == {"custom/lab": CUSTOM_KEY}  # beside BYOK keys, never in DynamoDB
    assert CUSTOM_KEY not in json.dumps(aws.items())
    calls.clear()
    listed = api.get("/api/custom-providers").data["providers"]
    assert listed == [saved] and calls == {"dynamodb.Query": 1}


def test_a_provider_without_a_key_touches_no_secret(api, aws, server, endpoint):
    calls = aws.count_calls()
    saved = add(api, endpoint, key=None)
    assert "keyPreview" not in saved
    assert "authorization" not in server.checks[0].headers
    assert not any(c.startswith("secretsmanager.") and c != "secretsmanager.GetSecretValue" for c in calls)
    assert aws.user_secret("user-a") is None


def test_the_body_models_win_and_verify_false_sends_nothing(api, aws, server, endpoint):
    saved = add(api, endpoint, models=["a/b:free", "llama-3.3-70b"])
    assert saved["models"] == ["a/b:free", "llama-3.3-70b"]
    server.reset()
    reply = put(api, "quiet", {"baseUrl": endpoint, "models": ["m1"]}, query={"verify": "false"})
    assert reply.status == 200 and "verifiedAt" not in reply.data and server.checks == []
    no_models = put(api, "quiet", {"baseUrl": endpoint}, query={"verify": "false"})
    assert no_models.status == 400 and "models" in no_models.error["message"]


def test_a_rejected_key_stores_nothing(api, aws, server, endpoint):
    reply = put(api, "lab", {"baseUrl": endpoint, "apiKey": "sk-invalid-0000000000"})
    assert reply.status == 400 and "the provider rejected this key" in reply.error["message"]
    assert api.get("/api/custom-providers").data["providers"] == []
    assert aws.user_secret("user-a") is None and aws.audit_entries("user-a") == []


def test_a_failed_check_stores_unverified_with_the_reason(api, aws, server, endpoint):
    server.behave_on_check(mode="status", status=503)
    reply = put(api, "lab", {"baseUrl": endpoint, "apiKey": CUSTOM_KEY, "models": ["m"]})
    assert reply.status == 200
    assert reply.data["verifyError"] == "provider unavailable (HTTP 503)" and "verifiedAt" not in reply.data
    server.behave_on_check(mode="status", status=503)
    none = put(api, "other", {"baseUrl": endpoint, "apiKey": CUSTOM_KEY})
    assert none.status == 400 and "listed no models (provider unavailable (HTTP 503))" in none.error["message"]


def test_replace_delete_and_their_audit_entries(api, aws, server, endpoint):
    first = add(api, endpoint)
    second = add(api, endpoint, key=None, models=["m2"])
    assert aws.user_secret("user-a") is None  # the replaced key went with the replace (its secret with it)
    api.put("/api/model-configs/blueprint", {"modelName": "custom/lab/m2"})
    calls = aws.count_calls()
    gone = api.delete("/api/custom-providers/lab")
    assert gone.status == 200 and gone.data["affectedActions"] == ["blueprint"]
    assert calls["dynamodb.Query"] == 1 and calls["dynamodb.TransactWriteItems"] == 1
    assert api.delete("/api/custom-providers/lab").status == 404
    entries = [e for e in aws.audit_entries("user-a") if e["action"].startswith("custom_provider.")]
    assert [(e["action"], e["target"]) for e in entries] == [
        ("custom_provider.put", {"customProvider": "lab"}),
        ("custom_provider.put", {"customProvider": "lab"}),
        ("custom_provider.delete", {"customProvider": "lab"}),
    ]
    assert entries[0]["before"] is None and entries[0]["after"] == first
    assert entries[1]["before"] == first and entries[1]["after"] == second
    assert entries[2]["before"] == second and entries[2]["after"] is None
    assert all(e["requestId"] for e in entries)
    assert CUSTOM_KEY not in json.dumps(aws.audit_entries("user-a"))  # a key only ever as its preview


def test_names_limits_and_the_key_write_limit(api, aws, server, endpoint, monkeypatch):
    catalog = put(api, "openai", {"baseUrl": endpoint})
    assert catalog.status == 400 and "catalog provider" in catalog.error["message"]
    for bad in ("Lab", "-lab", "a" * 33, "la_b"):
        assert put(api, bad, {"baseUrl": endpoint}).status == 400, bad
    monkeypatch.setenv("CUSTOM_PROVIDER_LIMIT", "2")
    from modelconfig.settings import settings

    settings.cache_clear()
    add(api, endpoint, "one")
    add(api, endpoint, "two")
    server.reset()
    third = put(api, "three", {"baseUrl": endpoint, "apiKey": CUSTOM_KEY})
    assert third.status == 400 and "at most 2 custom providers" in third.error["message"]
    assert server.checks == []  # refused before anything was sent
    assert add(api, endpoint, "two", models=["x"])["models"] == ["x"]  # a replace is not one more
    monkeypatch.setenv("KEY_WRITE_LIMIT_PER_MINUTE", "1")
    settings.cache_clear()
    other = Api("user-b")
    assert put(other, "lab", {"baseUrl": endpoint, "models": ["m"]}, query={"verify": "false"}).status == 200
    spent = put(other, "lab2", {"baseUrl": endpoint, "models": ["m"]}, query={"verify": "false"})
    assert spent.status == 429 and spent.raw["headers"].get("Retry-After")


# ---- the URL's rules -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        ("ftp://llm.example.com/v1", "must use https"),
        ("http://llm.example.com/v1", "plain http only for a host the operator allowlists"),
        ("https://user:pw@llm.example.com/v1", "user info"),
        ("https://llm.example.com/v1#x", "fragment"),
        ("https://llm.example.com/v1?x=1", "query"),
        ("https://llm.example.com/" + "a" * 2048, "at most 2048 characters"),
        ("/v1/models", "absolute URL"),
        ("llm.example.com/v1", "absolute URL"),
        ("https://[::1/v1", "not a valid URL"),
        ("https://", "absolute URL"),
        ("https://127.0.0.1/v1", "a loopback address"),
        ("https://[::ffff:169.254.169.254]/v1", "a link-local address"),
    ],
)
def test_a_url_against_the_rules_is_a_400_naming_the_rule(api, aws, network, url, rule):
    reply = put(api, "lab", {"baseUrl": url, "models": ["m"]}, query={"verify": "false"})
    assert reply.status == 400 and rule in reply.error["message"], reply.body
    assert network.connects == []


REFUSED_ADDRESSES = {
    "127.0.0.1": "a loopback address",
    "10.1.2.3": "a private address",
    "172.16.0.9": "a private address",
    "192.168.1.1": "a private address",
    "169.254.169.254": "a link-local address",  # the instance metadata service
    "100.64.0.1": "a carrier-grade NAT address",
    "224.0.0.251": "a multicast address",
    "240.0.0.1": "a reserved address",
    "0.0.0.0": "an unspecified address",
    "::1": "a loopback address",
    "fc00::1": "a private address",
    "fd12:3456::1": "a private address",
    "fe80::1": "a link-local address",
    "ff02::1": "a multicast address",
    "::": "an unspecified address",
    "::ffff:127.0.0.1": "a loopback address",  # IPv4-mapped
    "::ffff:10.0.0.1": "a private address",
    "2002:a9fe:a9fe::1": "a link-local address",  # 6to4 of 169.254.169.254
    "64:ff9b::a00:1": "a private address",  # NAT64 of 10.0.0.1
    "64:ff9b::7f00:1": "a loopback address",  # NAT64 of 127.0.0.1
    "2001:0:4136:e378:8000:63bf:80ff:fffe": "a loopback address",  # Teredo, client 127.0.0.1
    "::127.0.0.1": "a loopback address",  # IPv4-compatible
}


@pytest.mark.parametrize(("address", "why"), REFUSED_ADDRESSES.items())
def test_a_host_resolving_inside_is_refused_without_a_connection(api, aws, network, address, why):
    network.resolve("llm.example.com", [address])
    reply = put(api, "lab", {"baseUrl": "https://llm.example.com/v1", "apiKey": CUSTOM_KEY})
    assert reply.status == 400
    message = reply.error["message"]
    assert why in message and address not in message and "public internet" in message
    assert network.connects == []
    assert api.get("/api/custom-providers").data["providers"] == []


def test_one_public_and_one_private_address_is_refused(api, aws, network):
    network.resolve("llm.example.com", [PUBLIC, "10.0.0.7"])
    reply = put(api, "lab", {"baseUrl": "https://llm.example.com/v1", "apiKey": CUSTOM_KEY})
    assert reply.status == 400 and "a private address" in reply.error["message"]
    assert network.connects == []


def test_a_public_host_is_called_at_the_address_checked(api, aws, network):
    network.resolve("llm.example.com", [PUBLIC])
    reply = put(api, "lab", {"baseUrl": "https://llm.example.com/v1", "apiKey": CUSTOM_KEY, "models": ["m"]})
    assert reply.status == 200 and reply.data["verifyError"] == "could not reach provider (connection refused)"
    assert network.refused == [(PUBLIC, 443)]  # headed to the checked address, stopped by the test


def test_dns_rebinding_never_reaches_the_second_address(api, aws, network, server):
    """The first answer is public, every later one is loopback: a guard that checks, then lets the client resolve
    again, would reach the loopback server."""
    port = server.server_address[1]
    network.resolve("rebind.example.com", [[PUBLIC], ["127.0.0.1"]])
    body = {"baseUrl": f"https://rebind.example.com:{port}/openai/v1", "apiKey": CUSTOM_KEY, "models": ["m"]}
    reply = put(api, "lab", body)
    assert reply.status == 200 and "could not reach provider" in reply.data["verifyError"]
    assert network.refused == [(PUBLIC, port)]
    assert network.lookups.count("rebind.example.com") == 1  # resolved once; connected to what was checked
    assert server.checks == [] and server.seen == []  # nothing reached loopback
    # and the next request, now resolving inside, is refused before any connection
    test = api.post(
        "/api/model-configs/test", {"agentActionName": "blueprint", "tempConfig": {"modelName": "custom/lab/m"}}
    )
    assert test.data["testResult"]["success"] is False
    assert "a loopback address" in test.data["testResult"]["error"]
    assert server.seen == [] and network.refused == [(PUBLIC, port)]


def test_a_redirect_to_loopback_is_never_followed(api, aws, server, endpoint, network):
    server.behave_on_check(mode="redirect")  # 302 to http://127.0.0.1:9/elsewhere
    reply = put(api, "lab", {"baseUrl": endpoint, "apiKey": CUSTOM_KEY, "models": ["m"]})
    assert reply.status == 200 and reply.data["verifyError"] == "unexpected response from provider (HTTP 302)"
    assert ("127.0.0.1", 9) not in network.connects
    assert len(server.checks) == 1


def test_a_slow_endpoint_gets_one_deadline(api, aws, server, endpoint, monkeypatch):
    monkeypatch.setenv("KEY_VERIFY_TIMEOUT_SECONDS", "0.5")
    from modelconfig.settings import settings

    settings.cache_clear()
    server.behave_on_check(mode="slow", delay=3)
    started = time.monotonic()
    reply = put(api, "lab", {"baseUrl": endpoint, "apiKey": CUSTOM_KEY, "models": ["m"]})
    assert reply.status == 200 and reply.data["verifyError"] == "timed out after 0.5s"
    assert time.monotonic() - started < 2.5  # the answer did not wait for the endpoint (not a benchmark: a bound)


def test_a_one_gigabyte_answer_is_cut_at_one_megabyte(api, aws, server, endpoint):
    server.behave_on_check(mode="huge")
    reply = put(api, "lab", {"baseUrl": endpoint, "apiKey": CUSTOM_KEY, "models": ["m"]})
    assert reply.status == 200 and reply.data["verifyError"] == "unexpected response from provider (too large)"
    assert server.sent_bytes < 64 * 1024 * 1024  # the client hung up long before 1 GB (socket buffers aside)


def test_a_compressed_answer_is_not_opened(api, aws, server, endpoint):
    server.behave_on_check(mode="gzip")
    reply = put(api, "lab", {"baseUrl": endpoint, "apiKey": CUSTOM_KEY, "models": ["m"]})
    assert reply.data["verifyError"] == "unexpected response from provider (compressed, though asked not to be)"
    assert server.checks[0].headers["accept-encoding"] == "identity"


def test_a_500_echoing_the_key_leaks_neither_body_nor_key(api, aws, server, endpoint, log_lines):
    echo = {"error": {"message": f"upstream trace: key={CUSTOM_KEY} host=10.0.0.3"}}
    server.behave_on_check(mode="status", status=500, body=echo)
    saved = put(api, "lab", {"baseUrl": endpoint, "apiKey": CUSTOM_KEY, "models": ["m"]})
    server.behave(mode="status", status=500, body=echo)
    api.put("/api/model-configs/blueprint", {"modelName": "custom/lab/m"})
    tested = api.post("/api/model-configs/test", {"agentActionName": "blueprint"})
    answers = json.dumps([saved.body, tested.body])
    assert saved.data["verifyError"] == "provider unavailable (HTTP 500)"
    assert tested.data["testResult"]["error"] == "provider unavailable (HTTP 500)"
    logs = json.dumps(log_lines())
    for leaked in (CUSTOM_KEY, "upstream trace", "10.0.0.3"):
        assert leaked not in answers and leaked not in logs


# ---- using the models ------------------------------------------------------------------------------------------


def test_custom_models_serve_only_actions_that_allow_any_model(api, aws, server, endpoint):
    add(api, endpoint)
    assert api.put("/api/model-configs/blueprint", {"modelName": "custom/lab/standin-model"}).status == 200  # none
    assert api.put("/api/model-configs/phaseGeneration", {"modelName": "custom/lab/standin-model"}).status == 200
    refused = api.put("/api/model-configs/templateSelection", {"modelName": "custom/lab/standin-model"})
    assert refused.status == 400 and "not allowed" in refused.error["message"]
    unlisted = api.put("/api/model-configs/blueprint", {"modelName": "custom/lab/other"})
    assert unlisted.status == 400 and "does not list model 'other'" in unlisted.error["message"]
    fallback = api.put(
        "/api/model-configs/deepDebugger", {"modelName": PRO, "fallbackModel": "custom/lab/standin-model"}
    )
    assert fallback.status == 200
    merged = api.get("/api/model-configs/blueprint").data["config"]
    assert merged["name"] == "custom/lab/standin-model" and merged["isUserOverride"] is True


def test_another_users_custom_model_is_theirs_alone(api, aws, server, endpoint):
    add(api, endpoint)
    api.put("/api/model-configs/blueprint", {"modelName": "custom/lab/standin-model"})
    other = Api("user-b")
    denied = other.put("/api/model-configs/blueprint", {"modelName": "custom/lab/standin-model"})
    assert denied.status == 403 and "no custom provider 'lab'" in denied.error["message"]
    server.reset()
    tested = other.post(
        "/api/model-configs/test",
        {"agentActionName": "blueprint", "tempConfig": {"modelName": "custom/lab/standin-model"}},
    )
    assert tested.data["testResult"] == tested.data["testResult"] | {"success": False}
    assert tested.data["testResult"]["error"] == "you have no custom provider 'lab'"
    assert server.seen == []
    answer = invoke("ResolveFunction", {"userId": "user-b", "agentActions": ["blueprint"]})
    assert answer["resolved"]["blueprint"]["provider"] != "custom/lab"
    assert CUSTOM_KEY not in json.dumps(answer)


def test_the_test_route_uses_the_users_key_only(api, aws, server, endpoint):
    add(api, endpoint)
    api.put("/api/model-configs/blueprint", {"modelName": "custom/lab/standin-model", "temperature": 0.3})
    calls = aws.count_calls()
    result = api.post("/api/model-configs/test", {"agentActionName": "blueprint"}).data["testResult"]
    assert result == result | {"success": True, "keySource": "user", "modelUsed": "custom/lab/standin-model"}
    (call,) = server.seen
    assert call.path == "/openai/v1/chat/completions" and call.body["model"] == "standin-model"
    assert call.headers["authorization"] == f"Bearer {CUSTOM_KEY}"
    # the partition Query, the secret, the test counter (no platform-test counter: the user's own endpoint)
    assert calls == {"dynamodb.Query": 1, "secretsmanager.GetSecretValue": 1, "dynamodb.UpdateItem": 1}
    platform = api.post("/api/model-configs/test", {"agentActionName": "blueprint", "useUserKeys": False})
    assert platform.data["testResult"]["success"] is False
    assert platform.data["testResult"]["error"] == "custom providers use your own key: test with useUserKeys true"


def test_the_platforms_keys_never_reach_a_custom_endpoint(api, aws, server, endpoint, monkeypatch):
    """Every credential the custom endpoint ever receives, across every flow that can reach it, is the user's."""
    aws.secretsmanager.put_secret_value(
        SecretId=PLATFORM_SECRET, SecretString=json.dumps(PLATFORM_KEYS | {"openai": PLATFORM_OPENAI})
    )
    monkeypatch.setenv("PLATFORM_MODEL_PROVIDERS", "google-ai-studio,openai")
    from tests.support.aws import reset_caches

    reset_caches()
    add(api, endpoint)
    add(api, endpoint, "nokey", key=None)
    for model in ("custom/lab/standin-model", "custom/nokey/standin-model"):
        api.put("/api/model-configs/blueprint", {"modelName": model, "fallbackModel": "custom/lab/standin-model"})
        for use_user_keys in (True, False):
            api.post("/api/model-configs/test", {"agentActionName": "blueprint", "useUserKeys": use_user_keys})
        invoke("ResolveFunction", {"userId": "user-a", "agentActions": ["blueprint"]})
    add(api, endpoint, key=None)  # a replace without a key must not keep, nor send, the old one
    api.put("/api/model-configs/blueprint", {"modelName": "custom/lab/standin-model"})
    api.post("/api/model-configs/test", {"agentActionName": "blueprint"})
    custom_calls = [s for s in server.seen if s.path.startswith("/openai/v1/chat")]
    assert len(custom_calls) == 3 and len(server.checks) == 3
    assert credentials(server) == {f"Bearer {CUSTOM_KEY}"}  # not the platform's, and none after the key went


def test_byok_providers_lists_custom_providers(api, aws, server, endpoint):
    add(api, endpoint, models=["m1", "m2"])
    data = api.get("/api/model-configs/byok-providers").data
    assert data["modelsByProvider"]["custom/lab"] == ["custom/lab/m1", "custom/lab/m2"]
    assert "custom/lab" not in [p["provider"] for p in data["providers"]]  # BYOK providers only
    constrained = api.get("/api/model-configs/byok-providers", query={"agentAction": "templateSelection"}).data
    assert "custom/lab" not in constrained["modelsByProvider"]
    allowed = api.get("/api/model-configs/byok-providers", query={"agentAction": "phaseGeneration"}).data
    assert allowed["modelsByProvider"]["custom/lab"] == ["custom/lab/m1", "custom/lab/m2"]


def test_a_gone_provider_reads_inactive_and_the_sweep_resets_it(api, aws, server, endpoint):
    add(api, endpoint, models=["m1", "m2"])
    api.put("/api/model-configs/blueprint", {"modelName": "custom/lab/m1"})
    api.put("/api/model-configs/deepDebugger", {"modelName": PRO, "fallbackModel": "custom/lab/m2"})
    add(api, endpoint, models=["m2"])  # m1 no longer listed
    config = api.get("/api/model-configs/blueprint").data["config"]
    assert config["isUserOverride"] is False
    assert config["inactiveReason"] == "custom provider 'lab' does not list model 'm1'"
    assert invoke("SweepFunction", {"id": "run-1"})["resetByReason"] == {"model_not_offered": 1}
    assert api.delete("/api/custom-providers/lab").data["affectedActions"] == ["deepDebugger"]
    fallback = api.get("/api/model-configs/deepDebugger").data["config"]
    assert fallback["isUserOverride"] is True and fallback["fallbackModel"] != "custom/lab/m2"
    assert invoke("SweepFunction", {"id": "run-2"})["resetByReason"] == {"custom_provider_gone": 1}
    reasons = [e["reason"] for e in aws.audit_entries("user-a") if e["action"] == "sweep.reset"]
    assert reasons == ["model_not_offered", "custom_provider_gone"]


def test_resolve_hands_out_the_key_after_checking_the_host_again(api, aws, server, endpoint, network):
    add(api, endpoint)
    api.put("/api/model-configs/blueprint", {"modelName": "custom/lab/standin-model"})
    calls = aws.count_calls()
    answer = invoke("ResolveFunction", {"userId": "user-a", "agentActions": ["blueprint"]})["resolved"]["blueprint"]
    assert answer == answer | {
        "provider": "custom/lab",
        "model": "standin-model",
        "baseUrl": endpoint,
        "keySource": "user",
        "apiKey": CUSTOM_KEY,
        "error": None,
    }
    # the user's secret, and the platform's keys for the default fallback (a cold cache: warm, 5 minutes)
    assert calls == {"dynamodb.Query": 1, "secretsmanager.GetSecretValue": 2}


def test_resolve_refuses_the_key_once_the_host_resolves_inside(api, aws, network, monkeypatch):
    network.resolve("llm.example.com", [[PUBLIC], [PUBLIC], ["10.0.0.5"]])
    body = {"baseUrl": "https://llm.example.com/v1", "apiKey": CUSTOM_KEY, "models": ["m"]}
    assert put(api, "lab", body, query={"verify": "false"}).status == 200
    api.put("/api/model-configs/blueprint", {"modelName": "custom/lab/m"})
    first = invoke("ResolveFunction", {"userId": "user-a", "agentActions": ["blueprint"]})["resolved"]["blueprint"]
    assert first["apiKey"] == CUSTOM_KEY
    again = invoke("ResolveFunction", {"userId": "user-a", "agentActions": ["blueprint"]})["resolved"]["blueprint"]
    assert again["apiKey"] == CUSTOM_KEY and network.lookups.count("llm.example.com") == 1  # the 60 s verdict
    clock = [time.monotonic() + egress.RECHECK_SECONDS + 1]
    monkeypatch.setattr(egress.time, "monotonic", lambda: clock[0])
    invoke("ResolveFunction", {"userId": "user-a", "agentActions": ["blueprint"]})  # the second public answer
    clock[0] += egress.RECHECK_SECONDS + 1
    refused = invoke("ResolveFunction", {"userId": "user-a", "agentActions": ["blueprint"]})["resolved"]["blueprint"]
    assert refused["apiKey"] is None and refused["keySource"] is None
    assert "a private address" in refused["error"] and "10.0.0.5" not in refused["error"]
    assert network.connects == []  # resolve only looks the name up; it never connects


def test_export_and_erasure_include_custom_providers(api, aws, server, endpoint):
    saved = add(api, endpoint)
    export = api.get("/api/me/export").data
    assert export["customProviders"] == [saved]
    answer = invoke("EraseUserFunction", {"userId": "user-a"})
    assert answer["complete"] is True and answer["secretDeleted"] is True
    assert api.get("/api/custom-providers").data["providers"] == []
    assert aws.user_secret("user-a") is None


# ---- TLS is verified for the host name while the connection goes to the checked address ---------------------


def _certificate(names: list[str]):
    """A throwaway CA and a server certificate for `names`, as PEM files' bytes."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(1)
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(2)
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return ca.public_bytes(pem), leaf.public_bytes(pem) + key_pem


@pytest.fixture
def tls_endpoint(tmp_path, monkeypatch):
    """An https endpoint on loopback whose certificate names `llm.internal.test` (or, asked, another name), the
    client trusting the test CA, and the name allowlisted by the operator (so it may resolve to loopback)."""
    import ssl
    import threading
    from http.server import ThreadingHTTPServer

    from infra.provider_standin import StandInHandler, models_body
    from modelconfig.providers import client

    servers, names_seen = [], []

    def start(cert_names: list[str]):
        ca_pem, server_pem = _certificate(cert_names)
        (tmp_path / "ca.pem").write_bytes(ca_pem)
        (tmp_path / "server.pem").write_bytes(server_pem)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(tmp_path / "server.pem")
        context.sni_callback = lambda sock, name, ctx: names_seen.append(name)

        class Handler(StandInHandler):
            def do_GET(self):
                self.send_json(200, models_body(self.path))

        httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers.append(httpd)
        trusted = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
        monkeypatch.setattr(client, "_ssl_context", lambda: trusted)
        client._client.cache_clear()
        return httpd.server_address[1]

    monkeypatch.setenv("CUSTOM_PROVIDER_ALLOWED_HOSTS", "llm.internal.test")
    from tests.support.aws import reset_caches

    reset_caches()
    yield start, names_seen
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()
    client._client.cache_clear()


def test_tls_is_verified_for_the_host_name_at_the_checked_address(api, aws, network, tls_endpoint):
    start, names_seen = tls_endpoint
    network.resolve("llm.internal.test", ["127.0.0.1"])
    port = start(["llm.internal.test"])
    saved = add(api, f"https://llm.internal.test:{port}/v1")
    assert "verifyError" not in saved and saved["models"] == ["standin-model"]
    assert names_seen == ["llm.internal.test"]  # SNI carried the name, while the socket went to 127.0.0.1
    assert network.connects == [("127.0.0.1", port)]


def test_a_certificate_for_another_name_fails_the_handshake(api, aws, network, tls_endpoint):
    start, _ = tls_endpoint
    network.resolve("llm.internal.test", ["127.0.0.1"])
    port = start(["elsewhere.test"])
    reply = put(api, "lab", {"baseUrl": f"https://llm.internal.test:{port}/v1", "apiKey": CUSTOM_KEY, "models": ["m"]})
    assert reply.status == 200 and reply.data["verifyError"] == "could not reach provider (TLS handshake failed)"


def test_the_secret_holds_custom_keys_beside_byok_keys_through_its_whole_life(api, aws, server, endpoint):
    from tests.support.constants import GROK_KEY

    add(api, endpoint)
    assert api.put("/api/byok-keys/grok", {"apiKey": GROK_KEY}).status == 200
    assert aws.user_secret("user-a") == {"custom/lab": CUSTOM_KEY, "grok": GROK_KEY}
    calls = aws.count_calls()
    assert api.delete("/api/custom-providers/lab").status == 200
    assert calls["secretsmanager.PutSecretValue"] == 1 and aws.user_secret("user-a") == {"grok": GROK_KEY}
    assert [p["provider"] for p in api.get("/api/byok-keys").data["providers"] if p["hasValidKey"]] == ["grok"]
    api.delete("/api/byok-keys/grok")  # the last key: the secret is scheduled for deletion
    assert aws.user_secret("user-a") is None
    calls = aws.count_calls()
    add(api, endpoint)  # the name is still taken: restored, then written
    assert calls["secretsmanager.RestoreSecret"] == 1 and aws.user_secret("user-a") == {"custom/lab": CUSTOM_KEY}


def test_the_lambda_runtime_api_stays_out_of_reach_even_allowlisted(api, aws, server, monkeypatch):
    """An operator who allowlists loopback (any port) still cannot open the Runtime API to users: a request
    reaching it could take the next invocation's event."""
    port = server.server_address[1]
    monkeypatch.setenv("CUSTOM_PROVIDER_ALLOWED_HOSTS", "127.0.0.1,localhost")
    monkeypatch.setenv("AWS_LAMBDA_RUNTIME_API", f"127.0.0.1:{port}")  # the provider server plays the Runtime API
    from tests.support.aws import reset_caches

    reset_caches()
    for host in ("127.0.0.1", "localhost"):
        reply = put(api, "lab", {"baseUrl": f"http://{host}:{port}/2018-06-01/runtime", "apiKey": CUSTOM_KEY})
        assert reply.status == 400 and "the Lambda runtime's own endpoint" in reply.error["message"]
    assert server.checks == [] and server.seen == []
    monkeypatch.setenv("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001")  # any other loopback port: the allowlist holds
    assert add(api, f"http://127.0.0.1:{port}/openai/v1")["models"] == ["standin-model"]


def test_a_zero_limit_turns_custom_providers_off(api, aws, endpoint, monkeypatch):
    monkeypatch.setenv("CUSTOM_PROVIDER_LIMIT", "0")
    from modelconfig.settings import settings

    settings.cache_clear()
    calls = aws.count_calls()
    reply = put(api, "lab", {"baseUrl": endpoint, "models": ["m"]}, query={"verify": "false"})
    assert reply.status == 400 and "turned off" in reply.error["message"] and calls == {}


def test_a_keyless_endpoint_resolves_without_a_key_and_without_an_error(api, aws, server, endpoint):
    add(api, endpoint, "open", key=None)
    api.put("/api/model-configs/blueprint", {"modelName": "custom/open/standin-model"})
    calls = aws.count_calls()
    answer = invoke("ResolveFunction", {"userId": "user-a", "agentActions": ["blueprint"]})["resolved"]["blueprint"]
    assert answer == answer | {"provider": "custom/open", "keySource": None, "apiKey": None, "error": None}
    # one secret read: the platform's keys, for the default fallback; the user's secret is never asked for
    assert calls["secretsmanager.GetSecretValue"] == 1 and aws.user_secret("user-a") is None
    result = api.post("/api/model-configs/test", {"agentActionName": "blueprint"}).data["testResult"]
    assert result["success"] is True and "keySource" not in result
    assert "authorization" not in server.seen[-1].headers
