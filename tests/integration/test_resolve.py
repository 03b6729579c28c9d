"""ResolveFunction (SPEC section 11), invoked through the template's handler as Lambda `Invoke` would: the
effective config and key per agent action, under the routes' own rules, at the AWS-call floor."""

from __future__ import annotations

import json

import pytest

from infra import runtime
from modelconfig import clock, resolve
from modelconfig.catalog import CATALOG
from tests.support.api import Api
from tests.support.constants import ANTHROPIC_KEY, OPUS, PLATFORM_KEYS, PRO

RENEWED_KEY = "sk-ant-api03-renewed-0123456789ABCDEFGHIJ"
PLATFORM_GOOGLE = PLATFORM_KEYS["google-ai-studio"]
ACTIONS = [{"key": key} for key in CATALOG.actions]  # in the catalog's order
NOW = 1_794_996_000.0  # 2026-11-18T10:00:00Z


@pytest.fixture(autouse=True)
def _cold_cache():
    resolve.reset_cache()  # each test starts as a fresh instance
    yield
    resolve.reset_cache()


@pytest.fixture
def frozen_clock(monkeypatch):
    now = [NOW]
    monkeypatch.setattr(clock, "now", lambda: now[0])
    return now


def invoke(event):
    fn = runtime.function("ResolveFunction")
    return runtime.handler(fn)(event, runtime.Context(fn))


def resolved(user, *actions):
    answer = invoke({"userId": user, "agentActions": list(actions)})
    assert set(answer) == {"resolved"}, answer
    return answer["resolved"]


def key_status(api, provider):
    (found,) = [p for p in api.get("/api/byok-keys").data["providers"] if p["provider"] == provider]
    return found


def test_a_new_user_resolves_to_the_defaults_with_the_platform_key(api, aws):
    defaults = api.get("/api/model-configs/defaults").data["defaults"]["blueprint"]
    calls = aws.count_calls()
    resolved("new-user", "blueprint")
    assert calls == {"dynamodb.Query": 1, "secretsmanager.GetSecretValue": 1}  # a fresh instance: the platform keys
    calls = aws.count_calls()
    answer = resolved("new-user", "blueprint")["blueprint"]
    assert calls == {"dynamodb.Query": 1}  # warm: the platform keys come from their 5-minute cache
    assert answer == {
        "config": defaults | {"isUserOverride": False},
        "model": "gemini-3-flash-preview",
        "provider": "google-ai-studio",
        "baseUrl": answer["baseUrl"],
        "keySource": "platform",
        "apiKey": PLATFORM_GOOGLE,
        "error": None,
        "fallback": {
            "model": "gemini-2.5-pro",
            "provider": "google-ai-studio",
            "baseUrl": answer["baseUrl"],
            "keySource": "platform",
            "apiKey": PLATFORM_GOOGLE,
            "error": None,
        },
        "providerOverride": None,
    }
    assert answer["baseUrl"].endswith("/google") and not answer["baseUrl"].endswith("/")


def test_resolve_hands_on_the_overrides_provider_override_as_stored(api, aws):
    api.put("/api/model-configs/blueprint", {"modelName": PRO, "providerOverride": "cloudflare"})
    api.put("/api/model-configs/phaseGeneration", {"modelName": PRO, "providerOverride": None})
    answer = resolved("user-a", "blueprint", "phaseGeneration", "deepDebugger")
    assert answer["blueprint"]["providerOverride"] == "cloudflare"
    assert answer["phaseGeneration"]["providerOverride"] is None
    assert answer["deepDebugger"]["providerOverride"] is None  # no override: null


def test_an_inactive_override_hands_on_no_provider_override(api, aws):
    api.put("/api/byok-keys/anthropic", {"apiKey": ANTHROPIC_KEY})
    api.put("/api/model-configs/blueprint", {"modelName": OPUS, "providerOverride": "direct"})
    assert resolved("user-a", "blueprint")["blueprint"]["providerOverride"] == "direct"
    api.delete("/api/byok-keys/anthropic")  # the override stays stored, but reads as the default
    answer = resolved("user-a", "blueprint")["blueprint"]
    assert answer["config"]["isUserOverride"] is False
    assert answer["providerOverride"] is None  # the default is in effect, and carries no routing wish


