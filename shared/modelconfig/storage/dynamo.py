"""What every store of the one DynamoDB table shares: the table's name, the partition of a user, attribute
encoding, and batched writes. Only the storage modules import this.

One partition per user holds everything of that user, so each route is one request:

    pk = USER#<sub>   sk = BYOK#<provider>        key status (storage.keystatus; never the key)
                      sk = BYOKLOCK               the lease that serialises one user's key writes
                      sk = CONFIG#<action>        one override (storage.overrides)
                      sk = LIMIT#<name>#<window>  a per-user counter (storage.counters; expires)
    pk = SWEEP        sk = RUN#<run id>           a sweep's checkpoint (storage.sweeps; expires)

"BYOK#" sorts before "CONFIG#", so a scan meets a user's key status before that user's configs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple

from modelconfig.errors import ServiceUnavailable
from modelconfig.settings import settings
from modelconfig.storage.aws import CONFIG_STORE, dynamodb, unavailable_on_fault

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import (
        AttributeValueTypeDef,
        QueryInputTypeDef,
        WriteRequestOutputTypeDef,
        WriteRequestTypeDef,
    )

USER = "USER#"
BATCH_SIZE = 25  # DynamoDB's BatchWriteItem limit (moto accepts more; AWS does not)
BATCH_ATTEMPTS = 6

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
    while True:
        with unavailable_on_fault(CONFIG_STORE):
            page = dynamodb().query(**params)
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def delete_items(keys: list[ItemKey], *, sleep: Callable[[float], None] = time.sleep) -> int:
    """Delete items, 25 per BatchWriteItem. Returns the number of calls."""
    requests: list[WriteRequestTypeDef] = [{"DeleteRequest": {"Key": item_key(k.user_id, k.sort_key)}} for k in keys]
    return batch_write(requests, sleep=sleep)


def batch_write(requests: list[WriteRequestTypeDef], *, sleep: Callable[[float], None] = time.sleep) -> int:
    """Write requests 25 per BatchWriteItem, retrying unprocessed ones with exponential backoff. Items still
    unprocessed after the retries raise ServiceUnavailable. Returns the number of calls."""
    calls = 0
    for start in range(0, len(requests), BATCH_SIZE):
        batch: list[WriteRequestTypeDef] | list[WriteRequestOutputTypeDef] = requests[start : start + BATCH_SIZE]
        for attempt in range(BATCH_ATTEMPTS):
            with unavailable_on_fault(CONFIG_STORE):
                result = dynamodb().batch_write_item(RequestItems={table_name(): batch})
            calls += 1
            batch = result.get("UnprocessedItems", {}).get(table_name(), [])
            if not batch:
                break
            if attempt + 1 < BATCH_ATTEMPTS:
                sleep(min(0.05 * 2**attempt, 1.0))
        else:
            raise ServiceUnavailable(f"{CONFIG_STORE} kept some writes unprocessed; retry shortly")
    return calls
