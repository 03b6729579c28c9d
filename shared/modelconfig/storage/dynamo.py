"""What every store of the one DynamoDB table shares: the table's name, the partition of a user, attribute
encoding, and batched writes. Only the storage modules import this.

One partition per user holds everything of that user, so each route is one request:

    pk = USER#<sub>   sk = BYOK#<provider>        key status (storage.keystatus; never the key)
                      sk = BYOKLOCK               the lease that serialises one user's key writes
                      sk = CONFIG#<action>        one override (storage.overrides)
                      sk = LIMIT#<name>#<window>  a per-user counter (storage.counters; expires)
    pk = SWEEP        sk = RUN#<run id>           a sweep's checkpoint (storage.sweeps; expires)

"BYOK#" sorts before "CONFIG#", so a scan meets a user's key status before that user's configs. The audit
trail lives in a second table (storage.audit), written in the same transaction as each change.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple

from botocore.exceptions import ClientError

from modelconfig.errors import ServiceUnavailable
from modelconfig.settings import settings
from modelconfig.storage.aws import CONFIG_STORE, dynamodb, error_code, unavailable_on_fault

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import (
        AttributeValueTypeDef,
        QueryInputTypeDef,
        TransactWriteItemTypeDef,
        WriteRequestOutputTypeDef,
        WriteRequestTypeDef,
    )

USER = "USER#"
BATCH_SIZE = 25  # DynamoDB's BatchWriteItem limit (moto accepts more; AWS does not)
BATCH_ATTEMPTS = 6
TRANSACT_ATTEMPTS = 3
# Cancellation reasons that pass with time: another transaction on an item, or throughput ("None": that item's
# own part was fine).
PASSING = frozenset({"None", "TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"})

Item = dict[str, "AttributeValueTypeDef"]  # one item, in DynamoDB's own typed form


class ItemKey(NamedTuple):
    """One item of a user's partition: whose, and which."""

    user_id: str
    sort_key: str


def table_name() -> str:
    return settings().table_name


def partition(user_id: str) -> AttributeValueTypeDef:
    return {"S": USER + user_id}


def item_key(user_id: str, sort_key: str) -> Item:
    return {"pk": partition(user_id), "sk": {"S": sort_key}}


def string(value: str | None) -> AttributeValueTypeDef:
    return {"NULL": True} if value is None else {"S": value}


def number(value: float | None) -> AttributeValueTypeDef:
    # repr() gives the shortest string that round-trips, which DynamoDB stores exactly.
    return {"NULL": True} if value is None else {"N": repr(value)}


def read(item: Item, name: str) -> Any:
    """An attribute's plain value (str, Decimal or bool), or None when absent or NULL."""
    attr = item.get(name)
    if attr is None or "NULL" in attr:
        return None
    if "S" in attr:
        return attr["S"]
    if "N" in attr:
        return Decimal(attr["N"])
    if "BOOL" in attr:
        return attr["BOOL"]
    return None


def query_partition(
    user_id: str,
    *,
    prefix: str = "",
    below: str = "",
    projection: str | None = None,
    consistent: bool = False,
) -> Iterator[Item]:
    """Every item of one user whose sort key starts with `prefix` (or sorts before `below`), in one Query (a
    page holds 1 MB, far more than a user's 13 configs and 4 keys; the loop is there for correctness)."""
    condition, values = "pk = :pk", {":pk": partition(user_id)}
    if prefix:
        condition, values = condition + " AND begins_with(sk, :prefix)", values | {":prefix": {"S": prefix}}
    elif below:
        condition, values = condition + " AND sk < :below", values | {":below": {"S": below}}
    params: QueryInputTypeDef = {
        "TableName": table_name(),
        "KeyConditionExpression": condition,
        "ExpressionAttributeValues": values,
    }
    if projection:
        params["ProjectionExpression"] = projection
    if consistent:
        params["ConsistentRead"] = True
    return query_items(params)


