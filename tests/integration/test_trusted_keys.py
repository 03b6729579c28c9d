"""BYOK keys users can trust (SPEC sections 4, 7 and 8): checked with the provider on save, able to expire,
and honest about what they unlock. Every request goes through the template's handlers; the key checks reach
the loopback provider server, which rejects any key containing 'invalid'."""

from __future__ import annotations

import pytest

from infra import runtime
from modelconfig import clock, sweep
from modelconfig.storage import aws as aws_clients
from modelconfig.storage import secrets
from tests.integration.test_faults import fail
from tests.support.api import Api
from tests.support.aws import reset_caches
from tests.support.constants import ANTHROPIC_KEY, GROK_KEY, OPENAI_KEY, OPUS, PLATFORM_SECRET

GOOGLE_KEY = "AIzaSyUSER-google-key-00000000000"
NOW = 1_794_996_000.0  # 2026-11-18T10:00:00Z
NOW_ISO = "2026-11-18T10:00:00.000Z"


@pytest.fixture
def frozen_clock(monkeypatch):
    now = [NOW]
    monkeypatch.setattr(clock, "now", lambda: now[0])
    return now


def key_items(aws, user="user-a"):
    return {i["sk"]["S"]: i for i in aws.items() if i["pk"]["S"] == f"USER#{user}" and i["sk"]["S"].startswith("BYOK")}


def status_of(api, provider):
    (found,) = [p for p in api.get("/api/byok-keys").data["providers"] if p["provider"] == provider]
    return found


# ---- the check on save --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "provider, key, path, header, sent",
    [
        ("openai", OPENAI_KEY, "/openai/v1/models", "authorization", f"Bearer {OPENAI_KEY}"),
        ("anthropic", ANTHROPIC_KEY, "/anthropic/v1/models", "x-api-key", ANTHROPIC_KEY),
        ("google-ai-studio", GOOGLE_KEY, "/google/v1beta/models", "x-goog-api-key", GOOGLE_KEY),
        ("grok", GROK_KEY, "/grok/v1/models", "authorization", f"Bearer {GROK_KEY}"),
    ],
)
def test_an_accepted_key_is_stored_verified(api, aws, server, frozen_clock, provider, key, path, header, sent):
    data = api.put(f"/api/byok-keys/{provider}", {"apiKey": key}).data
    assert data["verifiedAt"] == data["updatedAt"] == NOW_ISO and "verifyError" not in data
    (check,) = server.checks
    assert (check.method, check.path, check.headers[header]) == ("GET", path, sent)
    assert server.seen == []  # a check never sends a prompt
    assert aws.user_secret("user-a") == {provider: key}
    assert status_of(api, provider)["verifiedAt"] == NOW_ISO


@pytest.mark.parametrize(
    "provider, key",
    [
        ("openai", "sk-proj-invalid-0123456789abcdef"),  # 401 from the provider
        ("google-ai-studio", "AIzaSy-invalid-key-000000000000000"),  # Gemini's 400 API_KEY_INVALID
    ],
)
def test_a_key_the_provider_rejects_is_a_400_and_nothing_is_stored(api, aws, server, provider, key):
    calls = aws.count_calls()
    reply = api.put(f"/api/byok-keys/{provider}", {"apiKey": key})
    assert reply.status == 400
    assert reply.error == {
        "name": "ValidationError",
        "message": f"the provider rejected this key (invalid API key for {provider})",
    }
    assert key not in str(reply.raw)
    assert len(server.checks) == 1
    assert calls == {"dynamodb.UpdateItem": 1}  # the key-write counter only: no lease, no secret, no status
    assert aws.user_secret("user-a") is None and key_items(aws) == {}


@pytest.mark.parametrize(
    "behaviour, error",
    [
        ({"mode": "status", "status": 500}, "provider unavailable (HTTP 500)"),
        ({"mode": "status", "status": 429}, "rate limited by provider"),
        ({"mode": "redirect"}, "unexpected response from provider (HTTP 302)"),
        ({"mode": "close"}, "provider closed the connection"),
        ({"mode": "slow", "delay": 2.0}, "timed out after 0.5s"),
    ],
)
def test_a_check_that_fails_stores_the_key_unverified_and_says_why(
    api, aws, server, monkeypatch, log_lines, behaviour, error
):
    monkeypatch.setenv("KEY_VERIFY_TIMEOUT_SECONDS", "0.5")
    reset_caches()
    server.behave_on_check(**behaviour)
    reply = api.put("/api/byok-keys/openai", {"apiKey": OPENAI_KEY})
    assert reply.status == 200
    assert reply.data["verifyError"] == error and "verifiedAt" not in reply.data
    assert len(server.checks) == 1  # one check: no retry, no redirect followed
    assert aws.user_secret("user-a") == {"openai": OPENAI_KEY}
    assert status_of(api, "openai")["hasValidKey"] is True and "verifiedAt" not in status_of(api, "openai")
    (line,) = [line for line in log_lines() if line.get("message") == "key check"]
    assert (line["outcome"], line["error"]) == ("unchecked", error)
    assert OPENAI_KEY not in str(log_lines())


