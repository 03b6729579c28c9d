"""Every fault path ends in a correct state (SPEC sections 3, 7 and 8; issue 13). Faults are injected at
botocore (the answer AWS gives, before the request leaves the SDK), never by replacing our own functions."""

import json
import time

import pytest

from infra import runtime
from modelconfig import sweep
from modelconfig.records import preview
from modelconfig.storage import aws as aws_clients
from modelconfig.storage import secrets
from tests.support.api import Api
from tests.support.aws import reset_caches
from tests.support.constants import ANTHROPIC_KEY, GROK_KEY, OPENAI_KEY, PLATFORM_SECRET, PRO
from tests.support.faults import fail


def plenty():
    return 600_000


def items(aws, prefix=""):
    """One user's items (user-a's unless named) whose sort key starts with `prefix`, by sort key."""
    return {i["sk"]["S"]: i for i in aws.items() if i["sk"]["S"].startswith(prefix) and i["pk"]["S"] == "USER#user-a"}


def overrides_left(aws):
    return sum(1 for i in aws.items() if i["sk"]["S"].startswith("CONFIG#"))


def ttl_reaps_everything_expired(aws):
    """What DynamoDB's TTL does, some time after expiry: delete every item whose TTL attribute has passed."""
    for item in aws.items():
        if "expiresAt" in item and int(item["expiresAt"]["N"]) < time.time() + 10 * 86400:
            aws.dynamodb.delete_item(TableName=aws.table, Key={"pk": item["pk"], "sk": item["sk"]})


# ---- 1. an interrupted key write, and TTL ----------------------------------------------------------------


def test_an_interrupted_write_is_repaired_even_after_ttl_reaped_what_it_could(api, aws, log_lines):
    api.put("/api/byok-keys/openai", {"apiKey": OPENAI_KEY})
    api.put("/api/byok-keys/grok", {"apiKey": GROK_KEY})
    ddb, sm = aws_clients.dynamodb(), aws_clients.secretsmanager()
    fail(ddb, "TransactWriteItems", "InternalServerError", status=500)  # the status commit fails...
    fail(sm, "PutSecretValue", "InternalServiceError", status=500, when=lambda p: b"grok" in p["body"])
    # ...after the secret lost grok, and the restore of grok fails too: the function is left half done.
    assert api.delete("/api/byok-keys/grok").status == 503
    assert aws.user_secret("user-a") == {"openai": OPENAI_KEY}
    assert "could not restore the key secret after a failed status write; the next write repairs it" in [
        line["message"] for line in log_lines() if line["level"] == "ERROR"
    ]
    assert set(items(aws, "BYOK#")) == {"BYOK#openai", "BYOK#grok"}
    ttl_reaps_everything_expired(aws)
    (lease,) = items(aws, "BYOKLOCK").values()  # the lease survives TTL: its expiry is not the TTL attribute
    assert "expiresAt" not in lease and "leaseUntil" in lease
    aws.dynamodb.update_item(  # the lease runs out
        TableName=aws.table,
        Key={"pk": lease["pk"], "sk": lease["sk"]},
        UpdateExpression="SET leaseUntil = :past",
        ExpressionAttributeValues={":past": {"N": "1"}},
    )
    again = api.delete("/api/byok-keys/grok")  # the next writer takes the expired lease over and repairs first
    assert again.status == 404
    listed = {p["provider"]: p["hasValidKey"] for p in api.get("/api/byok-keys").data["providers"]}
    assert listed == {"openai": True, "anthropic": False, "google-ai-studio": False, "grok": False}
    assert set(items(aws, "BYOK")) == {"BYOK#openai"}  # repaired, lease released


# ---- 2. the sweep never deletes a newer choice ------------------------------------------------------------


