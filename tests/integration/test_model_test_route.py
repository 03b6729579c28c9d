"""POST /api/model-configs/test against a real loopback provider server (SPEC sections 4, 6; issue 4)."""

import json
import socket

import pytest

from modelconfig.providers import client
from tests.support.aws import reset_caches
from tests.support.constants import PLATFORM_KEYS
from tests.support.faults import fail

USER_ANTHROPIC = "sk-ant-user-0123456789abcdef"
USER_OPENAI = "sk-user-openai-0123456789"
USER_GROK = "xai-user-0123456789abcd"
USER_GOOGLE = "AIzaUSER-google-0123456789abcdef"
PLATFORM_GOOGLE = PLATFORM_KEYS["google-ai-studio"]


def run(api, body):
    reply = api.post("/api/model-configs/test", body)
    assert reply.status == 200, reply.body
    return reply.data["testResult"]


def test_platform_key_gemini_call(api, aws, provider):
    run(api, {"agentActionName": "blueprint"})  # cold: reads the platform secret once
    provider.reset()
    calls = aws.count_calls()
    result = run(api, {"agentActionName": "blueprint", "testPrompt": "Say hi"})
    # warm: no Secrets Manager call for a platform key; both limits' counters in one transaction
    assert calls == {"dynamodb.Query": 1, "dynamodb.TransactWriteItems": 1}
    assert result["success"] is True
    assert result["keySource"] == "platform"
    assert result["modelUsed"] == "google-ai-studio/gemini-3-flash-preview"
    assert result["responsePreview"] == "OK, the model answers."
    assert isinstance(result["latencyMs"], int) and result["latencyMs"] >= 0
    (seen,) = provider.seen
    assert seen.path == "/google/v1beta/models/gemini-3-flash-preview:generateContent"
    assert seen.headers["x-goog-api-key"] == PLATFORM_GOOGLE
    assert PLATFORM_GOOGLE not in seen.path and "key=" not in seen.path
    assert seen.body["contents"] == [{"role": "user", "parts": [{"text": "Say hi"}]}]
    assert seen.body["generationConfig"]["maxOutputTokens"] == 100
    assert seen.body["generationConfig"]["temperature"] == 1


def test_an_override_whose_key_was_deleted_tests_the_default(api, provider, log_lines):
    api.put("/api/byok-keys/anthropic", {"apiKey": USER_ANTHROPIC})
    api.put("/api/model-configs/blueprint", {"modelName": "anthropic/claude-opus-4-5"})
    api.delete("/api/byok-keys/anthropic")
    reply = api.post("/api/model-configs/test", {"agentActionName": "blueprint"})
    result = reply.data["testResult"]
    assert (result["modelUsed"], result["keySource"]) == ("google-ai-studio/gemini-3-flash-preview", "platform")
    assert reply.data["message"] == "Test succeeded"
    (line,) = [line for line in log_lines() if line["message"] == "model test"]
    assert {k: line[k] for k in ("model", "success", "keySource")} == {
        "model": "google-ai-studio/gemini-3-flash-preview",
        "success": True,
        "keySource": "platform",
    }
    assert line["ms"] == result["latencyMs"] and 0 <= line["ms"] < 60_000


def test_a_failed_test_says_why_in_its_message(api, provider):
    provider.behave(mode="status", status=401)
    reply = api.post("/api/model-configs/test", {"agentActionName": "blueprint"})
    assert reply.data["message"] == "Test failed: invalid API key for google-ai-studio"


def test_gemini_flash_turns_thinking_off_and_caps_tokens_below_config(api, provider):
    api.put(
        "/api/model-configs/conversationalResponse", {"modelName": "google-ai-studio/gemini-2.5-flash", "maxTokens": 20}
    )
    assert run(api, {"agentActionName": "conversationalResponse"})["success"] is True
    config = provider.seen[0].body["generationConfig"]
    assert config["maxOutputTokens"] == 20
    assert config["thinkingConfig"] == {"thinkingBudget": 0}
    assert config["temperature"] == 0