def test_an_unreachable_provider_is_a_verify_error_that_names_the_reason(api, aws, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://no-such-host.invalid/v1")
    reset_caches()
    data = api.put("/api/byok-keys/openai", {"apiKey": OPENAI_KEY}).data
    assert data["verifyError"] == "could not reach provider (DNS lookup failed)"


def test_verify_false_stores_without_asking_and_a_failed_check_clears_verified_at(api, aws, server):
    assert "verifiedAt" in api.put("/api/byok-keys/anthropic", {"apiKey": ANTHROPIC_KEY}).data
    unchecked = api.put("/api/byok-keys/anthropic", {"apiKey": ANTHROPIC_KEY}, query={"verify": "false"}).data
    assert "verifiedAt" not in unchecked and "verifyError" not in unchecked
    assert len(server.checks) == 1  # only the first PUT asked
    assert "verifiedAt" not in status_of(api, "anthropic")
    assert "verifiedAt" in api.put("/api/byok-keys/anthropic", {"apiKey": ANTHROPIC_KEY}).data
    server.behave_on_check(mode="status", status=503)
    assert api.put("/api/byok-keys/anthropic", {"apiKey": ANTHROPIC_KEY}).data["verifyError"]
    assert "verifiedAt" not in status_of(api, "anthropic")


def test_a_key_of_another_providers_shape_is_refused_and_never_sent(api, aws, server):
    reply = api.put("/api/byok-keys/openai", {"apiKey": ANTHROPIC_KEY})
    assert reply.status == 400
    assert reply.error["message"] == "apiKey: does not look like an openai key (it should start with 'sk-')"
    assert server.checks == [] and aws.user_secret("user-a") is None
    assert api.put("/api/byok-keys/verify", {"apiKey": OPENAI_KEY}).status == 400  # not a provider
    grok = api.put("/api/byok-keys/grok", {"apiKey": OPENAI_KEY})
    assert grok.error["message"] == "apiKey: does not look like a grok key (it should start with 'xai-')"


def test_a_key_over_512_characters_is_counted_in_characters(api, aws, server):
    reply = api.put("/api/byok-keys/openai", {"apiKey": "sk-" + "a" * 510})
    assert reply.status == 400
    assert reply.error["message"] == "apiKey: at most 512 characters"  # pydantic said "512 items"
    assert server.checks == []


# ---- expiry ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expires_at, message",
    [
        ("2026-11-18T09:59:59Z", "expiresAt: must be in the future"),
        ("2027-11-20T10:00:00Z", "expiresAt: at most 366 days ahead"),
        ("2027-01-01", "expiresAt: must be an ISO-8601 date-time with a time zone, such as 2027-01-31T00:00:00Z"),
        (
            "2027-01-01T00:00:00",
            "expiresAt: must be an ISO-8601 date-time with a time zone, such as 2027-01-31T00:00:00Z",
        ),
        ("", "expiresAt: must be an ISO-8601 date-time with a time zone, such as 2027-01-31T00:00:00Z"),
        (1795000000, "expiresAt: Input should be a valid string"),
    ],
)
def test_a_bad_expiry_is_a_400_and_nothing_is_checked_or_stored(api, aws, server, frozen_clock, expires_at, message):
    reply = api.put("/api/byok-keys/openai", {"apiKey": OPENAI_KEY, "expiresAt": expires_at})
    assert reply.status == 400 and reply.error["message"] == message
    assert server.checks == [] and aws.user_secret("user-a") is None


def test_an_expiry_is_stored_in_utc_and_null_means_none(api, aws, frozen_clock):
    data = api.put("/api/byok-keys/openai", {"apiKey": OPENAI_KEY, "expiresAt": "2027-11-19T11:00:00+01:00"}).data
    assert data["expiresAt"] == "2027-11-19T10:00:00.000Z"  # 366 days ahead, to the second
    assert key_items(aws)["BYOK#openai"]["keyExpiresAt"] == {"S": "2027-11-19T10:00:00.000Z"}
    assert "expiresAt" not in key_items(aws)["BYOK#openai"]  # never the table's TTL attribute
    assert "expiresAt" not in api.put("/api/byok-keys/openai", {"apiKey": OPENAI_KEY, "expiresAt": None}).data


