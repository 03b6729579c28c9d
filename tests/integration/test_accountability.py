"""Accountability (SPEC section 12): an audit entry exactly when a change happened, the caller's own trail paged
with a cursor no one else can use, the export, and erasure. Given a user's changes, when they read their trail,
export their data or are erased, then they see exactly what happened to what they stored, and nothing remains
of them after the erasure but a receipt that does not name them."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from infra import runtime
from modelconfig import accountability, clock, sweep
from modelconfig.storage import aws as aws_clients
from tests.support.api import Api
from tests.support.constants import ANTHROPIC_KEY, FLASH, GROK_KEY, OPENAI_KEY, OPUS, PRO
from tests.support.faults import always, fail

AUDIT = "/api/audit"
EXPORT = "/api/me/export"
GOOGLE_KEY = "AIzaSyUSER-google-key-00000000000"
NOW = 1_794_996_000.0  # 2026-11-18T10:00:00Z
DAY = 86_400


@pytest.fixture
def frozen_clock(monkeypatch):
    now = [NOW]
    monkeypatch.setattr(clock, "now", lambda: now[0])
    return now


def trail(api: Api, **query: str) -> list[dict[str, Any]]:
    return api.get(AUDIT, query=query or None).data["entries"]


# ---- one entry exactly when a change happened ---------------------------------------------------------------


def test_each_config_change_is_one_entry_with_before_after_and_the_request(api, aws):
    first = api.put("/api/model-configs/blueprint", {"modelName": PRO}).data["config"]
    second = api.put("/api/model-configs/blueprint", {"modelName": FLASH, "maxTokens": 900}).data["config"]
    api.delete("/api/model-configs/blueprint")
    api.put("/api/model-configs/deepDebugger", {"modelName": PRO})
    api.put("/api/model-configs/phaseGeneration", {"modelName": FLASH})
    api.post("/api/model-configs/reset-all")
    entries = trail(api)
    assert [(e["action"], e["target"]) for e in entries] == [
        ("config.reset_all", {"agentActions": ["deepDebugger", "phaseGeneration"]}),
        ("config.put", {"agentAction": "phaseGeneration"}),
        ("config.put", {"agentAction": "deepDebugger"}),
        ("config.delete", {"agentAction": "blueprint"}),
        ("config.put", {"agentAction": "blueprint"}),
        ("config.put", {"agentAction": "blueprint"}),
    ]  # newest first
    created, replaced, deleted = entries[5], entries[4], entries[3]
    assert created["before"] is None and created["after"] == first
    assert replaced["before"] == first and replaced["after"] == second  # exactly what the write replaced
    assert deleted["before"] == second and deleted["after"] is None
    assert [row["agentActionName"] for row in entries[0]["before"]] == ["deepDebugger", "phaseGeneration"]
    assert entries[0]["after"] is None
    for entry in entries:
        assert entry["actor"] == "user" and "reason" not in entry
        assert entry["sourceIp"] == "127.0.0.1" and entry["userAgent"] == "local"
        assert len(entry["requestId"]) == 36 and entry["at"].endswith("Z") and len(entry["id"]) == 20
    assert len({e["requestId"] for e in entries}) == 6  # each from its own request


def test_a_refused_or_empty_write_leaves_no_entry(api, aws, monkeypatch):
    assert api.put("/api/model-configs/templateSelection", {"modelName": OPUS}).status == 400  # constraint
    assert api.put("/api/model-configs/blueprint", {"modelName": OPUS}).status == 403  # no key
    assert api.put("/api/model-configs/blueprint", {"modelName": PRO}, headers={"if-match": '"abc"'}).status == 412
    assert api.delete("/api/model-configs/blueprint").status == 404
    assert api.post("/api/model-configs/reset-all").data["resetCount"] == 0
    assert api.delete("/api/byok-keys/openai").status == 404
    assert api.put("/api/byok-keys/openai", {"apiKey": "not-a-key"}).status == 400
    monkeypatch.setenv("KEY_WRITE_LIMIT_PER_MINUTE", "2")  # the 404 DELETE above counted as one
    from tests.support.aws import reset_caches

    reset_caches()
    assert api.put("/api/byok-keys/openai", {"apiKey": OPENAI_KEY}, query={"verify": "false"}).status == 200
    assert api.put("/api/byok-keys/grok", {"apiKey": GROK_KEY}, query={"verify": "false"}).status == 429
    assert [e["action"] for e in aws.audit_entries()] == ["key.put"]  # the one change that happened


def test_a_write_that_fails_at_aws_leaves_neither_the_change_nor_its_entry(api, aws):
    always(aws_clients.dynamodb(), "TransactWriteItems", "InternalServerError", status=500)
    try:
        assert api.put("/api/model-configs/blueprint", {"modelName": PRO}).status == 503
    finally:
        aws_clients.reset_clients()
    assert api.get("/api/model-configs/blueprint").data["config"]["isUserOverride"] is False
    assert aws.audit_entries() == []


def test_key_changes_are_audited_with_previews_only(api, aws):
    api.put("/api/byok-keys/anthropic", {"apiKey": ANTHROPIC_KEY})
    renewed = "sk-ant-api03-renewed-0123456789ABCDEFGHIJ"
    api.put("/api/byok-keys/anthropic", {"apiKey": renewed})
    api.delete("/api/byok-keys/anthropic")
    deleted, replaced, added = trail(api)
    assert added["action"] == "key.put" and added["target"] == {"provider": "anthropic"} and added["before"] is None
    assert added["after"]["keyPreview"] == "sk-a****ghij" and added["after"]["hasValidKey"] is True
    assert replaced["before"] == {"provider": "anthropic", "keyPreview": "sk-a****ghij"}  # the key it replaced
    assert replaced["after"]["keyPreview"] == "sk-a****GHIJ"
    assert deleted["action"] == "key.delete" and deleted["after"] is None
    assert deleted["before"] == replaced["after"]  # the status as it stood


def test_a_purge_by_the_sweep_is_audited_with_its_reason(api, aws, frozen_clock):
    api.put("/api/byok-keys/grok", {"apiKey": GROK_KEY, "expiresAt": "2026-11-18T10:30:00Z"})
    frozen_clock[0] += 3600
    assert sweep.sweep(sweep.SweepRequest(run_id="purge"), time_left_ms=lambda: 600_000)["keysPurged"] == 1
    purge = trail(api)[0]
    assert (purge["actor"], purge["action"], purge["reason"]) == ("sweep", "key.purge", "key_expired")
    assert purge["before"]["keyPreview"] == "xai****fgh" and purge["before"]["hasValidKey"] is False


# ---- the canary: no key in any entry or answer ---------------------------------------------------------------

CANARY = "sk-ant-api03-CANARY-7f3a9c1e5b2d4f6a8c0e"
CANARY_PARTS = ("CANARY-7f3a9c1e5b2d4f6a8c0e", "7f3a9c1e5b2d", "CANARY")


def test_the_canary_key_is_in_no_entry_and_no_answer(api, aws):
    answers = [api.put("/api/byok-keys/anthropic", {"apiKey": CANARY}).body]
    answers.append(api.put("/api/model-configs/blueprint", {"modelName": OPUS}).body)
    answers.append(api.put("/api/byok-keys/anthropic", {"apiKey": ANTHROPIC_KEY}).body)  # replaces the canary
    answers.append(api.put("/api/byok-keys/anthropic", {"apiKey": CANARY}).body)
    answers.append(api.delete("/api/byok-keys/anthropic").body)
    answers += [api.get(AUDIT).body, api.get(EXPORT).body]
    stored = json.dumps(aws.dynamodb.scan(TableName=aws.audit_table)["Items"]) + json.dumps(aws.items())
    assert len(aws.audit_entries()) == 5
    for text in (stored, *map(json.dumps, answers)):
        for part in CANARY_PARTS:
            assert part not in text
    assert "sk-a****8c0e" in stored  # the preview is what the trail keeps


# ---- the route: paging, cursors, retention -------------------------------------------------------------------


def test_pages_newest_first_one_query_each_until_no_cursor(api, aws):
    for n in range(7):
        api.put("/api/model-configs/blueprint", {"modelName": PRO, "maxTokens": 100 + n})
    calls = aws.count_calls()
    first = api.get(AUDIT, query={"limit": "3"}).data
    assert calls == {"dynamodb.Query": 1}
    second = api.get(AUDIT, query={"limit": "3", "cursor": first["nextCursor"]}).data
    third = api.get(AUDIT, query={"limit": "3", "cursor": second["nextCursor"]}).data
    tokens = [e["after"]["maxTokens"] for page in (first, second, third) for e in page["entries"]]
    assert tokens == [106, 105, 104, 103, 102, 101, 100]
    assert "nextCursor" not in third or third["entries"] == []
    assert len(trail(api)) == 7  # the default page of 50 holds them all
    assert Api("user-b").get(AUDIT).data == {"entries": []}  # another user sees none of mine


def test_a_cursor_is_good_only_for_its_user_and_unaltered(api, aws):
    for _ in range(3):
        api.put("/api/model-configs/blueprint", {"modelName": PRO})
    cursor = api.get(AUDIT, query={"limit": "1"}).data["nextCursor"]
    position, tag = cursor.split(".")
    altered = position[:-2] + ("AA" if not position.endswith("AA") else "BB") + "." + tag
    for who, bad in ((Api("user-b"), cursor), (api, altered), (api, position + "." + "0" * 24), (api, "%%%")):
        reply = who.get(AUDIT, query={"cursor": bad})
        assert reply.status == 400 and reply.error["message"].startswith("cursor: "), bad


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"cursor": "x" * 513}, "cursor"),
    ],
)
def test_a_limit_out_of_range_or_an_oversized_cursor_is_a_400_naming_it(api, aws, query, field):
    reply = api.get(AUDIT, query=query)
    assert reply.status == 400 and reply.error["message"].startswith(f"{field}: ")


def test_an_entry_past_its_retention_is_never_listed_whenever_ttl_removes_it(api, aws, frozen_clock, monkeypatch):
    api.put("/api/model-configs/blueprint", {"modelName": PRO})
    frozen_clock[0] += 300 * DAY
    api.put("/api/model-configs/blueprint", {"modelName": FLASH})
    frozen_clock[0] += 101 * DAY  # the first is 401 days old: past the default 400, still stored (TTL is late)
    assert len(aws.audit_entries()) == 2
    assert [e["after"]["modelName"] for e in trail(api)] == [FLASH]
    assert [e["after"]["modelName"] for e in api.get(EXPORT).data["audit"]] == [FLASH]
    monkeypatch.setenv("AUDIT_RETENTION_DAYS", "3650")  # a longer setting does not revive an expired entry
    from tests.support.aws import reset_caches

    reset_caches()
    assert [e["after"]["modelName"] for e in trail(api)] == [FLASH]
    stored = aws.dynamodb.scan(TableName=aws.audit_table)["Items"]
    assert sorted(int(i["expiresAt"]["N"]) - int(NOW) for i in stored) == [400 * DAY, 700 * DAY]


# ---- export --------------------------------------------------------------------------------------------------


def test_the_export_holds_everything_stored_about_the_caller_and_keys_as_previews(api, aws):
    api.put("/api/byok-keys/anthropic", {"apiKey": ANTHROPIC_KEY})
    saved = api.put("/api/model-configs/blueprint", {"modelName": OPUS}).data["config"]
    Api("user-b").put("/api/model-configs/blueprint", {"modelName": FLASH})
    calls = aws.count_calls()
    data = api.get(EXPORT).data
    assert calls == {"dynamodb.Query": 2}  # configs and key status; one page of the trail
    assert data["userId"] == "user-a" and data["exportedAt"].endswith("Z")
    assert data["configs"] == [saved]
    assert [(k["provider"], k["keyPreview"]) for k in data["keys"]] == [("anthropic", "sk-a****ghij")]
    assert data["customProviders"] == []
    assert [e["action"] for e in data["audit"]] == ["config.put", "key.put"]
    assert ANTHROPIC_KEY not in json.dumps(data)
    assert Api("user-c").get(EXPORT).data | {"exportedAt": ""} == {
        "userId": "user-c", "exportedAt": "", "configs": [], "keys": [], "customProviders": [], "audit": [],
    }  # fmt: skip


# ---- erasure -------------------------------------------------------------------------------------------------


def erase(user_id: str, *, seconds: float = 300, **event: Any) -> dict[str, Any]:
    fn = runtime.function("EraseUserFunction")
    result: dict[str, Any] = runtime.handler(fn)(
        event or {"userId": user_id}, runtime.Context(fn, timeout_seconds=seconds)
    )
    return result


def populate(api: Api, entries: int = 0) -> None:
    """13 configs, 4 keys and their limit counters, and `entries` more audit entries (config saves)."""
    for provider, key in (("openai", OPENAI_KEY), ("anthropic", ANTHROPIC_KEY), ("grok", GROK_KEY),
                          ("google-ai-studio", GOOGLE_KEY)):  # fmt: skip
        assert api.put(f"/api/byok-keys/{provider}", {"apiKey": key}, query={"verify": "false"}).status == 200
    from modelconfig.catalog import CATALOG

    for action in CATALOG.actions:
        model = "disabled" if CATALOG.actions[action].constraint else PRO
        if action in ("templateSelection", "conversationalResponse"):
            model = "google-ai-studio/gemini-2.5-flash-lite"
        assert api.put(f"/api/model-configs/{action}", {"modelName": model}).status == 200, action
    for n in range(entries):
        api.put("/api/model-configs/blueprint", {"modelName": PRO, "maxTokens": 100 + n})


def everything_of(aws, user_id: str) -> list[dict[str, Any]]:
    items = aws.items() + aws.dynamodb.scan(TableName=aws.audit_table)["Items"]
    return [i for i in items if i["pk"]["S"] == f"USER#{user_id}"]


def receipt(aws, user_id: str) -> dict[str, Any]:
    digest = hashlib.sha256(user_id.encode()).hexdigest()
    item = aws.dynamodb.get_item(TableName=aws.audit_table, Key={"pk": {"S": "ERASED"}, "sk": {"S": digest}})
    return item["Item"]


def test_erasure_removes_every_item_and_the_secret_and_never_another_user(api, aws):
    populate(api, entries=5)
    other = Api("user-b")
    populate(other)
    before_b = everything_of(aws, "user-b")
    result = erase("user-a")
    assert result == {"itemsDeleted": len(before_b) + 5, "secretDeleted": True, "complete": True}
    assert everything_of(aws, "user-a") == []
    assert aws.user_secret("user-a") is None
    assert (
        aws.secretsmanager.list_secrets(Filters=[{"Key": "name", "Values": ["model-config/byok/user-a"]}])["SecretList"]
        == []
    )  # gone without a recovery window: the name is free at once
    assert everything_of(aws, "user-b") == before_b and aws.user_secret("user-b") is not None
    mine = receipt(aws, "user-a")
    assert "user-a" not in json.dumps(mine)  # no id in clear, only its SHA-256
    assert mine["itemsDeleted"] == {"N": str(result["itemsDeleted"])} and mine["secretDeleted"] == {"BOOL": True}


def test_erasure_twice_finds_nothing_the_second_time_and_keeps_one_receipt(api, aws):
    populate(api)
    first = erase("user-a")
    assert first["complete"] is True and first["itemsDeleted"] > 17
    assert erase("user-a") == {"itemsDeleted": 0, "secretDeleted": False, "complete": True}
    kept = receipt(aws, "user-a")
    assert kept["runs"] == {"N": "2"} and kept["itemsDeleted"] == {"N": str(first["itemsDeleted"])}
    erased = [i for i in aws.dynamodb.scan(TableName=aws.audit_table)["Items"] if i["pk"]["S"] == "ERASED"]
    assert len(erased) == 1


def test_an_erased_user_who_signs_in_again_starts_empty(api, aws):
    populate(api)
    erase("user-a")
    assert all(not c["isUserOverride"] for c in api.get("/api/model-configs").data["configs"].values())
    assert not any(p["hasValidKey"] for p in api.get("/api/byok-keys").data["providers"])
    assert api.get(AUDIT).data == {"entries": []}  # the receipt is never read as theirs
    assert api.put("/api/byok-keys/openai", {"apiKey": OPENAI_KEY}, query={"verify": "false"}).status == 200
    assert [e["action"] for e in trail(api)] == ["key.put"]


def test_erasure_of_a_secret_scheduled_for_deletion_deletes_it_at_once(api, aws):
    api.put("/api/byok-keys/openai", {"apiKey": OPENAI_KEY}, query={"verify": "false"})
    api.delete("/api/byok-keys/openai")  # the last key: the secret is scheduled for deletion, 7 days
    assert erase("user-a")["secretDeleted"] is True
    assert aws.secretsmanager.list_secrets(IncludePlannedDeletion=True)["SecretList"] == [
        s for s in aws.secretsmanager.list_secrets(IncludePlannedDeletion=True)["SecretList"]
        if not s["Name"].endswith("user-a")
    ]  # fmt: skip


def test_a_service_that_refuses_to_force_a_scheduled_deletion_gets_it_restored_then_forced(api, aws):
    api.put("/api/byok-keys/openai", {"apiKey": OPENAI_KEY}, query={"verify": "false"})
    api.delete("/api/byok-keys/openai")  # scheduled for deletion
    sm = aws_clients.secretsmanager()
    left = fail(sm, "DeleteSecret", "InvalidRequestException", "the secret is already scheduled for deletion")
    calls = aws.count_calls()
    assert erase("user-a")["secretDeleted"] is True
    assert left == [0]  # the first DeleteSecret was refused (an answered fault is not counted below)
    assert calls["secretsmanager.RestoreSecret"] == 1 and calls["secretsmanager.DeleteSecret"] == 1
    names = [s["Name"] for s in aws.secretsmanager.list_secrets(IncludePlannedDeletion=True)["SecretList"]]
    assert not [n for n in names if n.endswith("user-a")]


def test_erasure_near_its_deadline_stops_incomplete_and_invokes_itself_to_carry_on(api, aws, monkeypatch):
    from botocore.stub import Stubber

    populate(api, entries=30)
    in_config_table = len([i for i in aws.items() if i["pk"]["S"] == "USER#user-a"])  # configs, keys, a counter
    assert in_config_table > 10
    monkeypatch.setattr(accountability, "ERASE_PAGE", 10)
    budget = iter([600_000, 600_000, 0])  # two pages, then the deadline
    fn = runtime.function("EraseUserFunction")
    context = runtime.Context(fn)
    context.get_remaining_time_in_millis = lambda: next(budget, 0)  # type: ignore[method-assign]
    with Stubber(aws_clients.lambda_()) as stub:  # moto runs no Lambda: stand in for the continuation's Invoke
        stub.add_response(
            "invoke",
            {"StatusCode": 202},
            {
                "FunctionName": context.invoked_function_arn,
                "InvocationType": "Event",
                "Payload": json.dumps({"userId": "user-a", "continuation": True}).encode(),
            },
        )
        paused = runtime.handler(fn)({"userId": "user-a"}, context)
        stub.assert_no_pending_responses()
    assert paused == {"itemsDeleted": in_config_table, "secretDeleted": True, "complete": False}  # 10, then the rest
    assert receipt(aws, "user-a")["complete"] == {"BOOL": False}
    done = erase("user-a", userId="user-a", continuation=True)
    assert done["complete"] is True and done["secretDeleted"] is False
    assert everything_of(aws, "user-a") == []
    assert receipt(aws, "user-a")["complete"] == {"BOOL": True}


@pytest.mark.parametrize(
    ("service", "operation"),
    [("dynamodb", "BatchWriteItem"), ("dynamodb", "Query"), ("secretsmanager", "DeleteSecret")],
)
def test_a_fault_part_way_fails_the_run_and_a_second_run_finishes_the_job(api, aws, monkeypatch, service, operation):
    populate(api, entries=30)
    monkeypatch.setattr(accountability, "ERASE_PAGE", 10)
    client = getattr(aws_clients, service)()
    calls = {"n": 0}

    def after_some(_params: dict[str, Any]) -> bool:  # let the first calls through: the fault comes part-way
        calls["n"] += 1
        return calls["n"] > (2 if operation != "DeleteSecret" else 0)

    fail(client, operation, "InternalServerError", status=500, times=1, when=after_some)
    with pytest.raises(Exception, match="unavailable"):  # raised: Lambda retries it, then the dead-letter queue
        erase("user-a")
    assert erase("user-a")["complete"] is True
    assert everything_of(aws, "user-a") == [] and aws.user_secret("user-a") is None


def test_throttling_past_the_sdks_retries_fails_the_run_and_the_next_finishes(api, aws, monkeypatch):
    from tests.support.faults import throttle

    populate(api)
    monkeypatch.setattr("time.sleep", lambda _s: None)  # the SDK's backoff between its attempts
    seen = throttle(aws_clients.dynamodb(), ["BatchWriteItem"], times=3)  # every attempt of the first batch
    with pytest.raises(Exception, match="unavailable"):
        erase("user-a")
    assert len(seen) == 3  # the SDK tried three times
    assert erase("user-a")["complete"] is True and everything_of(aws, "user-a") == []


@pytest.mark.parametrize(
    "event", [{}, {"userId": ""}, {"userId": 7}, {"userId": "x" * 256}, {"detail": {"userId": None}}, ["user-a"]]
)
def test_a_bad_erasure_event_is_a_validation_error_answer(aws, event):
    fn = runtime.function("EraseUserFunction")
    result = runtime.handler(fn)(event, runtime.Context(fn))
    assert result["error"]["name"] == "ValidationError" and result["error"]["message"].startswith("userId: ")


def test_an_eventbridge_user_deleted_event_erases_its_detail_user(api, aws):
    populate(api)
    event = json.loads((runtime.ROOT / "infra/events/EraseUserFunction-eventbridge.json").read_text())
    event["detail"]["userId"] = "user-a"
    assert erase("user-a", **event)["complete"] is True
    assert everything_of(aws, "user-a") == []


def test_the_template_gives_erasure_its_invoke_policy_outputs_and_alarms():
    doc = runtime.template()
    resources, outputs = doc["Resources"], doc["Outputs"]
    policy = resources["EraseUserInvokePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    function, alias = {"Fn::GetAtt": ["EraseUserFunction", "Arn"]}, {"Ref": "EraseUserFunction.Alias"}
    assert policy == [{"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": [function, alias]}]
    assert outputs["EraseUserFunctionArn"]["Value"] == alias  # the published version: what SnapStart snapshots
    assert outputs["EraseUserInvokePolicyArn"]["Value"] == {"Ref": "EraseUserInvokePolicy"}
    dimension = resources["EraseUserErrorsAlarm"]["Properties"]["Dimensions"][0]
    assert dimension["Value"] == {"Ref": "EraseUserFunction"}
    erase_fn = resources["EraseUserFunction"]["Properties"]
    assert erase_fn["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": ["ErasureDeadLetterQueue", "Arn"]
    }
    audit = resources["AuditTable"]["Properties"]
    assert audit["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}


# ---- the trail stays out of every config read ----------------------------------------------------------------


def test_two_thousand_entries_change_no_config_read_nor_the_sweep(api, aws):
    from benchmarks.run import seed_audit

    api.put("/api/model-configs/blueprint", {"modelName": PRO})
    api.put("/api/byok-keys/anthropic", {"apiKey": ANTHROPIC_KEY}, query={"verify": "false"})
    api.put("/api/model-configs/deepDebugger", {"modelName": OPUS})

    runs: list[int] = []

    def reads() -> tuple[list[str], list[Any]]:
        """The tables each config read touches, and what list, get, the sweep and resolve answer."""
        runs.append(1)
        tables: list[str] = []

        def record(params: dict[str, Any], **_kw: Any) -> None:
            tables.append(params["TableName"])

        client = aws_clients.dynamodb()
        client.meta.events.register("provide-client-params.dynamodb.*", record)
        try:
            answers = [
                api.get("/api/model-configs").data["configs"],
                api.get("/api/model-configs/deepDebugger").data,
                sweep.sweep(sweep.SweepRequest(run_id=f"r{len(runs)}"), time_left_ms=lambda: 600_000)["scanned"],
            ]
        finally:
            client.meta.events.unregister("provide-client-params.dynamodb.*", record)
        fn = runtime.function("ResolveFunction")
        resolved = runtime.handler(fn)({"userId": "user-a", "agentActions": ["deepDebugger"]}, runtime.Context(fn))
        return tables, [*answers, resolved["resolved"]["deepDebugger"]["keySource"]]

    def config_reads(counted: dict[str, int]) -> dict[str, int]:  # caches and lastUsedAt aside: the reads
        return {op: n for op, n in counted.items() if op in ("dynamodb.Query", "dynamodb.Scan", "dynamodb.GetItem")}

    calls = aws.count_calls()
    before = reads()
    counted_before = config_reads(calls)
    seed_audit("user-a", 2000)
    calls.clear()
    after = reads()
    assert after == before  # the same tables, the same answers, the sweep scanned the same two overrides
    assert config_reads(calls) == counted_before
    assert set(before[0]) == {aws.table} and before[1][2] == 2  # the audit table is never read
    assert len(aws.audit_entries("user-a")) == 2003
