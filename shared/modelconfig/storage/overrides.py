"""Users' overrides: one item per user and agent action, `CONFIG#<action>` in the user's partition."""

from __future__ import annotations

from modelconfig.records import Override
from modelconfig.storage import dynamo
from modelconfig.storage.aws import CONFIG_STORE, dynamodb, unavailable_on_fault
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
    )


def _attributes(row: Override) -> Item:
    """The stored attributes of one override, without its key."""
    return {
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


def save(row: Override) -> Override:
    """Replace the override in one UpdateItem; `id` and `createdAt` of an existing override survive."""
    attributes = _attributes(row)
    kept = ("id", "createdAt")
    assignments = ", ".join(f"#{a} = if_not_exists(#{a}, :{a})" if a in kept else f"#{a} = :{a}" for a in attributes)
    with unavailable_on_fault(CONFIG_STORE):
        item = dynamodb().update_item(
            TableName=dynamo.table_name(),
            Key=dynamo.item_key(row.user_id, PREFIX + row.action),
            UpdateExpression="SET " + assignments,
            ExpressionAttributeNames={f"#{a}": a for a in attributes},
            ExpressionAttributeValues={f":{a}": v for a, v in attributes.items()},
            ReturnValues="ALL_NEW",
        )["Attributes"]
    return decode(item)


def put_many(rows: list[Override]) -> int:
    """Write whole overrides, 25 per BatchWriteItem (seeding and benchmarks). Returns the calls."""
    return dynamo.batch_write(
        [{"PutRequest": {"Item": dynamo.item_key(r.user_id, PREFIX + r.action) | _attributes(r)}} for r in rows]
    )


def delete(user_id: str, action: str) -> bool:
    """Delete one override in one request; True when there was one."""
    with unavailable_on_fault(CONFIG_STORE):
        old = dynamodb().delete_item(
            TableName=dynamo.table_name(), Key=dynamo.item_key(user_id, PREFIX + action), ReturnValues="ALL_OLD"
        )
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