def test_a_choice_saved_between_the_scan_and_the_delete_survives(api, aws):
    actions = ("blueprint", "deepDebugger", "phaseImplementation")
    for action in actions:
        aws.dynamodb.put_item(
            TableName=aws.table,
            Item={
                "pk": {"S": "USER#user-a"},
                "sk": {"S": f"CONFIG#{action}"},
                "id": {"S": f"old-{action}"},
                "userId": {"S": "user-a"},
                "agentActionName": {"S": action},
                "modelName": {"S": "openai/gpt-4-retired"},
                "createdAt": {"S": "2026-01-01T00:00:00.000Z"},
                "updatedAt": {"S": "2026-01-01T00:00:00.000Z"},
            },
        )
    saved = []

    def user_saves_two_after_the_scan(**_kw):
        if not saved:
            saved.extend(api.put(f"/api/model-configs/{a}", {"modelName": PRO}).status for a in actions[:2])

    aws_clients.dynamodb().meta.events.register("after-call.dynamodb.Scan", user_saves_two_after_the_scan)
    result = sweep.sweep(sweep.SweepRequest(run_id="race"), time_left_ms=plenty)
    assert saved == [200, 200]
    assert (result["scanned"], result["skipped"], result["reset"]) == (3, 2, 1)  # the third is still reset
    configs = api.get("/api/model-configs").data["configs"]
    assert [configs[a]["isUserOverride"] for a in actions] == [True, True, False]
    assert configs["blueprint"]["name"] == PRO


# ---- 3. a slip in the platform keys secret ----------------------------------------------------------------


def invoke_sweep(event):
    """The sweep as the scheduler runs it: through its handler, with the template's environment."""
    fn = runtime.function("SweepFunction")
    return runtime.handler(fn)(event, runtime.Context(fn))


@pytest.fixture
def platform_from_secret(aws, monkeypatch):
    monkeypatch.delenv("PLATFORM_MODEL_PROVIDERS")
    reset_caches()
    for n in range(55):
        Api(f"user-{n:02d}").put("/api/model-configs/blueprint", {"modelName": PRO})
    reset_caches()
    return aws


def test_a_slip_in_the_platform_secret_is_held_then_applied_by_force(platform_from_secret):
    aws = platform_from_secret
    aws.secretsmanager.put_secret_value(SecretId=PLATFORM_SECRET, SecretString=json.dumps({"google-ai-studio": ""}))
    held = invoke_sweep({"id": "slip", "detail-type": "Scheduled Event", "detail": {}})
    assert overrides_left(aws) == 5
    assert held["scanned"] == 55
    assert held["resetByReason"] == {"model_no_key_access": 50}  # max(50, 10% of 55) at most...
    assert held["held"] == 5  # ...the rest held, and reported
    forced = invoke_sweep({"force": True})
    assert forced["reset"] == 5 and forced["held"] == 0
    assert overrides_left(aws) == 0


def test_a_provider_that_left_the_platform_list_is_held_whatever_the_number(platform_from_secret):
    aws = platform_from_secret
    first = invoke_sweep({"id": "before", "detail-type": "Scheduled Event", "detail": {}})
    assert (first["reset"], first["heldProviders"]) == (0, [])  # a complete run: google is platform-enabled
    aws.secretsmanager.put_secret_value(SecretId=PLATFORM_SECRET, SecretString=json.dumps({"google-ai-studio": ""}))
    reset_caches()
    one_override = next(i for i in aws.items() if i["sk"]["S"].startswith("CONFIG#"))
    slip = invoke_sweep({"id": "slip", "detail-type": "Scheduled Event", "detail": {}})
    # All 55 held, though the breaker alone would let 50 through (on a small deployment, every user).
    assert (slip["reset"], slip["held"], slip["heldProviders"]) == (0, 55, ["google-ai-studio"])
    again = invoke_sweep({"id": "next-day", "detail-type": "Scheduled Event", "detail": {}})
    assert (again["reset"], again["heldProviders"]) == (0, ["google-ai-studio"])  # held until an operator says
    assert overrides_left(aws) == 55
    forced = invoke_sweep({"force": True})
    assert (forced["reset"], forced["held"], forced["heldProviders"]) == (55, 0, [])
    assert overrides_left(aws) == 0
    # The forced run accepted the list of now: a later override of that provider is reset, not held again.
    aws.dynamodb.put_item(TableName=aws.table, Item=one_override)
    later = invoke_sweep({"id": "after-force", "detail-type": "Scheduled Event", "detail": {}})
    assert (later["reset"], later["heldProviders"]) == (1, [])