def test_an_override_with_a_user_key_and_one_with_the_platform_key(api, aws):
    api.put("/api/byok-keys/anthropic", {"apiKey": ANTHROPIC_KEY})
    api.put("/api/model-configs/blueprint", {"modelName": OPUS, "maxTokens": 900, "fallbackModel": PRO})
    api.put("/api/model-configs/phaseGeneration", {"modelName": PRO})
    answer = resolved("user-a", "blueprint", "phaseGeneration")
    blueprint = answer["blueprint"]
    assert blueprint["config"]["name"] == OPUS and blueprint["config"]["max_tokens"] == 900
    assert (blueprint["model"], blueprint["provider"]) == ("claude-opus-4-5", "anthropic")
    assert (blueprint["keySource"], blueprint["apiKey"], blueprint["error"]) == ("user", ANTHROPIC_KEY, None)
    assert blueprint["baseUrl"].endswith("/anthropic")
    assert blueprint["fallback"]["model"] == "gemini-2.5-pro"  # the fallback resolved too
    assert (blueprint["fallback"]["keySource"], blueprint["fallback"]["apiKey"]) == ("platform", PLATFORM_GOOGLE)
    phase = answer["phaseGeneration"]
    assert (phase["model"], phase["keySource"], phase["apiKey"]) == ("gemini-2.5-pro", "platform", PLATFORM_GOOGLE)


def test_a_users_own_key_comes_first_for_a_platform_provider_too(api, aws):
    user_google = "AIzaSyUSER-google-key-00000000000"
    api.put("/api/byok-keys/google-ai-studio", {"apiKey": user_google})
    answer = resolved("user-a", "blueprint")["blueprint"]
    assert (answer["keySource"], answer["apiKey"]) == ("user", user_google)


def test_a_switched_off_action_gets_no_key_at_all(api, aws):
    api.put("/api/model-configs/blueprint", {"modelName": "disabled", "fallbackModel": PRO})
    answer = resolved("user-a", "blueprint")["blueprint"]
    assert answer["config"]["name"] == "disabled"
    assert {k: v for k, v in answer.items() if k != "config"} == {
        "model": "disabled",
        "provider": None,
        "baseUrl": None,
        "keySource": None,
        "apiKey": None,
        "error": None,
        "fallback": None,
        "providerOverride": None,
    }


def test_a_provider_without_any_key_says_so(api, aws):
    api.put("/api/byok-keys/anthropic", {"apiKey": ANTHROPIC_KEY})
    api.put("/api/model-configs/blueprint", {"modelName": PRO, "fallbackModel": "anthropic/claude-sonnet-4-5"})
    api.delete("/api/byok-keys/anthropic")
    answer = resolved("user-a", "blueprint")["blueprint"]
    # The fallback lost its key: the default fallback (a platform model), as GET shows it.
    assert answer["config"] == api.get("/api/model-configs/blueprint").data["config"]
    assert answer["fallback"]["provider"] == "google-ai-studio"


def test_a_platform_provider_whose_key_is_missing_gives_an_error_not_a_key(api, aws, monkeypatch):
    monkeypatch.setenv("PLATFORM_MODEL_PROVIDERS", "google-ai-studio,openai")  # openai: enabled, no key
    from tests.support.aws import reset_caches

    reset_caches()
    api.put("/api/model-configs/blueprint", {"modelName": "openai/gpt-5"})
    answer = resolved("user-a", "blueprint")["blueprint"]
    assert (answer["provider"], answer["keySource"], answer["apiKey"]) == ("openai", None, None)
    assert answer["error"] == "no platform API key is configured for provider 'openai'"
    assert answer["model"] == "gpt-5" and answer["baseUrl"].endswith("/openai/v1")  # where it would call


