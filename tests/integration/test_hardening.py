"""Faults and concurrency: throttling retried then 503, twenty writers on one user, no key ever leaks (issue 7)."""

import json
import random

import pytest

from modelconfig.storage import aws as aws_clients
from tests.support.api import Api
from tests.support.constants import PRO
from tests.support.faults import fail, throttle


def test_throttling_is_retried_with_backoff_and_then_succeeds(api, aws):
    client = aws_clients.dynamodb()
    assert client.meta.config.retries["mode"] == "standard"
    seen = throttle(client, ["Query"], times=2)
    reply = api.get("/api/model-configs")
    assert reply.status == 200
    assert len(seen) == 2  # two throttled attempts, the third went through


def test_persistent_throttling_is_a_clean_503(api, aws):
    seen = throttle(aws_clients.dynamodb(), ["TransactWriteItems"], times=100)
    reply = api.put("/api/model-configs/blueprint", {"modelName": PRO})
    assert reply.status == 503
    assert len(seen) == 3  # total_max_attempts
    assert reply.error["name"] == "ServiceUnavailable"
    assert "request id" in reply.error["message"]
    assert "Traceback" not in json.dumps(reply.body) and "slow down" not in json.dumps(reply.body)


KEPT = "google-ai-studio"


def test_twenty_clients_on_one_user_end_in_a_state_the_api_can_explain(shared_aws):
    """Twenty execution environments (processes) update, delete and reset one user's configs and keys at once."""
    valid = {
        "openai": "sk-openai-{}-0123456789",
        "anthropic": "sk-ant-{}-0123456789abc",
        "grok": "xai-{}-0123456789abcdef",
        "google-ai-studio": "AIza{}-0123456789abcdefghij",
    }
    jobs = []
    for n in range(20):
        rnd = random.Random(n)
        requests = []
        for step in range(6):
            choice, provider = rnd.random(), rnd.choice(list(valid))
            if choice < 0.35:
                requests.append(
                    ("PUT", f"/api/byok-keys/{provider}", {"apiKey": valid[provider].format(f"t{n}s{step}")})
                )
            elif choice < 0.5:
                if provider == KEPT:  # never deleted: whatever happens, its key must survive
                    provider = "openai"
                requests.append(("DELETE", f"/api/byok-keys/{provider}", None))
            elif choice < 0.8:
                action = rnd.choice(["blueprint", "deepDebugger"])
                requests.append(("PUT", f"/api/model-configs/{action}", {"modelName": PRO}))
            elif choice < 0.9:
                requests.append(("DELETE", "/api/model-configs/blueprint", None))
            else:
                requests.append(("POST", "/api/model-configs/reset-all", None))
        jobs.append(("busy-user", requests))
    results = shared_aws.run_clients(jobs)
    replies = [(status, body) for worker in results for status, body in worker]
    assert len(replies) == 120
    for status, body in replies:
        # 404: deleting what another client deleted. 503: a key write that waited 3 s for the user's lease
        # (twenty clients queueing on one user's keys), or a config write overtaken by others three times
        # between its read and its write; either changed nothing, and retrying succeeds.
        assert status in (200, 404, 503), body
        if status == 503:
            assert body["error"]["message"].startswith(
                ("another change of your keys is in progress", "other changes of your")
            ), body
    assert sum(status == 200 for status, _ in replies) > 60
    assert not [line for line in shared_aws.logs if "unhandled error" in line]
    # What the API reports is exactly what the secret holds: no lost key, no orphan secret, no stale preview.
    [[(_status, listing)]] = shared_aws.run_clients([("busy-user", [("GET", "/api/byok-keys", None)])])
    listed = {p["provider"]: p for p in listing["data"]["providers"] if p["hasValidKey"]}
    sm = shared_aws.client("secretsmanager")
    try:
        stored = json.loads(
            sm.get_secret_value(SecretId=shared_aws.env["USER_SECRET_PREFIX"] + "busy-user")["SecretString"]
        )
    except sm.exceptions.ResourceNotFoundException:
        stored = {}
    assert set(listed) == set(stored)
    for provider, key in stored.items():
        assert listed[provider]["keyPreview"] == f"{key[:4]}****{key[-4:]}"  # every key here is 24+ characters
    # Every stored key is one a 200 PUT wrote (a 503 wrote nothing), and a provider that got a 200 PUT and no
    # 200 DELETE still has a key.
    written: dict[str, set[str]] = {}
    deleted = set()
    for (_sub, requests), worker in zip(jobs, results, strict=True):
        for (method, path, body), (status, _reply) in zip(requests, worker, strict=True):
            provider = path.rsplit("/", 1)[1]
            if status == 200 and path.startswith("/api/byok-keys/"):
                if method == "PUT":
                    written.setdefault(provider, set()).add(body["apiKey"])
                else:
                    deleted.add(provider)
    for provider, key in stored.items():
        assert key in written.get(provider, set()), provider
    for provider in set(written) - deleted:
        assert provider in stored, f"lost the {provider} key"
    assert KEPT in written and KEPT not in deleted
    items = shared_aws.client("dynamodb").scan(TableName=shared_aws.table)["Items"]
    assert not [i for i in items if i["sk"]["S"] == "BYOKLOCK"]
    # One audit entry exactly per change that happened: every 200 write, and a reset only when it reset some.
    changes = [
        (method, path)
        for worker in zip((r for _sub, r in jobs), results, strict=True)
        for (method, path, _body), (status, reply) in zip(*worker, strict=True)
        if status == 200 and (not path.endswith("reset-all") or reply["data"]["resetCount"] > 0)
    ]
    audit = shared_aws.client("dynamodb").scan(TableName=f"audit-{shared_aws.table}")["Items"]
    actions = sorted(json.loads(i["entry"]["S"])["action"] for i in audit)
    kinds = {("PUT", "byok-keys"): "key.put", ("DELETE", "byok-keys"): "key.delete"}
    kinds |= {("PUT", "model-configs"): "config.put", ("DELETE", "model-configs"): "config.delete"}
    kinds |= {("POST", "model-configs"): "config.reset_all"}
    assert actions == sorted(kinds[method, path.split("/")[2]] for method, path in changes)


