"""Users' overrides: one item per user and agent action, `CONFIG#<action>` in the user's partition."""

from __future__ import annotations

from typing import Any, NamedTuple

from botocore.exceptions import ClientError

from modelconfig.records import Override
from modelconfig.storage import dynamo
from modelconfig.storage.aws import CONFIG_STORE, dynamodb, error_code, unavailable_on_fault
from modelconfig.storage.dynamo import Item, ItemKey, number, read, string

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


class Expected(NamedTuple):
    """What the caller's If-Match says the stored override is: none at all, any, one written before revisions
    existed, or the one with `revision`."""

    condition: str
    revision: str | None = None


NONE = Expected("attribute_not_exists(pk)")
ANY = Expected("attribute_exists(pk)")
UNREVISED = Expected("attribute_exists(pk) AND attribute_not_exists(#revision)")


def revised(revision: str) -> Expected:
    return Expected("#revision = :expected", revision)


def _guard(expected: Expected | None) -> dict[str, Any]:
    """The condition of a write that must find the override as `expected` (nothing when it need not)."""
    if expected is None:
        return {}
    guard: dict[str, Any] = {"ConditionExpression": expected.condition}
    if "#revision" in expected.condition:
        guard["ExpressionAttributeNames"] = {"#revision": "revision"}
    if expected.revision is not None:
        guard["ExpressionAttributeValues"] = {":expected": string(expected.revision)}
    return guard


def save(row: Override, expected: Expected | None = None) -> Override | None:
    """Replace the override in one UpdateItem; `id` and `createdAt` of an existing override survive. With
    `expected`, only while the stored override is as expected: None (nothing written) when it is not."""
    attributes = _attributes(row)
    kept = ("id", "createdAt")
    assignments = ", ".join(f"#{a} = if_not_exists(#{a}, :{a})" if a in kept else f"#{a} = :{a}" for a in attributes)
    guard = _guard(expected)
    names = {f"#{a}": a for a in attributes} | guard.pop("ExpressionAttributeNames", {})
    values = {f":{a}": v for a, v in attributes.items()} | guard.pop("ExpressionAttributeValues", {})
    try:
        with unavailable_on_fault(CONFIG_STORE):
            item = dynamodb().update_item(
                TableName=dynamo.table_name(),
                Key=dynamo.item_key(row.user_id, PREFIX + row.action),
                UpdateExpression="SET " + assignments,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
                **guard,
            )["Attributes"]
    except ClientError as exc:
        if error_code(exc) == "ConditionalCheckFailedException":
            return None
        raise
    return decode(item)


def put_many(rows: list[Override]) -> int:
    """Write whole overrides, 25 per BatchWriteItem (seeding and benchmarks). Returns the calls."""
    return dynamo.batch_write(
        [{"PutRequest": {"Item": dynamo.item_key(r.user_id, PREFIX + r.action) | _attributes(r)}} for r in rows]
    )


def delete(user_id: str, action: str, expected: Expected | None = None) -> bool | None:
    """Delete one override in one request; True when there was one. With `expected`, only while the stored
    override is as expected: None (nothing deleted) when it is not."""
    try:
        with unavailable_on_fault(CONFIG_STORE):
            old = dynamodb().delete_item(
                TableName=dynamo.table_name(),
                Key=dynamo.item_key(user_id, PREFIX + action),
                ReturnValues="ALL_OLD",
                **_guard(expected),
            )
    except ClientError as exc:
        if error_code(exc) == "ConditionalCheckFailedException":
            return None
        raise
    return "Attributes" in old


def delete_all(user_id: str) -> int:
    """Delete every override of the user: one strongly consistent Query of the keys (so an override saved just
    before is not missed), then one BatchWriteItem per 25. Returns how many there were."""
    keys = [
        ItemKey(user_id, i["sk"]["S"])
        for i in dynamo.query_partition(user_id, prefix=PREFIX, projection="sk", consistent=True)
    ]
    dynamo.delete_items(keys)
    return len(keys)