def test_user_key_anthropic_call(api, aws, provider):
    api.put("/api/byok-keys/anthropic", {"apiKey": USER_ANTHROPIC})
    api.put("/api/model-configs/blueprint", {"modelName": "anthropic/claude-opus-4-5", "temperature": 1.7})
    calls = aws.count_calls()
    result = run(api, {"agentActionName": "blueprint"})
    # The partition, the user's secret, then the test counter and the key's lastUsedAt.
    assert calls == {"dynamodb.Query": 1, "secretsmanager.GetSecretValue": 1, "dynamodb.UpdateItem": 2}
    assert result["success"] is True and result["keySource"] == "user"
    (seen,) = provider.seen
    assert seen.path == "/anthropic/v1/messages"
    assert seen.headers["x-api-key"] == USER_ANTHROPIC
    assert seen.headers["anthropic-version"] == "2023-06-01"
    assert seen.body["model"] == "claude-opus-4-5"
    assert seen.body["max_tokens"] == 100
    assert seen.body["temperature"] == 1.0  # Anthropic's range ends at 1
    assert seen.body["messages"][0]["role"] == "user"


def test_openai_gpt5_sends_max_completion_tokens_and_no_temperature(api, provider):
    api.put("/api/byok-keys/openai", {"apiKey": USER_OPENAI})
    result = run(
        api,
        {"agentActionName": "blueprint", "tempConfig": {"modelName": "openai/gpt-5-mini", "reasoningEffort": "low"}},
    )
    assert result["success"] is True and result["modelUsed"] == "openai/gpt-5-mini"
    (seen,) = provider.seen
    assert seen.path == "/openai/v1/chat/completions"
    assert seen.headers["authorization"] == f"Bearer {USER_OPENAI}"
    assert seen.body["model"] == "gpt-5-mini"
    assert seen.body["max_completion_tokens"] == 100
    assert "max_tokens" not in seen.body and "temperature" not in seen.body
    assert seen.body["reasoning_effort"] == "low"


def test_grok_is_openai_compatible_with_max_tokens_and_temperature(api, provider):
    api.put("/api/byok-keys/grok", {"apiKey": USER_GROK})
    result = run(
        api, {"agentActionName": "blueprint", "tempConfig": {"modelName": "grok/grok-4-fast", "temperature": 0.3}}
    )
    assert result["success"] is True
    (seen,) = provider.seen
    assert seen.path == "/grok/v1/chat/completions"
    assert seen.headers["authorization"] == f"Bearer {USER_GROK}"
    assert seen.body["model"] == "grok-4-fast"
    assert seen.body["max_tokens"] == 100 and seen.body["temperature"] == 0.3
    assert "reasoning_effort" not in seen.body


def test_use_user_keys_false_takes_the_platform_key(api, aws, provider):
    api.put("/api/byok-keys/google-ai-studio", {"apiKey": USER_GOOGLE})
    assert run(api, {"agentActionName": "blueprint"})["keySource"] == "user"
    assert provider.seen[-1].headers["x-goog-api-key"] == USER_GOOGLE
    run(api, {"agentActionName": "blueprint", "useUserKeys": False})  # cold: the platform secret is read once
    calls = aws.count_calls()
    result = run(api, {"agentActionName": "blueprint", "useUserKeys": False})
    assert result["keySource"] == "platform"
    assert provider.seen[-1].headers["x-goog-api-key"] == PLATFORM_GOOGLE
    assert "secretsmanager.GetSecretValue" not in calls


def test_no_key_anywhere_names_the_provider_and_makes_no_call(api, provider):
    result = run(api, {"agentActionName": "blueprint", "tempConfig": {"modelName": "anthropic/claude-haiku-4-5"}})
    assert result == {
        "success": False,
        "error": "no API key for provider 'anthropic'",
        "latencyMs": 0,
        "modelUsed": "anthropic/claude-haiku-4-5",
    }
    assert provider.seen == []


def test_platform_enabled_provider_without_a_platform_key_fails_cleanly(api, provider, monkeypatch):
    monkeypatch.setenv("PLATFORM_MODEL_PROVIDERS", "google-ai-studio,openai")
    reset_caches()
    result = run(api, {"agentActionName": "blueprint", "tempConfig": {"modelName": "openai/gpt-5"}})
    assert result["success"] is False
    assert result["error"] == "no platform API key is configured for provider 'openai'"
    assert provider.seen == []


