"""Key status and the key-write lease, in the user's partition: `BYOK#<provider>` items (never the key
itself) and one `BYOKLOCK` item.

A key's own expiry is kept in `keyExpiresAt` (an ISO string), not in the table's TTL attribute `expiresAt`:
TTL would delete the status some days after expiry while the key stays in the secret, and the sweep, which
deletes both, would no longer see it.

The lease keeps its expiry in `leaseUntil`, which is not the table's TTL attribute: DynamoDB's TTL would
reap an expired lease some time later, and with it the only sign that a key write was interrupted (the
next writer repairs the status from the secret when it takes an expired lease over, see keys.py).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from modelconfig.errors import Conflict, ServiceUnavailable
from modelconfig.records import KeyRecord
from modelconfig.storage import dynamo
from modelconfig.storage.aws import KEY_STORE, dynamodb, error_code, unavailable_on_fault
from modelconfig.storage.dynamo import Item, read, string

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import DeleteTypeDef, TransactWriteItemTypeDef

PREFIX = "BYOK#"
LOCK = "BYOKLOCK"


def is_status(sort_key: str) -> bool:
    return sort_key.startswith(PREFIX)


def decode(item: Item) -> KeyRecord:
    return KeyRecord(
        provider=read(item, "provider"),
        preview=read(item, "keyPreview"),
        updated_at=read(item, "updatedAt"),
        verified_at=read(item, "verifiedAt"),
        last_used_at=read(item, "lastUsedAt"),
        expires_at=read(item, "keyExpiresAt"),
    )


def _item(user_id: str, record: KeyRecord) -> Item:
    optional = {"verifiedAt": record.verified_at, "lastUsedAt": record.last_used_at, "keyExpiresAt": record.expires_at}
    return (
        dynamo.item_key(user_id, PREFIX + record.provider)
        | {
            "provider": string(record.provider),
            "keyPreview": string(record.preview),
            "updatedAt": string(record.updated_at),
        }
        | {name: string(value) for name, value in optional.items() if value is not None}
    )


def query(user_id: str) -> dict[str, KeyRecord]:
    """The user's key status by provider, in one Query."""
    return {r.provider: r for r in map(decode, dynamo.query_partition(user_id, prefix=PREFIX))}


def mark_used(user_id: str, record: KeyRecord, when: str) -> bool:
    """Set `lastUsedAt` of the key `record` describes: one UpdateItem, applied only while the status is still
    that key's (same `updatedAt`), so a key replaced or deleted meanwhile is never marked. `updatedAt` stays
    as it is: using a key does not change it. False when the key changed or is gone."""
    try:
        with unavailable_on_fault(KEY_STORE):
            dynamodb().update_item(
                TableName=dynamo.table_name(),
                Key=dynamo.item_key(user_id, PREFIX + record.provider),
                UpdateExpression="SET lastUsedAt = :when",
                ConditionExpression="updatedAt = :seen",
                ExpressionAttributeValues={":when": string(when), ":seen": string(record.updated_at)},
            )
    except ClientError as exc:
        if error_code(exc) == "ConditionalCheckFailedException":
            return False
        raise
    return True


def acquire_lease(user_id: str, token: str, *, lease_seconds: int, wait_seconds: float) -> bool:
    """Take the user's key-write lease, waiting up to `wait_seconds` for a holder to finish. Returns True when
    the lease was taken over from a holder that let it expire (its change may be half done)."""
    deadline = time.monotonic() + wait_seconds
    delay = 0.02
    while True:
        now = int(time.time())
        try:
            with unavailable_on_fault(KEY_STORE):
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
        with unavailable_on_fault(KEY_STORE):
            dynamodb().delete_item(**_release(user_id, token))
    except (ClientError, ServiceUnavailable):
        pass


def _release(user_id: str, token: str) -> DeleteTypeDef:
    """The delete of the lease, applied only while it is still ours (`token`)."""
    return {
        "TableName": dynamo.table_name(),
        "Key": dynamo.item_key(user_id, LOCK),
        "ConditionExpression": "#t = :t",
        "ExpressionAttributeNames": {"#t": "token"},
        "ExpressionAttributeValues": {":t": string(token)},
    }


def commit(
    user_id: str,
    token: str,
    *,
    put: Sequence[KeyRecord] = (),
    delete: Sequence[str] = (),
    entries: Sequence[TransactWriteItemTypeDef] = (),
) -> None:
    """Write key status, the change's audit `entries`, and release the lease in one transaction, so status only
    changes (and is audited) while the lease that guarded the secret write is still ours."""
    table = dynamo.table_name()
    items: list[TransactWriteItemTypeDef] = [{"Put": {"TableName": table, "Item": _item(user_id, r)}} for r in put]
    items += [{"Delete": {"TableName": table, "Key": dynamo.item_key(user_id, PREFIX + p)}} for p in delete]
    items += entries
    items.append({"Delete": _release(user_id, token)})
    try:
        dynamo.transact(items, what=KEY_STORE)
    except dynamo.Cancelled as exc:
        raise Conflict("your key change took too long and was overtaken; retry") from exc