def test_a_forced_run_goes_past_the_breaker(platform_from_secret):
    aws = platform_from_secret
    aws.secretsmanager.put_secret_value(SecretId=PLATFORM_SECRET, SecretString=json.dumps({"google-ai-studio": ""}))
    forced = invoke_sweep({"id": "confirmed", "detail-type": "Scheduled Event", "detail": {"force": True}})
    assert (forced["reset"], forced["held"]) == (55, 0)  # an operator confirmed the change: nothing held
    assert overrides_left(aws) == 0


def test_an_unreadable_platform_secret_resets_nothing_for_access(platform_from_secret, log_lines):
    aws = platform_from_secret
    Api("user-x").put("/api/model-configs/screenshotAnalysis", {"modelName": "disabled"})
    aws.dynamodb.update_item(  # and one override whose model left the catalog: that reset still applies
        TableName=aws.table,
        Key={"pk": {"S": "USER#user-x"}, "sk": {"S": "CONFIG#screenshotAnalysis"}},
        UpdateExpression="SET modelName = :m",
        ExpressionAttributeValues={":m": {"S": "openai/gpt-4-retired"}},
    )
    reset_caches()  # a cold sweep: it reads the platform secret, which fails
    fail(aws_clients.secretsmanager(), "GetSecretValue", "InternalServiceError", status=500, times=5)
    result = invoke_sweep({"id": "unreadable", "detail-type": "Scheduled Event", "detail": {}})
    assert result["resetByReason"] == {"model_not_in_catalog": 1}
    assert result["held"] == 55
    assert overrides_left(aws) == 55
    assert "platform keys secret unreadable: resets for lost key access are held this run" in [
        line["message"] for line in log_lines() if line["level"] == "WARNING"
    ]


def test_the_platform_keys_are_read_once_per_five_minutes_and_must_be_an_object(aws, monkeypatch):
    monkeypatch.delenv("PLATFORM_MODEL_PROVIDERS")  # the enabled providers come from the secret
    reset_caches()
    api, calls = Api("user-p"), aws.count_calls()
    for _ in range(3):
        assert api.put("/api/model-configs/blueprint", {"modelName": PRO}).status == 200
    assert calls["secretsmanager.GetSecretValue"] == 1
    real = time.monotonic
    monkeypatch.setattr(time, "monotonic", lambda: real() + 301)  # past the five minutes
    aws.secretsmanager.put_secret_value(SecretId=PLATFORM_SECRET, SecretString="[1, 2]")
    reply = api.put("/api/model-configs/blueprint", {"modelName": PRO})
    assert calls["secretsmanager.GetSecretValue"] == 2
    assert reply.status == 503
    assert reply.error["message"].startswith("the platform keys secret is not a JSON object (request id ")


# ---- 4. Secrets Manager errors that users provoke ---------------------------------------------------------


def test_re_adding_a_key_while_its_secret_is_scheduled_for_deletion(api, aws):
    api.put("/api/byok-keys/openai", {"apiKey": OPENAI_KEY})
    assert api.delete("/api/byok-keys/openai").status == 200
    sm = aws_clients.secretsmanager()
    # AWS's own answer to a read of a secret scheduled for deletion (moto words it otherwise).
    fail(
        sm,
        "GetSecretValue",
        "InvalidRequestException",
        "You can't perform this operation on the secret because it was marked for deletion.",
    )
    calls = aws.count_calls()
    reply = api.put("/api/byok-keys/grok", {"apiKey": GROK_KEY})
    assert reply.status == 200
    assert calls["secretsmanager.RestoreSecret"] == 1 and "secretsmanager.CreateSecret" not in calls
    assert aws.user_secret("user-a") == {"grok": GROK_KEY}


