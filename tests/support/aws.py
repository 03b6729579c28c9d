"""AWS under moto's mock_aws with the template's own table and the platform keys secret, every call the code
under test makes counted, and each call attributed to the function that made it (for the IAM drift test)."""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from moto import mock_aws

from infra import runtime
from modelconfig import instance
from modelconfig.settings import settings
from modelconfig.storage import aws as aws_clients
from modelconfig.storage import secrets
from tests import iam
from tests.support.constants import PLATFORM_KEYS, PLATFORM_SECRET

# Every AWS call made inside a function's invocation, as IAM would see it (tests/iam.py; test_iam_drift).
PERFORMED: list[iam.Call] = []
_load_handler = runtime.handler  # the real one, kept before attribute_handlers() wraps it


def _attributed_handler(fn: runtime.Function) -> Any:
    """runtime.handler, with the function's logical id set while it serves an event."""
    inner = _load_handler(fn)

    def serve(event: Any, context: Any) -> Any:
        token = iam.current_function.set(fn.logical_id)
        try:
            return inner(event, context)
        finally:
            iam.current_function.reset(token)

    return serve


def _record_for_iam(params: dict[str, Any], model: Any, **_: Any) -> None:
    function = iam.current_function.get()
    if function is not None:
        PERFORMED.extend(iam.calls_of(function, model.service_model.service_name, model.name, params, os.environ))


def attribute_handlers() -> None:
    """Make runtime.handler attribute each AWS call to the function serving the event (once per session)."""
    if runtime.handler is not _attributed_handler:
        runtime.handler = _attributed_handler


def reset_caches() -> None:
    """Every cache a cold start builds, emptied: the next request runs as a fresh instance's would (the settings
    too: tests change the environment)."""
    settings.cache_clear()
    instance.forget()


@dataclass
class Aws:
    table: str
    audit_table: str
    dynamodb: Any
    secretsmanager: Any
    calls: Counter[str] = field(default_factory=Counter)

    def count_calls(self) -> Counter[str]:
        """Start counting AWS calls (service.Operation) made by the code under test from now on."""
        self.calls.clear()
        return self.calls

    def items(self) -> list[dict[str, Any]]:
        return self.dynamodb.scan(TableName=self.table)["Items"]

    def audit_entries(self, user_id: str | None = None) -> list[dict[str, Any]]:
        """The stored audit entries (of `user_id`, or everyone's), oldest first, as their wire objects."""
        items = self.dynamodb.scan(TableName=self.audit_table)["Items"]
        mine = [i for i in items if "entry" in i and (user_id is None or i["pk"]["S"] == f"USER#{user_id}")]
        return [json.loads(i["entry"]["S"]) for i in sorted(mine, key=lambda i: i["sk"]["S"])]

    def user_secret(self, user_id: str) -> dict[str, str] | None:
        try:
            value = self.secretsmanager.get_secret_value(SecretId=secrets.secret_name(user_id))
        except (
            self.secretsmanager.exceptions.ResourceNotFoundException,
            self.secretsmanager.exceptions.InvalidRequestException,  # scheduled for deletion
        ):
            return None
        return json.loads(value["SecretString"])


@contextlib.contextmanager
def mocked_aws(monkeypatch: pytest.MonkeyPatch, **env: str) -> Iterator[Aws]:
    """moto's mock_aws with the template's table and the platform keys secret, the service's environment set
    through `monkeypatch` (so it is undone with the caller's own changes), and AWS calls counted."""
    with mock_aws():
        table = f"configs-{uuid.uuid4().hex[:8]}"
        audit_table = f"audit-{table}"
        defaults = {
            "TABLE_NAME": table,
            "AUDIT_TABLE_NAME": audit_table,
            "USER_SECRET_PREFIX": "model-config/byok/",
            "PLATFORM_KEYS_SECRET_ID": PLATFORM_SECRET,
            "PLATFORM_MODEL_PROVIDERS": "google-ai-studio",
        }
        for name, value in (defaults | env).items():
            monkeypatch.setenv(name, value)
        reset_caches()
        session = boto3.session.Session()
        ddb = session.client("dynamodb", region_name="us-east-1")
        sm = session.client("secretsmanager", region_name="us-east-1")
        runtime.create_table(ddb, table)
        runtime.create_table(ddb, audit_table, "AuditTable")
        sm.create_secret(Name=PLATFORM_SECRET, SecretString=json.dumps(PLATFORM_KEYS))
        counted = Aws(table=table, audit_table=audit_table, dynamodb=ddb, secretsmanager=sm)

        def record(model: Any, **_: Any) -> None:
            counted.calls[f"{model.service_model.service_name}.{model.name}"] += 1

        # Clients of the code under test come from the service's own session; count only theirs.
        aws_clients.session().register("before-call", record)
        aws_clients.session().register("before-parameter-build", _record_for_iam, unique_id="iam-drift")
        try:
            yield counted
        finally:
            aws_clients.session().unregister("before-call", record)  # else every later call counts here too
            reset_caches()
