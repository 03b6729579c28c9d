"""BYOK key routes and their consistency with Secrets Manager (SPEC sections 4, 5, 8; issue 3)."""

import json
import threading
import time

import pytest

from modelconfig.errors import ServiceUnavailable
from modelconfig.storage import keystatus, keystore, secrets
from tests.support.api import Api
from tests.support.constants import ANTHROPIC_KEY, GROK_KEY, OPENAI_KEY, OPUS
from tests.support.faults import fail


def status_items(aws, user="user-a"):
    return {
        i["sk"]["S"].removeprefix("BYOK#"): i
        for i in aws.items()
        if i["pk"]["S"] == f"USER#{user}" and i["sk"]["S"].startswith("BYOK#")
    }


def lock_item(aws, user="user-a"):
    return [i for i in aws.items() if i["pk"]["S"] == f"USER#{user}" and i["sk"]["S"] == "BYOKLOCK"]


def test_put_key_stores_secret_and_status_and_returns_only_a_preview(api, aws, server):
    calls = aws.count_calls()
    reply = api.put("/api/byok-keys/anthropic", {"apiKey": ANTHROPIC_KEY})
    data = reply.data
    assert data == {
        "provider": "anthropic",
        "hasValidKey": True,
        "keyPreview": "sk-a****ghij",
        "updatedAt": data["updatedAt"],
        "verifiedAt": data["updatedAt"],  # the provider accepted it at its save
    }
    (check,) = server.checks  # one free, read-only call, with the key in the provider's own header
    assert (check.method, check.path, check.headers["x-api-key"]) == ("GET", "/anthropic/v1/models", ANTHROPIC_KEY)
    assert ANTHROPIC_KEY not in str(reply.raw)
    assert calls == {
        "dynamodb.UpdateItem": 1,  # the key-write limit's counter (SPEC section 10)
        "dynamodb.PutItem": 1,  # the lease
        "secretsmanager.GetSecretValue": 1,
        "secretsmanager.CreateSecret": 1,
        "dynamodb.TransactWriteItems": 1,  # status + lease release
    }
    assert aws.user_secret("user-a") == {"anthropic": ANTHROPIC_KEY}
    stored = status_items(aws)["anthropic"]
    assert stored["keyPreview"]["S"] == "sk-a****ghij"
    assert ANTHROPIC_KEY not in str(aws.items())  # never in DynamoDB
    assert lock_item(aws) == []
    tags = aws.secretsmanager.describe_secret(SecretId=secrets.secret_name("user-a"))["Tags"]
    assert {"Key": "model-config:user", "Value": "user-a"} in tags


def test_second_key_updates_the_same_secret(api, aws):
    api.put("/api/byok-keys/anthropic", {"apiKey": ANTHROPIC_KEY})
    calls = aws.count_calls()
    api.put("/api/byok-keys/grok", {"apiKey": GROK_KEY})
    assert calls["secretsmanager.PutSecretValue"] == 1 and "secretsmanager.CreateSecret" not in calls
    assert aws.user_secret("user-a") == {"anthropic": ANTHROPIC_KEY, "grok": GROK_KEY}


def test_list_keys_reads_only_dynamodb(api, aws):
    api.put("/api/byok-keys/openai", {"apiKey": OPENAI_KEY})
    calls = aws.count_calls()
    data = api.get("/api/byok-keys").data
    assert calls == {"dynamodb.Query": 1}
    by_provider = {p["provider"]: p for p in data["providers"]}
    assert list(by_provider) == ["openai", "anthropic", "google-ai-studio", "grok"]
    assert by_provider["openai"]["hasValidKey"] is True
    assert by_provider["openai"]["keyPreview"] == "sk-o****cdef"
    assert by_provider["openai"]["updatedAt"]
    assert by_provider["grok"] == {"provider": "grok", "hasValidKey": False}