def test_a_name_still_taken_after_a_force_delete_is_a_503_that_says_to_retry(api, aws):
    sm = aws_clients.secretsmanager()
    fail(
        sm,
        "CreateSecret",
        "InvalidRequestException",
        "You can't create this secret because a secret with this name is already scheduled for deletion.",
    )
    fail(
        sm, "RestoreSecret", "InvalidRequestException", "You can't restore a secret that was deleted without recovery."
    )
    reply = api.put("/api/byok-keys/grok", {"apiKey": GROK_KEY})
    assert reply.status == 503
    assert reply.error["message"].startswith("your previous keys are still being deleted; retry in a minute")
    assert items(aws, "BYOK") == {}  # no status without its key, and the lease released
    assert api.put("/api/byok-keys/grok", {"apiKey": GROK_KEY}).status == 200  # a minute later


@pytest.mark.parametrize(
    ("operation", "code", "status"),
    [
        ("CreateSecret", "LimitExceededException", 400),
        ("GetSecretValue", "ThrottlingException", 400),
        ("CreateSecret", "InternalServiceError", 500),
    ],
)
def test_quota_and_throttling_are_503_with_a_retry_message(api, aws, operation, code, status):
    fail(aws_clients.secretsmanager(), operation, code, status=status, times=5)
    reply = api.put("/api/byok-keys/grok", {"apiKey": GROK_KEY})
    assert reply.status == 503 and reply.error["name"] == "ServiceUnavailable"
    assert "retry" in reply.error["message"] and "request id" in reply.error["message"]
    assert items(aws, "BYOK") == {}


def test_a_long_non_ascii_user_id_gets_a_hashed_secret_name(aws):
    sub = "名" * 250  # 250 characters, 750 UTF-8 bytes: 2,250 encoded characters
    user = Api(sub)
    assert user.put("/api/byok-keys/anthropic", {"apiKey": ANTHROPIC_KEY}).status == 200
    listed = {p["provider"]: p for p in user.get("/api/byok-keys").data["providers"]}
    assert listed["anthropic"]["hasValidKey"] is True
    name = secrets.secret_name(sub)
    assert name.startswith("model-config/byok/=SHA256=") and len(name) == len("model-config/byok/=SHA256=") + 64
    assert json.loads(aws.secretsmanager.get_secret_value(SecretId=name)["SecretString"]) == {
        "anthropic": ANTHROPIC_KEY
    }
    assert secrets.secret_name("名" * 20) == "model-config/byok/" + "=E5=90=8D" * 20  # short ids keep their encoding


# ---- 5. the platform secret is out of every user's reach --------------------------------------------------


@pytest.mark.parametrize("secret_id", ["model-config/platform-keys", "ARN"])
def test_a_user_id_that_names_the_platform_secret_cannot_touch_it(aws, monkeypatch, secret_id):
    arn = aws.secretsmanager.describe_secret(SecretId=PLATFORM_SECRET)["ARN"]
    monkeypatch.setenv("USER_SECRET_PREFIX", "model-config/")
    monkeypatch.setenv("PLATFORM_KEYS_SECRET_ID", arn if secret_id == "ARN" else secret_id)
    reset_caches()
    before = aws.secretsmanager.get_secret_value(SecretId=PLATFORM_SECRET)["SecretString"]
    attacker = Api("platform-keys")
    put = attacker.put("/api/byok-keys/google-ai-studio", {"apiKey": "AIzaATTACKER-0123456789abcdefgh"})
    assert put.status == 403 and "cannot be stored here" in put.error["message"]
    assert attacker.delete("/api/byok-keys/google-ai-studio").status == 403
    test = attacker.post("/api/model-configs/test", {"agentActionName": "blueprint"})
    assert test.status == 200  # a platform-key test reads the platform secret as the platform, not as the user
    assert aws.secretsmanager.get_secret_value(SecretId=PLATFORM_SECRET)["SecretString"] == before
    assert preview(before) not in json.dumps(put.body)