def test_an_expired_key_counts_as_absent_everywhere(api, aws, provider, frozen_clock):
    api.put("/api/byok-keys/anthropic", {"apiKey": ANTHROPIC_KEY, "expiresAt": "2026-11-18T11:00:00Z"})
    saved = api.put("/api/model-configs/blueprint", {"modelName": OPUS}).data["config"]
    assert api.post("/api/model-configs/test", {"agentActionName": "blueprint"}).data["testResult"]["success"]

    frozen_clock[0] += 3600  # 11:00:00Z: the key stops counting at its expiry
    key = status_of(api, "anthropic")
    assert key["hasValidKey"] is False and key["expiresAt"] == "2026-11-18T11:00:00.000Z"
    merged = api.get("/api/model-configs/blueprint").data["config"]
    assert merged["isUserOverride"] is False and merged["name"] != OPUS
    assert merged["inactiveReason"] == "the API key for provider 'anthropic' expired"  # not "no API key"
    assert api.get("/api/model-configs").data["configs"]["blueprint"] == merged
    result = api.post("/api/model-configs/test", {"agentActionName": "blueprint", "tempConfig": {"modelName": OPUS}})
    assert result.data["testResult"]["error"] == "the API key for provider 'anthropic' expired"
    providers = api.get("/api/model-configs/byok-providers").data
    assert {"provider": "anthropic", "hasValidKey": False} in providers["providers"]
    assert "anthropic" not in providers["modelsByProvider"]
    refused = api.put("/api/model-configs/blueprint", {"modelName": OPUS})
    assert (
        refused.status == 403 and "the API key for provider 'anthropic' expired; renew it" in refused.error["message"]
    )
    assert len(provider.seen) == 1  # the one test before the expiry

    deleted = api.delete("/api/byok-keys/anthropic")  # still stored until the sweep: a DELETE answers 200
    assert deleted.status == 200 and deleted.data["affectedActions"] == []  # it already counted as absent
    api.put("/api/byok-keys/anthropic", {"apiKey": ANTHROPIC_KEY})  # a new key without expiry
    back = api.get("/api/model-configs/blueprint").data["config"]
    assert back["isUserOverride"] is True and back["userConfigId"] == saved["id"]


def test_the_sweep_purges_expired_keys_and_keeps_live_ones(api, aws, frozen_clock):
    api.put("/api/byok-keys/anthropic", {"apiKey": ANTHROPIC_KEY, "expiresAt": "2026-11-18T11:00:00Z"})
    api.put("/api/byok-keys/openai", {"apiKey": OPENAI_KEY, "expiresAt": "2026-12-18T11:00:00Z"})
    other = Api("user-b")
    other.put("/api/byok-keys/grok", {"apiKey": GROK_KEY, "expiresAt": "2026-11-18T10:30:00Z"})
    before = sweep.sweep(sweep.SweepRequest(run_id="early"), time_left_ms=lambda: 600_000)
    assert before["keysPurged"] == 0

    frozen_clock[0] += 2 * 3600
    result = sweep.sweep(sweep.SweepRequest(run_id="later"), time_left_ms=lambda: 600_000)
    assert result["keysPurged"] == 2 and result["complete"] is True
    assert aws.user_secret("user-a") == {"openai": OPENAI_KEY}
    assert set(key_items(aws)) == {"BYOK#openai"}
    assert aws.user_secret("user-b") is None and key_items(aws, "user-b") == {}  # the last key: secret scheduled
    again = sweep.sweep(sweep.SweepRequest(run_id="again"), time_left_ms=lambda: 600_000)
    assert again["keysPurged"] == 0


def test_a_key_replaced_after_the_sweep_read_it_is_not_purged(api, aws, frozen_clock):
    from modelconfig import keys

    api.put("/api/byok-keys/anthropic", {"apiKey": ANTHROPIC_KEY, "expiresAt": "2026-11-18T11:00:00Z"})
    frozen_clock[0] += 2 * 3600
    renewed = "sk-ant-api03-renewed-0123456789ABCDEFGHIJ"
    api.put("/api/byok-keys/anthropic", {"apiKey": renewed})  # saved between the scan and the purge
    assert keys.purge_expired("user-a", ["anthropic"]) == []
    assert aws.user_secret("user-a") == {"anthropic": renewed}
    assert status_of(api, "anthropic")["hasValidKey"] is True