def test_an_override_is_inactive_after_its_key_is_deleted(api, aws):
    api.put("/api/byok-keys/anthropic", {"apiKey": ANTHROPIC_KEY})
    api.put("/api/model-configs/blueprint", {"modelName": OPUS})
    assert resolved("user-a", "blueprint")["blueprint"]["apiKey"] == ANTHROPIC_KEY
    api.delete("/api/byok-keys/anthropic")
    answer = resolved("user-a", "blueprint")["blueprint"]
    assert answer["config"]["isUserOverride"] is False
    assert answer["config"]["inactiveReason"] == "no API key for provider 'anthropic'"
    assert (answer["provider"], answer["keySource"]) == ("google-ai-studio", "platform")
    assert ANTHROPIC_KEY not in json.dumps(answer)  # never served from the cache after its deletion


def test_an_expired_key_is_never_served(api, aws, frozen_clock):
    api.put("/api/byok-keys/anthropic", {"apiKey": ANTHROPIC_KEY, "expiresAt": "2026-11-18T11:00:00Z"})
    api.put("/api/model-configs/blueprint", {"modelName": OPUS})
    assert resolved("user-a", "blueprint")["blueprint"]["keySource"] == "user"
    frozen_clock[0] += 3600
    answer = resolved("user-a", "blueprint")["blueprint"]
    assert answer["config"]["inactiveReason"] == "the API key for provider 'anthropic' expired"
    assert ANTHROPIC_KEY not in json.dumps(answer)


def test_all_thirteen_actions_in_one_call_make_one_query(api, aws):
    api.put("/api/byok-keys/anthropic", {"apiKey": ANTHROPIC_KEY})
    api.put("/api/model-configs/blueprint", {"modelName": OPUS})
    names = [a["key"] for a in ACTIONS]
    assert len(names) == 13
    resolved("user-a", *names)  # the first: reads the secret once for all the actions it serves
    calls = aws.count_calls()
    answer = resolved("user-a", *names)
    assert list(answer) == names
    assert calls == {"dynamodb.Query": 1}
    defaults = api.get("/api/model-configs").data["configs"]
    assert {n: a["config"] for n, a in answer.items()} == defaults  # the same merge as the list route


def test_the_warm_floor_and_the_secret_cache_follow_the_key_status(api, aws, frozen_clock):
    api.put("/api/byok-keys/anthropic", {"apiKey": ANTHROPIC_KEY})
    api.put("/api/model-configs/blueprint", {"modelName": OPUS})
    resolved("user-a", "blueprint")  # a fresh instance: the Query, the secret, lastUsedAt

    frozen_clock[0] += 60
    calls = aws.count_calls()
    assert resolved("user-a", "blueprint")["blueprint"]["apiKey"] == ANTHROPIC_KEY
    assert calls == {"dynamodb.Query": 1}  # no secret read, and lastUsedAt is under an hour old

    api.put("/api/byok-keys/anthropic", {"apiKey": RENEWED_KEY})  # a new updatedAt
    calls = aws.count_calls()
    answer = resolved("user-a", "blueprint")["blueprint"]
    assert answer["apiKey"] == RENEWED_KEY  # the new key, never the cached old one
    assert calls == {"dynamodb.Query": 1, "secretsmanager.GetSecretValue": 1, "dynamodb.UpdateItem": 1}
    calls = aws.count_calls()
    resolved("user-a", "blueprint")
    assert calls == {"dynamodb.Query": 1}


def test_last_used_at_is_written_at_most_once_an_hour(api, aws, frozen_clock):
    api.put("/api/byok-keys/anthropic", {"apiKey": ANTHROPIC_KEY})
    api.put("/api/model-configs/blueprint", {"modelName": OPUS})
    resolved("user-a", "blueprint")
    assert key_status(api, "anthropic")["lastUsedAt"] == "2026-11-18T10:00:00.000Z"
    frozen_clock[0] += 59 * 60
    calls = aws.count_calls()
    resolved("user-a", "blueprint")
    assert "dynamodb.UpdateItem" not in calls
    frozen_clock[0] += 60  # an hour to the millisecond after the last mark: due again
    calls = aws.count_calls()
    resolved("user-a", "blueprint")
    assert calls["dynamodb.UpdateItem"] == 1
    assert key_status(api, "anthropic")["lastUsedAt"] == "2026-11-18T11:00:00.000Z"