def test_delete_key_and_last_key_deletes_the_secret(api, aws):
    api.put("/api/byok-keys/openai", {"apiKey": OPENAI_KEY})
    api.put("/api/byok-keys/grok", {"apiKey": GROK_KEY})
    assert api.delete("/api/byok-keys/openai").data["message"]
    assert aws.user_secret("user-a") == {"grok": GROK_KEY}
    assert set(status_items(aws)) == {"grok"}
    calls = aws.count_calls()
    api.delete("/api/byok-keys/grok")
    assert calls["secretsmanager.DeleteSecret"] == 1
    assert aws.user_secret("user-a") is None
    described = aws.secretsmanager.describe_secret(SecretId=secrets.secret_name("user-a"))
    assert "DeletedDate" in described  # scheduled for deletion (not billed meanwhile), not forced
    assert status_items(aws) == {} and lock_item(aws) == []
    missing = api.delete("/api/byok-keys/grok")
    assert missing.status == 404 and missing.error["name"] == "NotFound"
    assert lock_item(aws) == []
    calls = aws.count_calls()
    again = api.put("/api/byok-keys/grok", {"apiKey": GROK_KEY})  # the name is still taken: restored
    assert again.status == 200 and aws.user_secret("user-a") == {"grok": GROK_KEY}
    assert calls["secretsmanager.RestoreSecret"] == 1
    assert "DeletedDate" not in aws.secretsmanager.describe_secret(SecretId=secrets.secret_name("user-a"))


@pytest.mark.parametrize(
    ("provider", "key"),
    [
        ("openai", "sk-short"),
        ("openai", "pk-0123456789abc"),
        ("anthropic", "sk-0123456789abc"),
        ("google-ai-studio", "AIza-too-short"),
        ("grok", "xai-"),
        ("openai", "sk-" + "x" * 510),
        ("openai", "sk-0123456789 0123"),
        ("openai", 12345678901234),
        ("openai", None),
    ],
)
def test_bad_keys_are_400_and_store_nothing(api, aws, provider, key):
    reply = api.put(f"/api/byok-keys/{provider}", {"apiKey": key})
    assert reply.status == 400
    assert reply.error["name"] == "ValidationError"
    if isinstance(key, str) and len(key) > 4:
        assert key not in str(reply.raw)
    assert aws.user_secret("user-a") is None and status_items(aws) == {}


@pytest.mark.parametrize("provider", ["google-vertex-ai", "mistral", "OPENAI", "openai%2F..", "x" * 300])
def test_unknown_or_platform_only_provider_is_400_on_every_key_route(api, provider):
    assert api.put(f"/api/byok-keys/{provider}", {"apiKey": OPENAI_KEY}).status == 400
    assert api.delete(f"/api/byok-keys/{provider}").status == 400


def test_stored_key_unlocks_the_providers_models(api, aws):
    assert api.put("/api/model-configs/blueprint", {"modelName": OPUS}).status == 403
    api.put("/api/byok-keys/anthropic", {"apiKey": ANTHROPIC_KEY})
    calls = aws.count_calls()
    assert api.put("/api/model-configs/blueprint", {"modelName": OPUS}).status == 200
    assert calls == {"dynamodb.Query": 1, "dynamodb.TransactWriteItems": 1}  # the one Query serves the access rule
    data = api.get("/api/model-configs/byok-providers").data
    anthropic = next(p for p in data["providers"] if p["provider"] == "anthropic")
    assert anthropic == {"provider": "anthropic", "hasValidKey": True, "keyPreview": "sk-a****ghij"}
    assert data["modelsByProvider"] == {
        "anthropic": [
            "anthropic/claude-3-7-sonnet-20250219",
            "anthropic/claude-sonnet-4-20250514",
            "anthropic/claude-sonnet-4-5",
            "anthropic/claude-opus-4-5",
            "anthropic/claude-haiku-4-5",
        ]
    }
    chat = api.get("/api/model-configs/byok-providers", query={"agentAction": "conversationalResponse"}).data
    assert chat["modelsByProvider"] == {"anthropic": ["anthropic/claude-haiku-4-5"]}


def test_users_have_separate_secrets_and_never_see_each_others_keys(aws):
    alice, bob = Api("auth0|alice"), Api("auth0|bob")
    alice.put("/api/byok-keys/openai", {"apiKey": OPENAI_KEY})
    assert all(not p["hasValidKey"] for p in bob.get("/api/byok-keys").data["providers"])
    assert bob.delete("/api/byok-keys/openai").status == 404
    assert bob.put("/api/model-configs/blueprint", {"modelName": "openai/gpt-5"}).status == 403
    assert aws.user_secret("auth0|alice") == {"openai": OPENAI_KEY}
    assert aws.user_secret("auth0|bob") is None
    assert secrets.secret_name("auth0|alice") == "model-config/byok/auth0=7Calice"


