"""A user's whole partition in one Query: overrides and key status together, for the routes that need both
(the model test, and the merged views that read an override as inactive when its key is gone)."""

from __future__ import annotations

from typing import NamedTuple

from modelconfig.storage import dynamo, keystatus, overrides
from modelconfig.storage.dynamo import Item
from modelconfig.storage.keystatus import KeyRecord
from modelconfig.storage.overrides import Override


class UserItems(NamedTuple):
    overrides: dict[str, Override]
    keys: dict[str, KeyRecord]


def decode(item: Item) -> Override | KeyRecord | None:
    """An override or a key status from its item; None for the partition's other items (lease, counters)."""
    sort_key = item["sk"]["S"]
    if overrides.is_override(sort_key):
        return overrides.decode(item)
    if keystatus.is_status(sort_key):
        return keystatus.decode(item)
    return None


def query(user_id: str) -> UserItems:
    found = UserItems({}, {})
    for value in map(decode, dynamo.query_partition(user_id)):
        if isinstance(value, Override):
            found.overrides[value.action] = value
        elif isinstance(value, KeyRecord):
            found.keys[value.provider] = value
    return found