def test_each_served_key_gets_its_own_hourly_mark(api, aws, frozen_clock):
    api.put("/api/byok-keys/anthropic", {"apiKey": ANTHROPIC_KEY})
    api.put("/api/byok-keys/openai", {"apiKey": "sk-proj-0123456789abcdefghijABCD"})
    api.put("/api/model-configs/blueprint", {"modelName": OPUS})
    api.put("/api/model-configs/phaseGeneration", {"modelName": "openai/gpt-5"})
    resolved("user-a", "blueprint", "phaseGeneration")  # both marked at 10:00
    frozen_clock[0] += 60
    api.put("/api/byok-keys/openai", {"apiKey": "sk-proj-renewed-0123456789abcdef"})  # a new key: never used
    resolved("user-a", "blueprint", "phaseGeneration")
    assert key_status(api, "anthropic")["lastUsedAt"] == "2026-11-18T10:00:00.000Z"  # fresh: not written again
    assert key_status(api, "openai")["lastUsedAt"] == "2026-11-18T10:01:00.000Z"  # the renewed key, marked


def test_the_secret_cache_holds_its_bound_of_users(aws, monkeypatch):
    monkeypatch.setattr(resolve, "MAX_CACHED_USERS", 2)
    for user in ("u1", "u2"):
        Api(user).put("/api/byok-keys/anthropic", {"apiKey": ANTHROPIC_KEY})
        Api(user).put("/api/model-configs/blueprint", {"modelName": OPUS})
        resolved(user, "blueprint")
    calls = aws.count_calls()
    resolved("u1", "blueprint")  # two users fit: still cached
    assert "secretsmanager.GetSecretValue" not in calls
    Api("u3").put("/api/byok-keys/anthropic", {"apiKey": ANTHROPIC_KEY})
    Api("u3").put("/api/model-configs/blueprint", {"modelName": OPUS})
    resolved("u3", "blueprint")  # a third: the least recently used (u2) goes
    calls = aws.count_calls()
    resolved("u1", "blueprint")
    assert "secretsmanager.GetSecretValue" not in calls
    resolved("u2", "blueprint")
    assert calls["secretsmanager.GetSecretValue"] == 1


def test_only_the_callers_partition_is_read(api, aws):
    Api("user-b").put("/api/byok-keys/anthropic", {"apiKey": ANTHROPIC_KEY})
    Api("user-b").put("/api/model-configs/blueprint", {"modelName": OPUS})
    seen = []
    from modelconfig.storage import aws as aws_clients

    aws_clients.dynamodb().meta.events.register(
        "before-parameter-build.dynamodb.Query", lambda params, **_: seen.append(params)
    )
    answer = resolved("user-a", "blueprint")["blueprint"]
    assert [p["ExpressionAttributeValues"][":pk"] for p in seen] == [{"S": "USER#user-a"}]
    assert answer["provider"] == "google-ai-studio" and ANTHROPIC_KEY not in json.dumps(answer)


