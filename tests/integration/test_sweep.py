"""The scheduled reset sweep (SPEC section 7; issue 5)."""

import json

import pytest

from infra import runtime
from modelconfig import sweep
from modelconfig.errors import InvalidInput
from modelconfig.records import KeyRecord
from modelconfig.storage import aws as aws_clients
from modelconfig.storage import dynamo, keystatus, overrides, partitions
from modelconfig.storage.dynamo import ItemKey
from tests.factories import config_row
from tests.support.constants import FLASH, OPUS, PRO


def store(user, action, model, fallback=None):
    """Write an override straight through storage, as an older catalog or rule set would have allowed."""
    overrides.put_many([config_row(user, action, model, fallback=fallback)])


def give_key(user, provider):
    token = "t"
    keystatus.acquire_lease(user, token, lease_seconds=30, wait_seconds=0)
    keystatus.commit(user, token, put=[KeyRecord(provider, "sk****xx", "2026-01-01T00:00:00.000Z")])


def remaining(aws):
    return {(c.user_id, c.action) for u in ("u1", "u2", "u3", "u4") for c in partitions.query(u).overrides.values()}


def plenty():
    return 600_000


@pytest.fixture
def seeded(aws):
    store("u1", "blueprint", PRO)  # works
    store("u1", "deepDebugger", "openai/gpt-4-retired")  # model retired
    store("u1", "fileRegeneration", PRO, fallback="google-ai-studio/gemini-1.0-gone")  # fallback retired
    store("u2", "templateSelection", PRO)  # violates the lite-only constraint
    store("u2", "conversationalResponse", FLASH, fallback=PRO)  # fallback violates the constraint
    store("u2", "blueprint", OPUS)  # anthropic, no key, not platform-enabled
    store("u3", "blueprint", OPUS)  # anthropic with a key: works
    give_key("u3", "anthropic")
    store("u3", "retiredAction", PRO)  # an action the catalog no longer has
    store("u4", "blueprint", PRO, fallback="grok/grok-4-fast")  # fallback without access
    return aws


def test_sweep_resets_exactly_what_can_no_longer_work(seeded):
    result = sweep.sweep(sweep.SweepRequest(run_id="r1"), time_left_ms=plenty, page_size=4)
    assert result["complete"] is True
    assert result["scanned"] == 9
    assert result["reset"] == 7
    assert result["resetByReason"] == {
        "action_not_in_catalog": 1,
        "fallback_no_key_access": 1,
        "fallback_not_allowed": 1,
        "fallback_not_in_catalog": 1,
        "model_no_key_access": 1,
        "model_not_allowed": 1,
        "model_not_in_catalog": 1,
    }
    assert result["usersTouched"] == 4
    assert remaining(seeded) == {("u1", "blueprint"), ("u3", "blueprint")}


def test_the_same_run_twice_does_nothing_the_second_time(seeded):
    first = sweep.sweep(sweep.SweepRequest(run_id="daily-1"), time_left_ms=plenty)
    calls = seeded.count_calls()
    again = sweep.sweep(sweep.SweepRequest(run_id="daily-1"), time_left_ms=plenty)
    assert again == first | {"duplicate": True}
    assert calls == {"dynamodb.GetItem": 1}
    fresh = sweep.sweep(sweep.SweepRequest(run_id="daily-2"), time_left_ms=plenty)
    assert (fresh["scanned"], fresh["reset"]) == (2, 0)  # a new run finds nothing left to reset


def test_a_deadline_mid_sweep_pauses_and_the_same_run_finishes(seeded):
    budget = iter([600_000, 600_000, 10])  # two pages, then the deadline is near
    continued = []
    paused = sweep.sweep(
        sweep.SweepRequest(run_id="r2"),
        time_left_ms=lambda: next(budget),
        page_size=3,
        continue_later=continued.append,
    )
    assert paused["complete"] is False
    assert continued == [sweep.SweepRequest(run_id="r2")]
    assert 0 < paused["scanned"] < 9
    done = sweep.sweep(sweep.SweepRequest(run_id="r2"), time_left_ms=plenty, page_size=3)
    assert done["complete"] is True
    assert done["scanned"] == 9 and done["reset"] == 7 and done["usersTouched"] == 4
    assert remaining(seeded) == {("u1", "blueprint"), ("u3", "blueprint")}


