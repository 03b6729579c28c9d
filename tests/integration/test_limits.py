"""Per-user limits and traces (SPEC sections 6 and 10; issue 12): through the template's handlers, with a real
loopback provider, AWS calls counted at botocore."""

import io
import json

import pytest

from infra import runtime
from modelconfig import clock
from tests.support.api import Api
from tests.support.aws import reset_caches

USER_ANTHROPIC = "sk-ant-user-0123456789abcdef"
USER_OPUS = {"agentActionName": "blueprint", "tempConfig": {"modelName": "anthropic/claude-opus-4-5"}}


@pytest.fixture
def limits(monkeypatch, provider):
    def set_limits(**values):
        for name, value in values.items():
            monkeypatch.setenv(name, str(value))
        reset_caches()

    return set_limits


@pytest.fixture
def frozen_clock(monkeypatch):
    """The limits' clock, moved by hand: a minute window that starts at a round 10:00:00 UTC."""
    now = [1_794_996_000.0]  # 2026-11-18T10:00:00Z, a minute and a day boundary
    monkeypatch.setattr(clock, "now", lambda: now[0])
    return now


def model_test(api, body=None):
    return api.post("/api/model-configs/test", body or {"agentActionName": "blueprint"})


def counter_items(aws):
    return {i["sk"]["S"]: int(i["hits"]["N"]) for i in aws.items() if i["sk"]["S"].startswith("LIMIT#")}


def test_tests_per_minute_under_at_and_over_the_limit(api, aws, provider, limits, frozen_clock):
    limits(TEST_LIMIT_PER_MINUTE=3)
    for _ in range(3):  # under, then at the limit
        assert model_test(api).data["testResult"]["success"] is True
    frozen_clock[0] += 20
    calls = aws.count_calls()
    over = model_test(api)
    assert over.status == 429
    assert over.raw["headers"]["Retry-After"] == "40"  # the minute window ends 40 s later
    assert over.error == {
        "name": "TooManyRequests",
        "message": "limit of 3 model tests per minute reached; retry in 40s",
    }
    assert len(provider.seen) == 3  # the refused test called no provider
    # The refused count is a failed conditional write; nothing else, and no secret read for a platform key.
    assert calls == {"dynamodb.Query": 1, "dynamodb.TransactWriteItems": 1}
    assert counter_items(aws) == {"LIMIT#test#1794996000": 3, "LIMIT#platform-test#1794960000": 3}


def test_two_users_are_counted_apart(api, aws, provider, limits, frozen_clock):
    limits(TEST_LIMIT_PER_MINUTE=1)
    assert model_test(api).status == 200
    assert model_test(api).status == 429
    assert model_test(Api("user-b")).data["testResult"]["success"] is True
    assert len(provider.seen) == 2


def test_a_counter_expires_with_its_window(api, aws, provider, limits, frozen_clock):
    limits(TEST_LIMIT_PER_MINUTE=1)
    assert model_test(api).status == 200
    frozen_clock[0] += 59.5
    assert model_test(api).raw["headers"]["Retry-After"] == "1"
    frozen_clock[0] += 0.5  # the next minute: a new counter, whatever DynamoDB's TTL has or has not reaped yet
    assert model_test(api).status == 200
    items = {i["sk"]["S"]: i for i in aws.items() if i["sk"]["S"].startswith("LIMIT#test#")}
    assert sorted(items) == ["LIMIT#test#1794996000", "LIMIT#test#1794996060"]
    assert items["LIMIT#test#1794996000"]["expiresAt"] == {"N": str(1_794_996_060 + 3600)}  # tidied by TTL later


def test_platform_tests_per_day_leave_user_key_tests_alone(api, aws, provider, limits, frozen_clock):
    limits(TEST_LIMIT_PER_MINUTE=100, PLATFORM_TEST_LIMIT_PER_DAY=2)
    assert model_test(api).status == model_test(api).status == 200
    frozen_clock[0] += 3600  # 11:00 UTC: 13 hours to the next UTC midnight
    over = model_test(api)
    assert over.status == 429
    assert over.raw["headers"]["Retry-After"] == str(13 * 3600)
    assert "model tests on the platform's keys per day" in over.error["message"]
    assert api.put("/api/byok-keys/anthropic", {"apiKey": USER_ANTHROPIC}).status == 200
    calls = aws.count_calls()
    result = model_test(api, USER_OPUS).data["testResult"]
    assert result["success"] is True and result["keySource"] == "user"
    # One counter write (a user-key test counts only against the per-minute limit), and the key's lastUsedAt.
    assert calls["dynamodb.UpdateItem"] == 2 and "dynamodb.TransactWriteItems" not in calls
    assert len(provider.seen) == 3


def test_a_test_that_makes_no_call_counts_against_nothing(api, aws, provider, limits, frozen_clock):
    limits(TEST_LIMIT_PER_MINUTE=1, PLATFORM_TEST_LIMIT_PER_DAY=1)
    calls = aws.count_calls()
    for body in (
        {"agentActionName": "fastCodeFixer"},  # disabled
        {"agentActionName": "blueprint", "tempConfig": {"modelName": "openai/gpt-5"}},  # no key for openai
        {"agentActionName": "blueprint", "useUserKeys": False, "tempConfig": {"modelName": "grok/grok-4-fast"}},
    ) * 3:
        reply = model_test(api, body)
        assert reply.status == 200 and reply.data["testResult"]["success"] is False
    assert calls == {"dynamodb.Query": 9}
    assert counter_items(aws) == {}
    assert model_test(api).data["testResult"]["success"] is True  # the limit of 1 is still whole
    assert provider.seen and len(provider.seen) == 1