@pytest.mark.parametrize(
    ("model", "fragment"),
    [("disabled", "makes no call"), ("google-vertex-ai/moonshotai/kimi-k2-thinking-maas", "google-vertex-ai")],
)
def test_disabled_and_vertex_make_no_call(api, provider, model, fragment):
    result = run(api, {"agentActionName": "blueprint", "tempConfig": {"modelName": model}})
    assert result["success"] is False and fragment in result["error"]
    assert provider.seen == []


def test_temp_config_obeys_the_constraint_and_the_catalog(api, provider):
    pro = {"modelName": "google-ai-studio/gemini-2.5-pro"}
    forbidden = api.post("/api/model-configs/test", {"agentActionName": "fastCodeFixer", "tempConfig": pro})
    assert forbidden.status == 400
    assert forbidden.error["message"] == (
        "model 'google-ai-studio/gemini-2.5-pro' is not allowed for fastCodeFixer; allowed models: disabled"
    )
    fallback = {"fallbackModel": "google-ai-studio/gemini-2.5-pro"}
    bad_fallback = api.post("/api/model-configs/test", {"agentActionName": "templateSelection", "tempConfig": fallback})
    assert (
        bad_fallback.status == 400
        and "fallback model 'google-ai-studio/gemini-2.5-pro' is not allowed" in (bad_fallback.error["message"])
    )
    assert provider.seen == []
    bad = api.post("/api/model-configs/test", {"agentActionName": "blueprint", "tempConfig": {"modelName": "x/y"}})
    assert bad.status == 400 and "unknown model id" in bad.error["message"]
    long = api.post("/api/model-configs/test", {"agentActionName": "blueprint", "testPrompt": "x" * 4001})
    assert long.status == 400 and "testPrompt" in long.error["message"]
    unknown = api.post("/api/model-configs/test", {"agentActionName": "nope"})
    assert unknown.status == 400


def test_preview_is_at_most_100_characters(api, provider):
    provider.behave(text="y" * 500)
    assert run(api, {"agentActionName": "blueprint"})["responsePreview"] == "y" * 100


# ---- faults become results ----------------------------------------------------------------------------


def with_user_openai(api):
    api.put("/api/byok-keys/openai", {"apiKey": USER_OPENAI})
    return {"agentActionName": "blueprint", "tempConfig": {"modelName": "openai/gpt-5"}}


@pytest.mark.parametrize(
    ("behaviour", "error"),
    [
        ({"mode": "status", "status": 401}, "invalid API key for openai"),
        ({"mode": "status", "status": 403}, "invalid API key for openai"),
        ({"mode": "status", "status": 429}, "rate limited by provider"),
        (
            {"mode": "status", "status": 429, "headers": {"retry-after": "30"}},
            "rate limited by provider (retry after 30s)",
        ),
        ({"mode": "status", "status": 500}, "provider unavailable (HTTP 500)"),
        ({"mode": "status", "status": 503, "headers": {"x-should-retry": "false"}}, "provider unavailable (HTTP 503)"),
        ({"mode": "status", "status": 404}, "model not found at provider (HTTP 404)"),
        ({"mode": "status", "status": 400}, "provider rejected the request (HTTP 400)"),
        ({"mode": "garbage"}, "unexpected response from provider"),
        ({"mode": "status", "status": 200, "body": {"choices": []}}, "unexpected response from provider"),
        ({"mode": "redirect"}, "unexpected response from provider (HTTP 302)"),
        ({"mode": "big"}, "unexpected response from provider (too large)"),
        ({"mode": "close"}, "provider closed the connection"),
    ],
)
def test_provider_faults_are_normalised(api, provider, behaviour, error):
    body = with_user_openai(api)
    provider.behave(**behaviour)
    result = run(api, body)
    assert result["success"] is False
    assert result["error"] == error
    assert result["keySource"] == "user"
    assert len(provider.seen) == 1  # no retry unless the provider asks; redirects not followed
    dumped = json.dumps(result)
    assert "upstream said no" not in dumped and USER_OPENAI not in dumped and "html" not in dumped