def test_a_resume_inside_a_partition_reads_that_users_key_status(aws):
    give_key("u3", "anthropic")
    for action in ("blueprint", "deepDebugger", "phaseImplementation", "firstPhaseImplementation"):
        store("u3", action, OPUS)  # all need u3's anthropic key
    budget = iter([600_000, 10])
    paused = sweep.sweep(sweep.SweepRequest(run_id="r3"), time_left_ms=lambda: next(budget), page_size=3)
    assert paused["complete"] is False
    calls = aws.count_calls()
    done = sweep.sweep(sweep.SweepRequest(run_id="r3"), time_left_ms=plenty, page_size=3)
    assert done["complete"] is True and done["reset"] == 0 and done["scanned"] == 4
    assert calls["dynamodb.Query"] == 1  # the cut partition's key status, read once


def test_key_status_is_not_read_per_config(seeded):
    calls = seeded.count_calls()
    sweep.sweep(sweep.SweepRequest(run_id="r4"), time_left_ms=plenty)
    assert "dynamodb.Query" not in calls  # key status arrives in the scan, before each user's configs
    # One transaction per reset (its conditional delete and its audit entry), none per kept override.
    assert calls["dynamodb.TransactWriteItems"] == 7
    assert "dynamodb.BatchWriteItem" not in calls and "dynamodb.DeleteItem" not in calls


def test_each_reset_is_audited_with_the_sweep_as_actor_and_its_reason(seeded):
    sweep.sweep(sweep.SweepRequest(run_id="r-audit"), time_left_ms=plenty)
    entries = seeded.audit_entries()
    assert len(entries) == 7 and {e["actor"] for e in entries} == {"sweep"}
    assert {e["action"] for e in entries} == {"sweep.reset"}
    by_target = {e["target"]["agentAction"]: e for e in seeded.audit_entries("u1")}
    assert set(by_target) == {"deepDebugger", "fileRegeneration"}  # u1's blueprint works: no entry
    retired = by_target["deepDebugger"]
    assert retired["reason"] == "model_not_in_catalog" and retired["after"] is None
    assert retired["before"]["modelName"] == "openai/gpt-4-retired" and retired["before"]["userId"] == "u1"
    assert "requestId" not in retired and "sourceIp" not in retired  # no request carried it


def test_a_reset_the_scan_read_but_the_user_changed_is_neither_applied_nor_audited(aws):
    store("u1", "deepDebugger", "openai/gpt-4-retired")
    client = aws_clients.dynamodb()
    saved = []

    def user_saves_first(params, **_kw):  # the user's save lands between the scan and the reset
        if not saved:
            saved.append(True)
            later = config_row("u1", "deepDebugger", PRO, updated_at="2026-06-01T00:00:00.000Z", revision="0" * 16)
            overrides.put_many([later])

    client.meta.events.register("before-call.dynamodb.TransactWriteItems", user_saves_first)
    try:
        result = sweep.sweep(sweep.SweepRequest(run_id="r-race"), time_left_ms=plenty)
    finally:
        client.meta.events.unregister("before-call.dynamodb.TransactWriteItems", user_saves_first)
    assert (result["reset"], result["skipped"]) == (0, 1)
    assert partitions.query("u1").overrides["deepDebugger"].model == PRO
    assert aws.audit_entries() == []


def test_batch_deletes_go_25_at_a_time_and_unprocessed_items_are_retried(aws, monkeypatch):
    """Erasure and seeding delete in batches; every audited change is a transaction instead."""
    actions = ["deepDebugger", "blueprint", "phaseImplementation"]
    for n in range(20):
        for action in actions:
            store(f"user-{n:02d}", action, "openai/gpt-4-retired")
    client = aws_clients.dynamodb()
    real = client.batch_write_item
    sizes = []

    def half_processed(**kwargs):
        requests = kwargs["RequestItems"][aws.table]
        sizes.append(len(requests))
        if len(requests) > 1:
            real(RequestItems={aws.table: requests[::2]})
            return {"UnprocessedItems": {aws.table: requests[1::2]}}
        return real(**kwargs)

    client.batch_write_item = half_processed
    monkeypatch.setattr("time.sleep", lambda _s: None)
    keys = [ItemKey(f"user-{n:02d}", f"CONFIG#{a}") for n in range(20) for a in actions]
    try:
        calls = dynamo.delete_items(keys)
    finally:
        del client.batch_write_item
    assert calls == len(sizes) == 14  # 25 → 12 → 6 → 3 → 1 twice, then 10 → 5 → 2 → 1
    assert max(sizes) == 25
    assert sizes[:3] == [25, 12, 6]  # a batch, then its unprocessed half, then half of that
    assert [n for n in range(20) if partitions.query(f"user-{n:02d}").overrides] == []  # every item deleted in the end


