"""What the sweep reads and writes: the whole table page by page, its checkpoints (`SWEEP`/`RUN#<id>`), and the
platform-enabled providers it last accepted (`SWEEP`/`PLATFORM`)."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from typing import TYPE_CHECKING, NamedTuple

from modelconfig.records import Checkpoint, CustomProviderRecord, KeyRecord, Override
from modelconfig.storage import dynamo, partitions
from modelconfig.storage.aws import CONFIG_STORE, dynamodb, unavailable_on_fault
from modelconfig.storage.dynamo import USER, ItemKey

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import ScanInputTypeDef

PK = "SWEEP"
CHECKPOINT_DAYS = 7


class ScanPage(NamedTuple):
    """One page of user items in scan order (a user's BYOC# and BYOK# items come before that user's CONFIG#
    items)."""

    items: list[tuple[ItemKey, Override | KeyRecord | CustomProviderRecord]]
    cursor: str | None  # where the next page starts; None when the scan is complete


def scan_page(cursor: str | None, *, limit: int = 1000) -> ScanPage:
    params: ScanInputTypeDef = {"TableName": dynamo.table_name(), "Limit": limit}
    if cursor:
        params["ExclusiveStartKey"] = json.loads(cursor)
    with unavailable_on_fault(CONFIG_STORE):
        page = dynamodb().scan(**params)
    items: list[tuple[ItemKey, Override | KeyRecord | CustomProviderRecord]] = []
    for item in page.get("Items", []):
        pk, sk = item["pk"]["S"], item["sk"]["S"]
        if not pk.startswith(USER):
            continue
        value = partitions.decode(item)
        if value is not None:
            items.append((ItemKey(pk.removeprefix(USER), sk), value))
    last = page.get("LastEvaluatedKey")
    return ScanPage(items, json.dumps(last, sort_keys=True) if last else None)


def load_checkpoint(run_id: str) -> Checkpoint | None:
    with unavailable_on_fault(CONFIG_STORE):
        item = (
            dynamodb()
            .get_item(
                TableName=dynamo.table_name(), Key={"pk": {"S": PK}, "sk": {"S": "RUN#" + run_id}}, ConsistentRead=True
            )
            .get("Item")
        )
    if not item:
        return None
    return Checkpoint(run_id=run_id, **json.loads(item["state"]["S"]))


BASELINE = "PLATFORM"


def load_baseline() -> frozenset[str] | None:
    """The platform-enabled providers the last complete run accepted, or None before the first."""
    with unavailable_on_fault(CONFIG_STORE):
        item = (
            dynamodb()
            .get_item(TableName=dynamo.table_name(), Key={"pk": {"S": PK}, "sk": {"S": BASELINE}}, ConsistentRead=True)
            .get("Item")
        )
    return frozenset(json.loads(item["providers"]["S"])) if item else None


def save_baseline(providers: frozenset[str]) -> None:
    """Record the providers a complete run accepted as platform-enabled (it never expires)."""
    with unavailable_on_fault(CONFIG_STORE):
        dynamodb().put_item(
            TableName=dynamo.table_name(),
            Item={"pk": {"S": PK}, "sk": {"S": BASELINE}, "providers": {"S": json.dumps(sorted(providers))}},
        )


def save_checkpoint(checkpoint: Checkpoint) -> None:
    state = asdict(checkpoint)
    del state["run_id"]
    with unavailable_on_fault(CONFIG_STORE):
        dynamodb().put_item(
            TableName=dynamo.table_name(),
            Item={
                "pk": {"S": PK},
                "sk": {"S": "RUN#" + checkpoint.run_id},
                "state": {"S": json.dumps(state, sort_keys=True)},
                "expiresAt": {"N": str(int(time.time()) + CHECKPOINT_DAYS * 86400)},
            },
        )