def test_concurrent_writes_of_two_providers_keep_both(shared_aws):
    # Two tabs reach two Lambda execution environments: two processes, writing at the same moment.
    tabs = shared_aws.run_clients(
        [
            ("user-a", [("PUT", "/api/byok-keys/anthropic", {"apiKey": ANTHROPIC_KEY})]),
            ("user-a", [("PUT", "/api/byok-keys/grok", {"apiKey": GROK_KEY})]),
        ]
    )
    assert [status for [(status, _body)] in tabs] == [200, 200]
    sm = shared_aws.client("secretsmanager")
    secret = sm.get_secret_value(SecretId=shared_aws.env["USER_SECRET_PREFIX"] + "user-a")["SecretString"]
    assert json.loads(secret) == {"anthropic": ANTHROPIC_KEY, "grok": GROK_KEY}
    items = shared_aws.client("dynamodb").scan(TableName=shared_aws.table)["Items"]
    kept = sorted(i["sk"]["S"] for i in items if not i["sk"]["S"].startswith("LIMIT#"))
    assert kept == ["BYOK#anthropic", "BYOK#grok"]  # and no lease left


def test_a_held_lease_makes_a_write_wait_then_succeed(api, aws, monkeypatch):
    monkeypatch.setattr(keystore, "LEASE_WAIT_SECONDS", 2.0)
    keystatus.acquire_lease("user-a", "other-writer", lease_seconds=30, wait_seconds=0)
    threading.Timer(0.3, keystatus.release_lease, args=("user-a", "other-writer")).start()
    started = time.monotonic()
    assert api.put("/api/byok-keys/openai", {"apiKey": OPENAI_KEY}).status == 200
    assert time.monotonic() - started >= 0.25


def test_a_lease_held_too_long_is_a_503_not_a_lost_write(api, aws, monkeypatch):
    monkeypatch.setattr(keystore, "LEASE_WAIT_SECONDS", 0.2)
    keystatus.acquire_lease("user-a", "stuck-writer", lease_seconds=30, wait_seconds=0)
    reply = api.put("/api/byok-keys/openai", {"apiKey": OPENAI_KEY})
    assert reply.status == 503 and "in progress" in reply.error["message"]
    assert aws.user_secret("user-a") is None


def test_failure_between_secret_write_and_status_write_restores_the_secret(api, aws, monkeypatch):
    api.put("/api/byok-keys/openai", {"apiKey": OPENAI_KEY})

    def fail(*_a, **_kw):
        raise ServiceUnavailable("the key store is unavailable right now; retry shortly")

    monkeypatch.setattr(keystatus, "commit", fail)
    reply = api.put("/api/byok-keys/grok", {"apiKey": GROK_KEY})
    assert reply.status == 503
    assert aws.user_secret("user-a") == {"openai": OPENAI_KEY}  # grok's key is not stored without its status
    assert set(status_items(aws)) == {"openai"}
    assert lock_item(aws) == []  # released after the restore


def test_repair_also_drops_status_whose_key_is_gone(api, aws):
    api.put("/api/byok-keys/openai", {"apiKey": OPENAI_KEY})
    api.put("/api/byok-keys/grok", {"apiKey": GROK_KEY})
    # A delete that removed grok from the secret and died before its status write and lease release.
    aws.secretsmanager.put_secret_value(
        SecretId=secrets.secret_name("user-a"), SecretString=json.dumps({"openai": OPENAI_KEY})
    )
    keystatus.acquire_lease("user-a", "dead-writer", lease_seconds=-1, wait_seconds=0)
    assert api.delete("/api/byok-keys/grok").status == 404
    assert set(status_items(aws)) == {"openai"}
    assert lock_item(aws) == []