# ---- the canary: no key anywhere ----------------------------------------------------------------------


USER_CANARY = "sk-ant-CANARY-user-7f3a9c1e5b2d4f6a8c0e"
PLATFORM_CANARY = "AIzaCANARY-platform-4e2b8d6f1a3c5e7b9d0f"
CANARY_PARTS = (
    "CANARY-user-7f3a9c1e5b2d4f6a8c0e",
    "CANARY-platform-4e2b8d6f1a3c5e7b9d0f",
    "7f3a9c1e5b2d",
    "4e2b8d6f1a3c",
)


@pytest.fixture
def canary_provider(aws, monkeypatch):
    from tests.provider_server import ProviderServer
    from tests.support.aws import reset_caches

    aws.secretsmanager.put_secret_value(
        SecretId="model-config/platform-keys", SecretString=json.dumps({"google-ai-studio": PLATFORM_CANARY})
    )
    server = ProviderServer()
    for name, url in server.base_urls().items():
        monkeypatch.setenv(name, url)
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "DEBUG")
    reset_caches()
    yield server
    server.stop()


def test_no_trace_of_any_key_in_logs_responses_or_errors(aws, canary_provider, capfd, caplog):

    caplog.set_level("DEBUG")
    api = Api("canary-user")
    replies = []

    def call(method, path, body=None, **kw):
        reply = api.request(method, path, body, **kw)
        replies.append(reply.raw)
        return reply

    assert call("PUT", "/api/byok-keys/anthropic", {"apiKey": USER_CANARY}).status == 200
    call("PUT", "/api/byok-keys/openai", {"apiKey": USER_CANARY})  # wrong provider pattern: 400
    call("PUT", "/api/byok-keys/anthropic", {"apiKey": USER_CANARY + " x"})  # 400
    call("PUT", "/api/byok-keys/anthropic", {"apiKey": USER_CANARY * 30})  # over 512: 400
    call("PUT", "/api/byok-keys/google-vertex-ai", {"apiKey": USER_CANARY})  # 400
    call("PUT", "/api/byok-keys/anthropic", raw_body='{"apiKey": "' + USER_CANARY + '"')  # malformed JSON
    call("PUT", "/api/byok-keys/anthropic", {"apiKey": [USER_CANARY]})  # wrong type
    call("GET", "/api/byok-keys")
    call("GET", "/api/model-configs/byok-providers")
    call("PUT", "/api/model-configs/blueprint", {"modelName": "anthropic/claude-opus-4-5"})
    call("PUT", "/api/model-configs/blueprint", {"modelName": USER_CANARY})  # a key where a model goes
    for mode in (
        {},
        {"mode": "status", "status": 401},
        {"mode": "status", "status": 500},
        {"mode": "garbage"},
        {"mode": "close"},
        {"mode": "redirect"},
        {"mode": "ok", "delay": 2.5},
    ):
        canary_provider.behave(**mode)
        call("POST", "/api/model-configs/test", {"agentActionName": "blueprint"})
        call("POST", "/api/model-configs/test", {"agentActionName": "blueprint", "useUserKeys": False})
    canary_provider.behave(mode="status", status=400, body={"error": {"message": f"bad key {USER_CANARY}"}})
    call("POST", "/api/model-configs/test", {"agentActionName": "blueprint"})  # upstream echoes the key
    fail(aws_clients.secretsmanager(), "GetSecretValue", "InternalServiceError", status=500)
    call("POST", "/api/model-configs/test", {"agentActionName": "blueprint"})
    fail(aws_clients.secretsmanager(), "GetSecretValue", "InternalServiceError", status=500)
    call("PUT", "/api/byok-keys/grok", {"apiKey": "xai-CANARY-user-7f3a9c1e5b2d4f6a8c0e"})
    fail(aws_clients.dynamodb(), "TransactWriteItems", "InternalServerError", status=500)
    call("PUT", "/api/byok-keys/anthropic", {"apiKey": USER_CANARY})
    call("GET", "/api/model-configs")
    call("POST", "/api/model-configs/reset-all")
    assert call("DELETE", "/api/byok-keys/anthropic").status == 200

    assert len(canary_provider.seen) >= 8  # the keys really travelled, to the provider only
    out, err = capfd.readouterr()
    everything = "\n".join([out, err, caplog.text, json.dumps(replies), json.dumps([str(i) for i in aws.items()])])
    assert "canary-user" in everything  # the capture did see the requests' logs
    for part in CANARY_PARTS:
        assert part not in everything, part