# ---- lastUsedAt -----------------------------------------------------------------------------------------


def test_a_test_that_sent_the_users_key_sets_last_used_at_and_nothing_else(api, aws, provider, frozen_clock):
    saved = api.put("/api/byok-keys/anthropic", {"apiKey": ANTHROPIC_KEY}).data
    assert "lastUsedAt" not in status_of(api, "anthropic")
    api.post("/api/model-configs/test", {"agentActionName": "blueprint"})  # the platform's google key
    assert "lastUsedAt" not in status_of(api, "anthropic")

    frozen_clock[0] += 60
    provider.behave(mode="status", status=500)  # whatever the provider answers, the key was sent
    body = {"agentActionName": "blueprint", "tempConfig": {"modelName": OPUS}}
    assert api.post("/api/model-configs/test", body).data["testResult"]["keySource"] == "user"
    used = status_of(api, "anthropic")
    assert used["lastUsedAt"] == "2026-11-18T10:01:00.000Z"
    assert used["updatedAt"] == saved["updatedAt"] and used["verifiedAt"] == saved["verifiedAt"]

    frozen_clock[0] += 60
    api.post("/api/model-configs/test", body | {"useUserKeys": False})  # the platform has no anthropic key
    assert status_of(api, "anthropic")["lastUsedAt"] == "2026-11-18T10:01:00.000Z"


# ---- inactive overrides and affectedActions -------------------------------------------------------------


def test_an_override_is_inactive_while_its_key_is_gone_and_active_again_after(api, aws):
    api.put("/api/byok-keys/anthropic", {"apiKey": ANTHROPIC_KEY})
    api.put("/api/model-configs/blueprint", {"modelName": OPUS, "maxTokens": 900})
    api.put(
        "/api/model-configs/deepDebugger",
        {"modelName": "google-ai-studio/gemini-2.5-pro", "fallbackModel": "anthropic/claude-sonnet-4-5"},
    )
    api.put("/api/model-configs/phaseGeneration", {"modelName": "google-ai-studio/gemini-2.5-pro"})
    active = api.get("/api/model-configs").data["configs"]
    assert active["blueprint"]["isUserOverride"] is True and active["blueprint"]["name"] == OPUS

    calls = aws.count_calls()
    deleted = api.delete("/api/byok-keys/anthropic")
    assert deleted.data == {"message": "anthropic key deleted", "affectedActions": ["blueprint", "deepDebugger"]}
    assert sum(calls.values()) == 6  # SPEC section 8: at most 6, with one read for affectedActions
    assert calls["dynamodb.Query"] == 1

    calls = aws.count_calls()
    configs = api.get("/api/model-configs").data["configs"]
    one = api.get("/api/model-configs/blueprint").data["config"]
    assert calls == {"dynamodb.Query": 2}  # list and get: one Query each, configs and key status together
    default = api.get("/api/model-configs/defaults").data["defaults"]
    assert (
        one
        == configs["blueprint"]
        == default["blueprint"]
        | {
            "isUserOverride": False,
            "inactiveReason": "no API key for provider 'anthropic'",
        }
    )
    # A fallback without access alone: the default fallback, the override otherwise kept, no inactiveReason.
    debugger = configs["deepDebugger"]
    assert debugger["isUserOverride"] is True and "inactiveReason" not in debugger
    assert debugger["name"] == "google-ai-studio/gemini-2.5-pro"
    assert debugger["fallbackModel"] == default["deepDebugger"].get("fallbackModel")
    assert "inactiveReason" not in configs["phaseGeneration"]

    api.put("/api/byok-keys/anthropic", {"apiKey": ANTHROPIC_KEY})  # the override is still stored: active again
    back = api.get("/api/model-configs/blueprint").data["config"]
    assert back == active["blueprint"] and back["max_tokens"] == 900
    assert api.get("/api/model-configs").data["configs"]["deepDebugger"] == active["deepDebugger"]


def test_deleting_a_key_the_platform_also_covers_affects_nothing(api, aws):
    api.put("/api/byok-keys/google-ai-studio", {"apiKey": GOOGLE_KEY})
    api.put("/api/model-configs/blueprint", {"modelName": "google-ai-studio/gemini-2.5-pro"})
    assert api.delete("/api/byok-keys/google-ai-studio").data["affectedActions"] == []


# ---- the write side of a config copied from GET --------------------------------------------------------