def test_anthropic_overloaded_529(api, provider):
    api.put("/api/byok-keys/anthropic", {"apiKey": USER_ANTHROPIC})
    provider.behave(mode="status", status=529, body={"type": "error", "error": {"type": "overloaded_error"}})
    result = run(api, {"agentActionName": "blueprint", "tempConfig": {"modelName": "anthropic/claude-haiku-4-5"}})
    assert result["error"] == "provider unavailable (HTTP 529)"


def test_gemini_invalid_key_400(api, provider):
    provider.behave(
        mode="status",
        status=400,
        body={
            "error": {
                "code": 400,
                "message": "API key not valid. Please pass a valid API key.",
                "status": "INVALID_ARGUMENT",
                "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}],
            }
        },
    )
    assert run(api, {"agentActionName": "blueprint"})["error"] == "invalid API key for google-ai-studio"


def test_one_retry_when_the_provider_asks(api, provider):
    body = with_user_openai(api)
    provider.behave(mode="status", status=429, headers={"retry-after-ms": "50"}, times=1)
    result = run(api, body)
    assert result["success"] is True
    assert len(provider.seen) == 2
    provider.reset()
    provider.behave(mode="status", status=503, headers={"x-should-retry": "true", "retry-after": "0"})
    result = run(api, body)
    assert result["error"] == "provider unavailable (HTTP 503)"
    assert len(provider.seen) == 2  # at most one retry


def test_a_retry_that_would_pass_the_deadline_is_not_made(api, provider, waits, monkeypatch):
    monkeypatch.setattr(client, "MAX_RETRY_WAIT_SECONDS", 10.0)  # 5 s is allowed, but not within the 2 s deadline
    body = with_user_openai(api)
    provider.behave(mode="status", status=429, headers={"retry-after": "5"})
    assert run(api, body)["error"] == "rate limited by provider (retry after 5s)"
    assert len(provider.seen) == 1
    assert waits == []


def test_slow_provider_times_out_at_the_deadline(api, provider):
    provider.behave(mode="ok", delay=4)
    result = run(api, {"agentActionName": "blueprint"})
    assert result == result | {"success": False, "error": "timed out after 2s"}
    assert result["latencyMs"] >= 1900  # it waited for the deadline, not less


def test_dripping_provider_is_held_to_one_overall_deadline(api, provider):
    provider.behave(mode="drip")  # a byte every 50 ms: each read is quick, the whole answer takes seconds
    result = run(api, {"agentActionName": "blueprint"})
    assert result["error"] == "timed out after 2s"  # the overall deadline, not a per-read timeout


@pytest.mark.parametrize(
    "base_url, reason",
    [
        ("http://127.0.0.1:{closed}", "connection refused"),  # a port nobody listens on
        ("http://no-such-host.invalid", "DNS lookup failed"),  # .invalid never resolves (RFC 6761)
        ("https://127.0.0.1:{server}", "TLS handshake failed"),  # TLS to a server that speaks plain HTTP
    ],
)
def test_unreachable_provider_says_why_in_the_answer_and_the_log(
    api, aws, server, monkeypatch, log_lines, base_url, reason
):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    monkeypatch.setenv("GOOGLE_AI_STUDIO_BASE_URL", base_url.format(closed=closed, server=server.server_address[1]))
    reset_caches()
    assert run(api, {"agentActionName": "blueprint"})["error"] == f"could not reach provider ({reason})"
    (line,) = [line for line in log_lines() if line.get("message") == "model test"]
    assert line["error"] == f"could not reach provider ({reason})"


def test_key_store_down_is_a_failed_test_not_an_error(api, aws, provider):

    from modelconfig.storage import aws as aws_clients

    api.put("/api/byok-keys/openai", {"apiKey": USER_OPENAI})
    fail(aws_clients.secretsmanager(), "GetSecretValue", "InternalServiceError", status=500)
    result = run(api, {"agentActionName": "blueprint", "tempConfig": {"modelName": "openai/gpt-5"}})
    assert result["success"] is False
    assert result["error"] == "could not read your API key: the key store is unavailable, retry shortly"
    assert provider.seen == []
