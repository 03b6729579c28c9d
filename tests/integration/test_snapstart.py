"""SnapStart (the template's `SnapStart` parameter): the hooks every function registers, run the way Lambda's
runtime runs them, from the registry its Python runtimes ship (`snapshot_restore_py`): before the snapshot in the
reverse order of registration, after a restore in the order of registration. Nothing an instance learnt before
the snapshot (a key, a client, a connection, a host verdict, a random sequence) is used after a restore."""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Callable
from typing import Any

import pytest
import snapshot_restore_py

from infra import runtime
from modelconfig.providers import client as provider_client
from modelconfig.providers import egress
from modelconfig.storage import aws as aws_clients
from tests.support.constants import ANTHROPIC_KEY, OPUS, PLATFORM_KEYS, PRO


def fresh_instance(logical_id: str) -> Callable[[dict[str, Any]], Any]:
    """A new instance's init: the function's module imported anew, its hooks going into an empty registry."""
    snapshot_restore_py.get_before_snapshot().clear()
    snapshot_restore_py.get_after_restore().clear()
    fn = runtime.function(logical_id)
    module = runtime.import_source(f"snapstart_{logical_id}", fn.source)
    handler = getattr(module, fn.handler.rsplit(".", 1)[1])
    return lambda event: handler(event, runtime.Context(fn))


def snapshot() -> None:
    for hook, args, kwargs in reversed(snapshot_restore_py.get_before_snapshot()):
        hook(*args, **kwargs)


def restore() -> None:
    for hook, args, kwargs in snapshot_restore_py.get_after_restore():
        hook(*args, **kwargs)


@pytest.fixture(autouse=True)
def _empty_registry():
    yield
    snapshot_restore_py.get_before_snapshot().clear()
    snapshot_restore_py.get_after_restore().clear()


KINDS = ["ResolveFunction", "ListConfigsFunction", "SweepFunction", "GetDefaultsFunction"]  # invoked, route, runs


@pytest.mark.parametrize("logical_id", KINDS)
def test_every_kind_of_function_registers_one_hook_each_way(aws, logical_id):
    fresh_instance(logical_id)
    before = [hook.__qualname__ for hook, _a, _k in snapshot_restore_py.get_before_snapshot()]
    after = [hook.__qualname__ for hook, _a, _k in snapshot_restore_py.get_after_restore()]
    assert (before, after) == (["before_snapshot"], ["after_restore"])


def test_the_snapshot_holds_the_sdk_but_no_client(aws):
    fresh_instance("ListConfigsFunction")
    aws_clients.reset_clients()
    aws_clients.session.cache_clear()
    snapshot()
    assert aws_clients.session.cache_info().currsize == 1  # the SDK imported and its session made, once
    assert aws_clients.dynamodb.cache_info().currsize == 0  # no client: none holds the snapshot's credentials


def test_no_key_client_or_verdict_cached_before_a_restore_is_used_after_it(api, aws):
    api.put("/api/byok-keys/anthropic", {"apiKey": ANTHROPIC_KEY})
    api.put("/api/model-configs/blueprint", {"modelName": OPUS})
    api.put("/api/model-configs/phaseGeneration", {"modelName": PRO})
    resolve = fresh_instance("ResolveFunction")
    event = {"userId": "user-a", "agentActions": ["blueprint", "phaseGeneration"]}

    # An instance that has served: the user's keys and the platform's cached, a client and its pool made, a host
    # judged, the random sequence at a known place.
    calls = aws.count_calls()
    first = resolve(event)["resolved"]
    assert calls["secretsmanager.GetSecretValue"] == 2  # the user's secret and the platform's
    assert (first["blueprint"]["apiKey"], first["phaseGeneration"]["apiKey"]) == (
        ANTHROPIC_KEY,
        PLATFORM_KEYS["google-ai-studio"],
    )
    calls = aws.count_calls()
    resolve(event)
    assert calls == {"dynamodb.Query": 1}  # both secrets came from the instance's caches
    dynamodb, providers = aws_clients.dynamodb(), provider_client._client()
    assert egress.recheck("https://127.0.0.1/v1") is not None  # refused (loopback), and the verdict kept
    assert egress._verdicts
    random.seed(7)
    seeded = random.Random(7).random()

    snapshot()
    restore()

    assert random.random() != seeded  # a new seed, not the sequence every copy of the snapshot shares
    assert not egress._verdicts
    assert aws_clients.dynamodb() is not dynamodb and provider_client._client() is not providers
    calls = aws.count_calls()
    again = resolve(event)["resolved"]
    assert calls["secretsmanager.GetSecretValue"] == 2  # both secrets read anew: no cached key outlived the restore
    assert again["blueprint"]["apiKey"] == ANTHROPIC_KEY


def test_without_snapstarts_registry_the_functions_register_nothing_and_still_serve(aws, monkeypatch):
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", None)  # a runtime without it: the import fails
    handler = fresh_instance("GetDefaultsFunction")
    assert snapshot_restore_py.get_before_snapshot() == [] and snapshot_restore_py.get_after_restore() == []
    sample = json.loads((runtime.ROOT / "infra" / "events" / "GetDefaultsFunction.json").read_text())
    assert handler(sample)["statusCode"] == 200
