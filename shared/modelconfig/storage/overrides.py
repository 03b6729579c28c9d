"""Users' overrides: one item per user and agent action, `CONFIG#<action>` in the user's partition.

Every change is conditional on the override being the one just read (its `updatedAt` and `revision`), and
commits in one transaction with its audit entry: the entry's `before` is exactly what the change replaced."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from modelconfig.records import Override
from modelconfig.storage import dynamo
from modelconfig.storage.dynamo import Item, number, read, string

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import DeleteTypeDef, PutTypeDef, TransactWriteItemTypeDef

MAX_REMOVED = 99  # a transaction holds at most 100 items, one of them the audit entry

PREFIX = "CONFIG#"


def is_override(sort_key: str) -> bool:
    return sort_key.startswith(PREFIX)


def decode(item: Item) -> Override:
    max_tokens = read(item, "maxTokens")
    temperature = read(item, "temperature")
    return Override(
        id=read(item, "id"),
        user_id=read(item, "userId"),
        action=read(item, "agentActionName"),
        model=read(item, "modelName"),
        max_tokens=None if max_tokens is None else int(max_tokens),
        temperature=None if temperature is None else float(temperature),
        reasoning_effort=read(item, "reasoningEffort"),
        fallback=read(item, "fallbackModel"),
        provider_override=read(item, "providerOverride"),
        created_at=read(item, "createdAt"),
        updated_at=read(item, "updatedAt"),
        revision=read(item, "revision"),
    )


def _attributes(row: Override) -> Item:
    """The stored attributes of one override, without its key."""
    attributes: Item = {
        "id": string(row.id),
        "userId": string(row.user_id),
        "agentActionName": string(row.action),
        "modelName": string(row.model),
        "maxTokens": number(row.max_tokens),
        "temperature": number(row.temperature),
        "reasoningEffort": string(row.reasoning_effort),
        "fallbackModel": string(row.fallback),
        "providerOverride": string(row.provider_override),
        "isActive": {"BOOL": True},
        "createdAt": string(row.created_at),
        "updatedAt": string(row.updated_at),
    }
    if row.revision is not None:
        attributes["revision"] = string(row.revision)
    return attributes


def _unchanged(seen: Override | None) -> dict[str, Any]:
    """The condition that the stored override is still `seen`, the one just read (None: there was none)."""
    if seen is None:
        return {"ConditionExpression": "attribute_not_exists(pk)"}
    values = {":at": string(seen.updated_at)}
    if seen.revision is None:  # written before revisions existed
        condition = "updatedAt = :at AND attribute_not_exists(#revision)"
    else:
        condition, values = "updatedAt = :at AND #revision = :revision", values | {":revision": string(seen.revision)}
    return {
        "ConditionExpression": condition,
        "ExpressionAttributeNames": {"#revision": "revision"},
        "ExpressionAttributeValues": values,
    }


def replace(row: Override, seen: Override | None, entry: TransactWriteItemTypeDef) -> bool:
    """Put `row` in place of `seen` (the override read just before; None: there was none) together with its
    audit entry, in one TransactWriteItems. False, with nothing written, when the override changed since."""
    item = dynamo.item_key(row.user_id, PREFIX + row.action) | _attributes(row)
    put = cast("PutTypeDef", {"TableName": dynamo.table_name(), "Item": item} | _unchanged(seen))
    return _transact([{"Put": put}, entry])


def remove(rows: Sequence[Override], entry: TransactWriteItemTypeDef) -> bool:
    """Delete the overrides `rows` (as just read) together with the audit entry of their removal, in one
    TransactWriteItems (at most 99 rows). False, with nothing deleted, when any changed since."""
    deletes: list[TransactWriteItemTypeDef] = [
        {
            "Delete": cast(
                "DeleteTypeDef",
                {"TableName": dynamo.table_name(), "Key": dynamo.item_key(row.user_id, PREFIX + row.action)}
                | _unchanged(row),
            )
        }
        for row in rows
    ]
    return _transact([*deletes, entry])


def _transact(items: list[TransactWriteItemTypeDef]) -> bool:
    try:
        dynamo.transact(items)
    except dynamo.Cancelled:
        return False
    return True


def put_many(rows: list[Override]) -> int:
    """Write whole overrides, 25 per BatchWriteItem, unaudited (seeding and benchmarks). Returns the calls."""
    return dynamo.batch_write(
        [{"PutRequest": {"Item": dynamo.item_key(r.user_id, PREFIX + r.action) | _attributes(r)}} for r in rows]
    )