def test_a_config_read_by_get_can_be_sent_back_as_it_is(api, aws):
    api.put("/api/model-configs/blueprint", {"modelName": "google-ai-studio/gemini-2.5-pro", "maxTokens": 1234})
    read = api.get("/api/model-configs/blueprint").data["config"]
    body = read | {"reasoning_effort": "high", "providerOverride": "cloudflare"}
    row = api.put("/api/model-configs/blueprint", body).data["config"]
    assert (row["modelName"], row["maxTokens"], row["reasoningEffort"]) == (read["name"], 1234, "high")
    assert row["providerOverride"] == "cloudflare"
    assert api.get("/api/model-configs/blueprint").data["config"]["reasoning_effort"] == "high"
    conflict = api.put("/api/model-configs/blueprint", {"modelName": read["name"], "name": OPUS})
    assert conflict.status == 400
    assert conflict.error["message"] == "name and modelName are one field with two values; send one"
    unset = api.put("/api/model-configs/blueprint", {"modelName": read["name"]}).data["config"]
    assert unset["providerOverride"] is None


def test_no_key_or_verify_error_carries_the_key(api, aws, server, log_lines):
    server.behave_on_check(mode="status", status=500)
    reply = api.put("/api/byok-keys/openai", {"apiKey": OPENAI_KEY})
    everything = str(reply.raw) + str(log_lines()) + str(aws.items())
    assert OPENAI_KEY not in everything and OPENAI_KEY[4:-4] not in everything
    assert secrets.secret_name("user-a") not in str(reply.raw)


# ---- through the handlers that read the platform list from its secret, and the scheduled sweep ----------


def invoke_sweep(event):
    fn = runtime.function("SweepFunction")
    return runtime.handler(fn)(event, runtime.Context(fn))


def test_views_and_affected_actions_follow_the_platform_secret_and_survive_it_failing(aws, monkeypatch, log_lines):
    monkeypatch.delenv("PLATFORM_MODEL_PROVIDERS")  # the platform-enabled providers come from the secret
    reset_caches()
    api = Api("user-s")
    api.put("/api/byok-keys/anthropic", {"apiKey": ANTHROPIC_KEY})
    api.put("/api/model-configs/blueprint", {"modelName": OPUS})
    assert api.delete("/api/byok-keys/anthropic").data["affectedActions"] == ["blueprint"]
    reset_caches()  # each view on a cold start of its own: it reads the platform list from the secret
    assert api.get("/api/model-configs").data["configs"]["blueprint"]["isUserOverride"] is False
    reset_caches()
    assert api.get("/api/model-configs/blueprint").data["config"]["inactiveReason"] == (
        "no API key for provider 'anthropic'"
    )
    reset_caches()  # a cold start whose platform secret read fails: the view answers, nothing reads inactive
    fail(aws_clients.secretsmanager(), "GetSecretValue", "InternalServiceError", status=500, times=5)
    reply = api.get("/api/model-configs/blueprint")
    assert reply.status == 200 and reply.data["config"]["isUserOverride"] is True
    reset_caches()  # the key back, on a healthy cold start
    assert api.put("/api/byok-keys/anthropic", {"apiKey": ANTHROPIC_KEY}).status == 200
    reset_caches()  # and a DELETE on such a cold start: the key goes, and the answer is no 503
    fail(
        aws_clients.secretsmanager(),
        "GetSecretValue",
        "InternalServiceError",
        status=500,
        times=5,
        when=lambda request: PLATFORM_SECRET in str(request.get("body")),  # the platform secret only
    )
    deleted = api.delete("/api/byok-keys/anthropic")
    assert deleted.status == 200 and deleted.data["affectedActions"] == []
    assert aws.user_secret("user-s") is None
    assert "platform keys secret unreadable: no override is shown inactive for lack of a key" in [
        line["message"] for line in log_lines() if line["level"] == "WARNING"
    ]


def test_the_scheduled_sweep_purges_expired_keys_through_its_handler(api, aws, frozen_clock):
    api.put("/api/byok-keys/anthropic", {"apiKey": ANTHROPIC_KEY, "expiresAt": "2026-11-18T11:00:00Z"})
    api.put("/api/byok-keys/openai", {"apiKey": OPENAI_KEY})
    other = Api("user-b")
    other.put("/api/byok-keys/grok", {"apiKey": GROK_KEY, "expiresAt": "2026-11-18T11:00:00Z"})
    frozen_clock[0] += 2 * 3600
    result = invoke_sweep({"id": "daily", "detail-type": "Scheduled Event", "detail": {}})
    assert result["keysPurged"] == 2
    assert aws.user_secret("user-a") == {"openai": OPENAI_KEY}  # PutSecretValue without the expired key
    assert aws.user_secret("user-b") is None  # its last key: the secret is scheduled for deletion
