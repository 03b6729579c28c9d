"""Key status and the key-write lease, in the user's partition: `BYOK#<provider>` items (never the key
itself) and one `BYOKLOCK` item.

The lease keeps its expiry in `leaseUntil`, which is not the table's TTL attribute: DynamoDB's TTL would
reap an expired lease some time later, and with it the only sign that a key write was interrupted (the
next writer repairs the status from the secret when it takes an expired lease over, see keys.py).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, NamedTuple

from botocore.exceptions import ClientError

from modelconfig.errors import Conflict, ServiceUnavailable
from modelconfig.storage import dynamo
from modelconfig.storage.aws import dynamodb, error_code, unavailable_on_fault
from modelconfig.storage.dynamo import Item, read, string

PREFIX = "BYOK#"
LOCK = "BYOKLOCK"
WHAT = "the key store"


class KeyRecord(NamedTuple):
    provider: str
    preview: str
    updated_at: str


def is_status(sort_key: str) -> bool:
    return sort_key.startswith(PREFIX)


def decode(item: Item) -> KeyRecord:
    return KeyRecord(
        provider=read(item, "provider"), preview=read(item, "keyPreview"), updated_at=read(item, "updatedAt")
    )


def _item(user_id: str, record: KeyRecord) -> Item:
    return dynamo.item_key(user_id, PREFIX + record.provider) | {
        "provider": string(record.provider),
        "keyPreview": string(record.preview),
        "updatedAt": string(record.updated_at),
    }


def query(user_id: str) -> dict[str, KeyRecord]:
    """The user's key status by provider, in one Query."""
    return {r.provider: r for r in map(decode, dynamo.query_partition(user_id, prefix=PREFIX))}


def acquire_lease(user_id: str, token: str, *, lease_seconds: int, wait_seconds: float) -> bool:
    """Take the user's key-write lease, waiting up to `wait_seconds` for a holder to finish. Returns True when
    the lease was taken over from a holder that let it expire (its change may be half done)."""
    deadline = time.monotonic() + wait_seconds
    delay = 0.02
    while True:
        now = int(time.time())
        try:
            with unavailable_on_fault(WHAT):
                old = dynamodb().put_item(
                    TableName=dynamo.table_name(),
                    Item=dynamo.item_key(user_id, LOCK)
                    | {"token": string(token), "leaseUntil": {"N": str(now + lease_seconds)}},
                    # expiresAt: a lease written before leaseUntil existed (kept its expiry in the TTL attribute).
                    ConditionExpression="attribute_not_exists(pk) OR leaseUntil < :now OR expiresAt < :now",
                    ExpressionAttributeValues={":now": {"N": str(now)}},
                    ReturnValues="ALL_OLD",
                )
            return "Attributes" in old
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
        if time.monotonic() + delay > deadline:
            raise Conflict("another change of your keys is in progress; retry shortly")
        time.sleep(delay)
        delay = min(delay * 2, 0.25)


def release_lease(user_id: str, token: str) -> None:
    """Give the lease back without a change (best effort: an expired lease is taken over, and repaired)."""
    try:
        with unavailable_on_fault(WHAT):
            dynamodb().delete_item(TableName=dynamo.table_name(), Key=dynamo.item_key(user_id, LOCK), **_held(token))
    except (ClientError, ServiceUnavailable):
        pass


def _held(token: str) -> dict[str, Any]:
    return {
        "ConditionExpression": "#t = :t",
        "ExpressionAttributeNames": {"#t": "token"},
        "ExpressionAttributeValues": {":t": string(token)},
    }


def commit(user_id: str, token: str, *, put: Sequence[KeyRecord] = (), delete: Sequence[str] = ()) -> None:
    """Write key status and release the lease in one transaction, so status only changes while the lease
    that guarded the secret write is still ours."""
    table = dynamo.table_name()
    items: list[dict[str, Any]] = [{"Put": {"TableName": table, "Item": _item(user_id, r)}} for r in put]
    items += [{"Delete": {"TableName": table, "Key": dynamo.item_key(user_id, PREFIX + p)}} for p in delete]
    items.append({"Delete": {"TableName": table, "Key": dynamo.item_key(user_id, LOCK), **_held(token)}})
    try:
        with unavailable_on_fault(WHAT):
            dynamodb().transact_write_items(TransactItems=items)
    except ClientError as exc:
        if error_code(exc) == "TransactionCanceledException":
            raise Conflict("your key change took too long and was overtaken; retry") from exc
        raise
