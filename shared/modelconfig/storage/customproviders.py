"""Users' custom providers (SPEC section 13): one `BYOC#<name>` item each in the user's partition, never the key
(that lives in the user's secret beside the BYOK keys).

`BYOC#` sorts before `BYOK#` and `CONFIG#`, so the partition Query of list, get, test and resolve reads them with
the overrides and key status it already reads, and the sweep's Scan meets a user's custom providers before
the overrides that use them. Every write is conditional on the item being the one just read (its `updatedAt`),
and rides in the key store's one transaction with the lease release and the audit entry."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from modelconfig.records import CustomProviderRecord
from modelconfig.storage import dynamo
from modelconfig.storage.dynamo import Item, read, string

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

PREFIX = "BYOC#"


def is_custom(sort_key: str) -> bool:
    return sort_key.startswith(PREFIX)


def decode(item: Item) -> CustomProviderRecord:
    return CustomProviderRecord(
        name=read(item, "name"),
        base_url=read(item, "baseUrl"),
        models=tuple(m["S"] for m in item.get("models", {}).get("L", [])),
        updated_at=read(item, "updatedAt"),
        preview=read(item, "keyPreview"),
        verified_at=read(item, "verifiedAt"),
        verify_error=read(item, "verifyError"),
    )


def query(user_id: str, *, consistent: bool = False) -> dict[str, CustomProviderRecord]:
    """The user's custom providers by name, in one Query."""
    items = dynamo.query_partition(user_id, prefix=PREFIX, consistent=consistent)
    return {r.name: r for r in map(decode, items)}


def _unchanged(seen: CustomProviderRecord | None) -> dict[str, Any]:
    if seen is None:
        return {"ConditionExpression": "attribute_not_exists(pk)"}
    return {"ConditionExpression": "updatedAt = :seen", "ExpressionAttributeValues": {":seen": string(seen.updated_at)}}


def put(user_id: str, record: CustomProviderRecord, seen: CustomProviderRecord | None) -> TransactWriteItemTypeDef:
    """The transaction item that stores `record` in place of `seen` (None: there was none)."""
    optional = {"keyPreview": record.preview, "verifiedAt": record.verified_at, "verifyError": record.verify_error}
    item: Item = (
        dynamo.item_key(user_id, PREFIX + record.name)
        | {
            "name": string(record.name),
            "baseUrl": string(record.base_url),
            "models": {"L": [{"S": m} for m in record.models]},
            "updatedAt": string(record.updated_at),
        }
        | {name: string(value) for name, value in optional.items() if value is not None}
    )
    return {"Put": cast("Any", {"TableName": dynamo.table_name(), "Item": item} | _unchanged(seen))}


def delete(user_id: str, seen: CustomProviderRecord) -> TransactWriteItemTypeDef:
    """The transaction item that deletes `seen`, as just read."""
    key = dynamo.item_key(user_id, PREFIX + seen.name)
    return {"Delete": cast("Any", {"TableName": dynamo.table_name(), "Key": key} | _unchanged(seen))}