def test_targeted_reset_of_named_users(seeded):
    fn = runtime.function("SweepFunction")  # as an operator invokes it, through the handler
    result = runtime.handler(fn)({"id": "ops-7", "detail": {"userIds": ["u3", "nobody"]}}, runtime.Context(fn))
    assert result["runId"] == "ops-7"
    assert result == result | {"scanned": 2, "reset": 2, "resetByReason": {"targeted": 2}, "usersTouched": 1}
    assert not partitions.query("u3").overrides
    assert partitions.query("u1").overrides
    (entry,) = seeded.audit_entries("u3")
    assert (entry["actor"], entry["action"], entry["reason"]) == ("operator", "config.reset_all", "targeted")
    assert entry["target"] == {"agentActions": ["blueprint", "retiredAction"]}
    assert [row["agentActionName"] for row in entry["before"]] == ["blueprint", "retiredAction"]
    assert seeded.audit_entries("nobody") == []  # nothing reset, nothing recorded


@pytest.mark.parametrize(
    "event",
    [{"userIds": []}, {"userIds": "u1"}, {"userIds": [""]}, {"userIds": [1]}, {"detail": {"userIds": ["x"] * 1001}}],
)
def test_bad_targeted_payloads_are_refused(event):
    with pytest.raises(InvalidInput):
        sweep.parse_request(event, "id")


def test_run_ids_come_from_the_event(aws):
    assert sweep.parse_request({"scheduledTime": "2026-11-26T00:00:00Z"}, "req").run_id == "2026-11-26T00:00:00Z"
    assert sweep.parse_request({"id": "evt-1", "detail-type": "Scheduled Event", "detail": {}}, "req").run_id == "evt-1"
    assert sweep.parse_request({"runId": "r", "continuation": True}, "req").run_id == "r"
    assert sweep.parse_request({}, "req").run_id == "req"


def test_handler_runs_from_a_scheduled_event_and_publishes_metrics(seeded, capsys):
    fn = runtime.function("SweepFunction")
    event = json.loads((runtime.ROOT / "infra/events/SweepFunction.json").read_text())
    result = runtime.handler(fn)(event, runtime.Context(fn))
    assert result["complete"] is True and result["reset"] == 7
    out = capsys.readouterr().out
    metrics = [json.loads(line) for line in out.splitlines() if '"_aws"' in line]
    assert any(m.get("OverridesReset") == [7.0] and m.get("OverridesScanned") == [9.0] for m in metrics)
    assert any(m.get("Reset_model_not_in_catalog") == [1.0] for m in metrics)


def test_handler_near_its_deadline_checkpoints_and_invokes_itself_to_carry_on(seeded, capsys):
    from botocore.stub import Stubber

    fn = runtime.function("SweepFunction")
    context = runtime.Context(fn, timeout_seconds=5)  # under the 30 s reserve: stop before the first page
    event = {"scheduledTime": "2026-11-26T03:00:00Z"}
    with Stubber(aws_clients.lambda_()) as stub:
        stub.add_response(
            "invoke",
            {"StatusCode": 202},
            {
                "FunctionName": context.invoked_function_arn,
                "InvocationType": "Event",
                "Payload": json.dumps({"runId": "2026-11-26T03:00:00Z", "continuation": True, "force": False}).encode(),
            },
        )
        paused = runtime.handler(fn)(event, context)
        stub.assert_no_pending_responses()
    assert paused["complete"] is False and paused["scanned"] == 0
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert any(m.get("SweepPaused") == [1.0] for m in emitted)
    # The continuation (same run id, a fresh deadline) finishes the run from the checkpoint.
    done = runtime.handler(fn)({"runId": "2026-11-26T03:00:00Z", "continuation": True}, runtime.Context(fn))
    assert done["complete"] is True and done["reset"] == 7