@pytest.mark.parametrize(
    "event, message",
    [
        (
            {"userId": "user-a", "agentActions": ["nope"]},
            "agentActions.0: Input should be 'templateSelection', 'blueprint', ",
        ),
        ({"agentActions": ["blueprint"]}, "userId: Field required"),
        ({"userId": "", "agentActions": ["blueprint"]}, "userId: String should have at least 1 character"),
        ({"userId": "  ", "agentActions": ["blueprint"]}, "userId: must be a printable user id (the JWT sub claim)"),
        ({"userId": 7, "agentActions": ["blueprint"]}, "userId: Input should be a valid string"),
        ({"userId": "user-a", "agentActions": []}, "agentActions: List should have at least 1 item after validation"),
        (
            {"userId": "user-a", "agentActions": [a["key"] for a in ACTIONS] + ["blueprint"]},
            "agentActions: List should have at most 13 items after validation, not 14",
        ),
        ({"userId": "user-a", "agentActions": ["blueprint", "blueprint"]}, "agentActions: 'blueprint' is repeated"),
        ({"userId": "user-a", "agentActions": "blueprint"}, "agentActions: Input should be a valid list"),
        ([], "the event must be a JSON object: {userId, agentActions}"),
        ("blueprint", "the event must be a JSON object: {userId, agentActions}"),
    ],
)
def test_a_bad_event_is_an_error_answer_never_an_exception(aws, event, message):
    calls = aws.count_calls()
    answer = invoke(event)
    assert set(answer) == {"error"} and answer["error"]["name"] == "ValidationError"
    assert answer["error"]["message"].startswith(message), answer["error"]["message"]
    assert calls == {}  # nothing read for a bad event


def test_one_agent_action_string_is_accepted(aws):
    answer = invoke({"userId": "user-a", "agentAction": "conversationalResponse"})
    assert list(answer["resolved"]) == ["conversationalResponse"]


def test_an_unreadable_platform_list_is_a_service_unavailable_answer(aws, monkeypatch):
    from modelconfig.storage import aws as aws_clients
    from tests.support.aws import reset_caches
    from tests.support.faults import fail

    monkeypatch.delenv("PLATFORM_MODEL_PROVIDERS")
    reset_caches()
    fail(aws_clients.secretsmanager(), "GetSecretValue", "InternalServiceError", status=500, times=5)
    answer = invoke({"userId": "user-a", "agentActions": ["blueprint"]})
    assert answer["error"]["name"] == "ServiceUnavailable"
    assert answer["error"]["message"].startswith("the platform key store is unavailable right now; retry shortly")


def test_no_key_in_any_log_line(api, aws, log_lines):
    api.put("/api/byok-keys/anthropic", {"apiKey": ANTHROPIC_KEY})
    api.put("/api/model-configs/blueprint", {"modelName": OPUS})
    resolved("user-a", *[a["key"] for a in ACTIONS])
    invoke({"userId": "user-a", "agentActions": ["nope"]})
    lines = [line for line in log_lines() if line.get("function_name") == "ResolveFunction"]
    assert lines, "the function logs"
    text = json.dumps(lines)
    for secret in (ANTHROPIC_KEY, PLATFORM_GOOGLE, ANTHROPIC_KEY[8:-4], PLATFORM_GOOGLE[6:-4]):
        assert secret not in text
    (line,) = [line for line in lines if line["message"] == "resolved"]
    assert line["userId"] == "user-a" and line["keySources"]["blueprint"] == "user"
    assert set(line) - {"level", "location", "message", "timestamp", "service", "cold_start", "function_name"} <= {
        "function_memory_size",
        "function_arn",
        "function_request_id",
        "userId",
        "actions",
        "keySources",
        "xray_trace_id",
    }


def test_a_failed_last_used_write_never_fails_the_answer(api, aws, log_lines):
    from modelconfig.storage import aws as aws_clients
    from tests.integration.test_faults import fail

    api.put("/api/byok-keys/anthropic", {"apiKey": ANTHROPIC_KEY})
    api.put("/api/model-configs/blueprint", {"modelName": OPUS})
    fail(aws_clients.dynamodb(), "UpdateItem", "ProvisionedThroughputExceededException", status=400, times=10)
    answer = resolved("user-a", "blueprint")["blueprint"]
    assert answer["apiKey"] == ANTHROPIC_KEY
    (warning,) = [line for line in log_lines() if line["message"] == "could not record the key's lastUsedAt"]
    assert warning["level"] == "WARNING" and warning["cause"] == "ServiceUnavailable"  # why, never the key
    assert "lastUsedAt" not in key_status(api, "anthropic")