def test_a_refused_validation_counts_against_nothing(api, aws, provider, limits, frozen_clock):
    limits(TEST_LIMIT_PER_MINUTE=1, KEY_WRITE_LIMIT_PER_MINUTE=1)
    for _ in range(3):
        assert model_test(api, {"agentActionName": "nope"}).status == 400
        assert api.put("/api/byok-keys/anthropic", {"apiKey": "sk-not-anthropic"}).status == 400
    assert counter_items(aws) == {}
    assert api.put("/api/byok-keys/anthropic", {"apiKey": USER_ANTHROPIC}).status == 200


def test_key_writes_per_minute_write_no_secret_when_over(api, aws, limits, frozen_clock):
    limits(KEY_WRITE_LIMIT_PER_MINUTE=2)
    assert api.put("/api/byok-keys/anthropic", {"apiKey": USER_ANTHROPIC}).status == 200
    assert api.delete("/api/byok-keys/anthropic").status == 200
    calls = aws.count_calls()
    over = api.put("/api/byok-keys/anthropic", {"apiKey": USER_ANTHROPIC})
    assert over.status == 429 and over.raw["headers"]["Retry-After"] == "60"
    assert over.error["message"] == "limit of 2 key changes per minute reached; retry in 60s"
    assert calls == {"dynamodb.UpdateItem": 1}  # no lease, no secret read or write
    assert aws.user_secret("user-a") is None
    assert api.delete("/api/byok-keys/grok").status == 429  # DELETE counts too, even of a key not stored
    assert Api("user-b").put("/api/byok-keys/anthropic", {"apiKey": USER_ANTHROPIC}).status == 200


def test_a_slow_provider_under_a_short_lambda_deadline_answers_before_it(aws, provider, monkeypatch):
    monkeypatch.setenv("MODEL_TEST_TIMEOUT_SECONDS", "20")
    reset_caches()
    provider.behave(mode="slow", delay=10)
    fn = runtime.function("TestConfigFunction")
    route = fn.routes[0]
    event = runtime.http_event(route, claims={"sub": "user-a"}, body=json.dumps({"agentActionName": "blueprint"}))

    class TwoAndAHalfSecondsLeft(runtime.Context):
        """The Lambda's remaining time when the deadline is computed, whatever the AWS calls before it took
        on a busy machine (a real clock here made the deadline 1.2 s once, under mutation testing)."""

        def get_remaining_time_in_millis(self) -> int:
            return 2500

    raw = runtime.handler(fn)(event, TwoAndAHalfSecondsLeft(fn))
    status, body = runtime.parse_response(raw)
    assert status == 200
    assert body["data"]["testResult"]["success"] is False
    assert body["data"]["testResult"]["error"] == "timed out after 1.5s"  # remaining time less 1 s


@pytest.mark.parametrize(("seconds_left", "called"), [(1.0, False), (1.8, True)])
def test_a_test_is_made_only_with_time_left_after_the_lambdas_last_second(aws, provider, seconds_left, called):
    fn = runtime.function("TestConfigFunction")
    event = runtime.http_event(
        fn.routes[0], claims={"sub": "user-a"}, body=json.dumps({"agentActionName": "blueprint"})
    )
    raw = runtime.handler(fn)(event, runtime.Context(fn, timeout_seconds=seconds_left))
    result = runtime.parse_response(raw)[1]["data"]["testResult"]
    assert len(provider.seen) == int(called)
    if called:  # 0.8 s is enough for the loopback provider
        assert result["success"] is True
    else:
        assert result == result | {"success": False, "error": "no time left for the call; retry"}


def test_a_long_retry_after_is_not_waited_for(api, provider, waits):
    provider.behave(mode="status", status=429, headers={"retry-after": "15"})
    result = model_test(api).data["testResult"]
    assert result["success"] is False
    assert result["error"] == "rate limited by provider (retry after 15s)"
    assert len(provider.seen) == 1  # no retry: 15 s is over the 2 s a test waits for
    assert waits == []


def test_a_short_retry_after_is_honoured_once(api, provider, waits):
    provider.behave(mode="status", status=429, headers={"retry-after": "1"}, times=1)
    assert model_test(api).data["testResult"]["success"] is True
    assert waits == [1.0]
    assert len(provider.seen) == 2


def test_every_log_line_of_a_request_carries_its_request_id_and_user(aws, provider, monkeypatch):
    from modelconfig.observability import logger

    stream = io.StringIO()
    monkeypatch.setattr(logger.registered_handler, "stream", stream)
    fn = runtime.function("TestConfigFunction")
    event = runtime.http_event(
        fn.routes[0], claims={"sub": "trace-me"}, body=json.dumps({"agentActionName": "blueprint"})
    )
    runtime.handler(fn)(event, runtime.Context(fn))
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    request_id = event["requestContext"]["requestId"]
    assert {line["message"] for line in lines} >= {"model test", "request"}
    for line in lines:
        assert line["correlation_id"] == request_id
        assert line["userId"] == "trace-me"
    (model_test,) = [line for line in lines if line["message"] == "model test"]
    assert model_test["keySource"] == "platform"


def test_each_functions_first_request_logs_a_cold_start(aws, log_lines, monkeypatch):
    monkeypatch.setattr(runtime, "_served", set())  # as if each function's sandbox were new
    api = Api("user-a")
    for path in ("/api/model-configs", "/api/byok-keys", "/api/model-configs", "/api/byok-keys"):
        assert api.get(path).status == 200
    cold = [(line["function_name"], line["cold_start"]) for line in log_lines() if line["message"] == "request"]
    assert cold == [
        ("ListConfigsFunction", True),
        ("ListKeysFunction", True),
        ("ListConfigsFunction", False),
        ("ListKeysFunction", False),
    ]