def test_a_404_delete_still_repairs_a_missing_status(api, aws, log_lines):
    api.put("/api/byok-keys/openai", {"apiKey": OPENAI_KEY})
    # A PUT of anthropic that wrote the secret and died before its status write and lease release.
    aws.secretsmanager.put_secret_value(
        SecretId=secrets.secret_name("user-a"),
        SecretString=json.dumps({"openai": OPENAI_KEY, "anthropic": ANTHROPIC_KEY}),
    )
    keystatus.acquire_lease("user-a", "dead-writer", lease_seconds=-1, wait_seconds=0)
    assert api.delete("/api/byok-keys/grok").status == 404  # nothing to delete, but the repair is made
    assert set(status_items(aws)) == {"openai", "anthropic"}
    assert status_items(aws)["anthropic"]["keyPreview"]["S"] == "sk-a****ghij"
    assert [line["fixed"] for line in log_lines() if line["message"].startswith("repairing")] == [1]
    assert lock_item(aws) == []


def test_repair_makes_every_status_match_the_secret_before_its_own_change(api, aws, log_lines):
    for provider, key in (("openai", OPENAI_KEY), ("grok", GROK_KEY), ("anthropic", ANTHROPIC_KEY)):
        assert api.put(f"/api/byok-keys/{provider}", {"apiKey": key}).status == 200
    # Writers that died after their secret write: openai's key was replaced, google's added, grok's removed,
    # and a provider that has since left the catalog is still in the secret. No status was written.
    aws.secretsmanager.put_secret_value(
        SecretId=secrets.secret_name("user-a"),
        SecretString=json.dumps(
            {
                "openai": "sk-openai-replaced-0123456789XYZW",
                "anthropic": ANTHROPIC_KEY,
                "google-ai-studio": "AIzaUSER-google-key-0000000000000QRST",
                "retired-provider": "rp-0123456789abcdefgh",
            }
        ),
    )
    keystatus.acquire_lease("user-a", "dead-writer", lease_seconds=-1, wait_seconds=0)

    assert api.put("/api/byok-keys/anthropic", {"apiKey": "sk-ant-api03-new-0123456789abcdEFGH"}).status == 200

    listed = {p["provider"]: p.get("keyPreview") for p in api.get("/api/byok-keys").data["providers"]}
    assert listed == {
        "openai": "sk-o****XYZW",
        "anthropic": "sk-a****EFGH",
        "google-ai-studio": "AIza****QRST",
        "grok": None,
    }
    assert set(status_items(aws)) == {"openai", "anthropic", "google-ai-studio"}
    assert all(item["updatedAt"]["S"].startswith("20") for item in status_items(aws).values())
    (repair,) = [line for line in log_lines() if line["message"].startswith("repairing")]
    assert repair["message"] == "repairing key status after an interrupted write"
    assert repair["fixed"] == 3  # openai's preview, google's missing status, grok's stale one
    assert lock_item(aws) == []


def test_secrets_manager_down_is_503(api, aws):

    from modelconfig.storage import aws as aws_clients

    fail(aws_clients.secretsmanager(), "GetSecretValue", "InternalServiceError", status=500)
    reply = api.put("/api/byok-keys/openai", {"apiKey": OPENAI_KEY})
    assert reply.status == 503 and reply.error["name"] == "ServiceUnavailable"
    assert lock_item(aws) == []
    assert OPENAI_KEY not in str(reply.raw)


def test_a_taken_over_put_keeps_its_own_record_over_the_repair(api, aws):
    # A PUT of anthropic that wrote the secret and died before its status write and lease release.
    aws.secretsmanager.create_secret(
        Name=secrets.secret_name("user-a"), SecretString=json.dumps({"anthropic": ANTHROPIC_KEY})
    )
    keystatus.acquire_lease("user-a", "dead-writer", lease_seconds=-1, wait_seconds=0)
    reply = api.put("/api/byok-keys/anthropic", {"apiKey": "sk-ant-api03-new-0123456789abcdEFGH"})
    assert reply.status == 200
    status = status_items(aws)["anthropic"]
    assert status["keyPreview"]["S"] == "sk-a****EFGH"  # this write's own record, not a repair of the old key
    assert status["verifiedAt"]["S"] == reply.data["verifiedAt"]  # the repair's record has no verifiedAt
