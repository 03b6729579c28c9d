"""The audit trail (SPEC section 12) in a table of its own, so that no Scan or partition Query of the config
table ever reads an entry: the sweep's cost, and that of list, get and resolve, stay proportional to overrides
and keys however long the trail grows.

    pk = USER#<sub>   sk = E#<at>#<id>    one entry; `expiresAt` (the table's TTL) is `at` plus the retention
    pk = ERASED       sk = <sha256(sub)>  one erasure receipt: counts and times, no user id in clear

An entry is never written alone: `entry` gives the Put that rides in the DynamoDB transaction of its change,
so it exists exactly when the change does. TTL removes an entry some time after its expiry (often days), so
the reads below never rely on it: they bound the sort key by the retention and filter on `expiresAt`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

from modelconfig import clock
from modelconfig.errors import InvalidInput
from modelconfig.records import Actor, Change
from modelconfig.settings import settings
from modelconfig.storage import dynamo
from modelconfig.storage.aws import CONFIG_STORE, dynamodb, unavailable_on_fault

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import QueryInputTypeDef, TransactWriteItemTypeDef

ENTRY = "E#"
ERASED = "ERASED"
DAY = 86_400
BAD_CURSOR = "cursor: not one this route gave you for your own entries; start again without it"


def table_name() -> str:
    return settings().audit_table_name


def entry(user_id: str, actor: Actor, change: Change) -> TransactWriteItemTypeDef:
    """The Put of one audit entry, to ride in the transaction of the change it records. Its `at` is now."""
    now = clock.now()
    at, entry_id = clock.iso(now), uuid.uuid4().hex[:20]
    fields: dict[str, Any] = {
        "id": entry_id,
        "at": at,
        "actor": actor.kind,
        "action": change.action,
        "target": change.target,
        "before": change.before,
        "after": change.after,
        "requestId": actor.request_id,
        "sourceIp": actor.source_ip,
        "userAgent": actor.user_agent,
        "reason": change.reason,
    }
    shown = {k: v for k, v in fields.items() if v is not None or k in ("before", "after")}
    return {
        "Put": {
            "TableName": table_name(),
            "Item": dynamo.item_key(user_id, f"{ENTRY}{at}#{entry_id}")
            | {
                "entry": {"S": json.dumps(shown, separators=(",", ":"), sort_keys=True)},
                "expiresAt": {"N": str(int(now) + settings().audit_retention_days * DAY)},
            },
        }
    }


class Page(NamedTuple):
    entries: list[dict[str, Any]]  # the wire AuditEntry objects, newest first
    cursor: str | None  # where the next page starts; None after the last


def page(user_id: str, limit: int, cursor: str | None = None) -> Page:
    """One page of the user's entries within their retention, newest first: one Query. The cursor names a
    position in the caller's own partition only (the partition key always comes from `user_id`)."""
    params = _query(user_id)
    params["Limit"] = limit
    if cursor is not None:
        params["ExclusiveStartKey"] = dynamo.item_key(user_id, _position(user_id, cursor))
    with unavailable_on_fault(CONFIG_STORE):
        found = dynamodb().query(**params)
    last = found.get("LastEvaluatedKey")
    return Page([_decode(i) for i in found.get("Items", [])], _cursor(user_id, last["sk"]["S"]) if last else None)


def entries(user_id: str) -> Iterator[dict[str, Any]]:
    """Every entry of the user within retention, newest first: one Query per 1 MB page."""
    return map(_decode, dynamo.query_items(_query(user_id)))


def _query(user_id: str) -> QueryInputTypeDef:
    now = clock.now()
    oldest = clock.iso(now - settings().audit_retention_days * DAY)
    return {
        "TableName": table_name(),
        "KeyConditionExpression": "pk = :pk AND sk BETWEEN :oldest AND :last",
        "FilterExpression": "expiresAt > :now",  # an entry TTL has not removed yet is still never listed
        "ExpressionAttributeValues": {
            ":pk": dynamo.partition(user_id),
            ":oldest": {"S": ENTRY + oldest},
            ":last": {"S": ENTRY + "~"},
            ":now": {"N": str(int(now))},
        },
        "ScanIndexForward": False,
    }


def _decode(item: dict[str, Any]) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(item["entry"]["S"])
    return decoded


# ---- the cursor: a position in the caller's own partition, bound to the caller --------------------------------


def _tag(user_id: str, sort_key: str) -> str:
    return hashlib.sha256(f"{user_id}\n{sort_key}".encode()).hexdigest()[:24]


def _cursor(user_id: str, sort_key: str) -> str:
    position = base64.urlsafe_b64encode(sort_key.removeprefix(ENTRY).encode()).decode().rstrip("=")
    return f"{position}.{_tag(user_id, sort_key)}"


def _position(user_id: str, cursor: str) -> str:
    """The sort key a cursor names, or InvalidInput for a cursor altered or made for another user."""
    position, _, tag = cursor.partition(".")
    try:
        sort_key = ENTRY + base64.urlsafe_b64decode(position + "=" * (-len(position) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidInput(BAD_CURSOR) from None
    if tag != _tag(user_id, sort_key):
        raise InvalidInput(BAD_CURSOR)
    return sort_key


# ---- erasure -------------------------------------------------------------------------------------------------


def digest(user_id: str) -> str:
    return hashlib.sha256(user_id.encode()).hexdigest()


def record_erasure(user_id: str, *, items: int, secret_deleted: bool, complete: bool) -> None:
    """Add one run's counts to the user's erasure receipt, which names the user only by `sha256(userId)`. One
    UpdateItem; a second run adds to the same receipt."""
    assignments = "SET #at = :at, complete = :complete" + (", secretDeleted = :true" if secret_deleted else "")
    values: dict[str, Any] = {
        ":at": {"S": clock.now_iso()},
        ":complete": {"BOOL": complete},
        ":items": {"N": str(items)},
    }
    if secret_deleted:
        values[":true"] = {"BOOL": True}
    with unavailable_on_fault(CONFIG_STORE):
        dynamodb().update_item(
            TableName=table_name(),
            Key={"pk": {"S": ERASED}, "sk": {"S": digest(user_id)}},
            UpdateExpression=assignments + " ADD itemsDeleted :items, runs :one",
            ExpressionAttributeNames={"#at": "at"},
            ExpressionAttributeValues=values | {":one": {"N": "1"}},
        )