def query_items(params: QueryInputTypeDef) -> Iterator[Item]:
    """Every item a Query finds, page after page: one call per 1 MB page, each on the store's fault rules."""
    while True:
        with unavailable_on_fault(CONFIG_STORE):
            page = dynamodb().query(**params)
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def partition_keys(user_id: str, *, limit: int, table: str | None = None) -> list[ItemKey]:
    """The keys of up to `limit` items of the user in the config table (or `table`): one strongly consistent
    Query, keys only."""
    with unavailable_on_fault(CONFIG_STORE):
        found = dynamodb().query(
            TableName=table or table_name(),
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": partition(user_id)},
            ProjectionExpression="sk",
            ConsistentRead=True,
            Limit=limit,
        )
    return [ItemKey(user_id, i["sk"]["S"]) for i in found.get("Items", [])]


def delete_items(keys: list[ItemKey], *, table: str | None = None, sleep: Callable[[float], None] = time.sleep) -> int:
    """Delete items, 25 per BatchWriteItem. Returns the number of calls."""
    requests: list[WriteRequestTypeDef] = [{"DeleteRequest": {"Key": item_key(k.user_id, k.sort_key)}} for k in keys]
    return batch_write(requests, table=table, sleep=sleep)


def batch_write(
    requests: list[WriteRequestTypeDef], *, table: str | None = None, sleep: Callable[[float], None] = time.sleep
) -> int:
    """Write requests 25 per BatchWriteItem (to the config table, or `table`), retrying unprocessed ones with
    exponential backoff. Items still unprocessed after the retries raise ServiceUnavailable. Returns the number
    of calls."""
    name = table or table_name()
    calls = 0
    for start in range(0, len(requests), BATCH_SIZE):
        batch: list[WriteRequestTypeDef] | list[WriteRequestOutputTypeDef] = requests[start : start + BATCH_SIZE]
        for attempt in range(BATCH_ATTEMPTS):
            with unavailable_on_fault(CONFIG_STORE):
                result = dynamodb().batch_write_item(RequestItems={name: batch})
            calls += 1
            batch = result.get("UnprocessedItems", {}).get(name, [])
            if not batch:
                break
            if attempt + 1 < BATCH_ATTEMPTS:
                sleep(min(0.05 * 2**attempt, 1.0))
        else:
            raise ServiceUnavailable(f"{CONFIG_STORE} kept some writes unprocessed; retry shortly")
    return calls


class Cancelled(Exception):
    """A transaction refused because a condition did not hold: one reason code per item, in order ("None" for
    the items whose condition held)."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__(", ".join(reasons))
        self.reasons = reasons


def transact(
    items: list[TransactWriteItemTypeDef], *, what: str = CONFIG_STORE, sleep: Callable[[float], None] = time.sleep
) -> None:
    """Write `items` all or nothing in one TransactWriteItems. A failed condition raises Cancelled, and nothing
    is written. A transaction cancelled by a conflicting transaction on an item, or by throughput, is tried
    again with backoff (the SDK retries only its own throttling), then raises ServiceUnavailable; any other
    cancellation (an invalid or oversized item) is raised as it is."""
    for attempt in range(TRANSACT_ATTEMPTS):
        try:
            with unavailable_on_fault(what):
                dynamodb().transact_write_items(TransactItems=items)
            return
        except ClientError as exc:
            if error_code(exc) != "TransactionCanceledException":
                raise
            reasons = [r.get("Code") or "None" for r in exc.response.get("CancellationReasons", [])]
            if "ConditionalCheckFailed" in reasons:
                raise Cancelled(reasons) from exc
            if not set(reasons) <= PASSING:  # a refused request (too large, invalid): a bug, not a busy table
                raise
            if attempt + 1 == TRANSACT_ATTEMPTS:
                raise ServiceUnavailable(f"{what} is busy with other changes right now; retry shortly") from exc
        sleep(0.05 * 2**attempt)
