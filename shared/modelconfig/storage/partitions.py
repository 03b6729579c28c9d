"""A user's overrides and key status together in one Query, for everything that merges a config under the
access rule: the config list and get (an override reads as inactive when its key is gone), the model test,
a key's deletion (its `affectedActions`) and resolve.

The Query stops before the `LIMIT#` counters, which sort after `BYOK#` and `CONFIG#`: a busy user's counters
(one a minute, kept an hour past their window) would otherwise ride along in every read."""

from __future__ import annotations

from typing import NamedTuple

from modelconfig.records import KeyRecord, Override
from modelconfig.storage import counters, dynamo, keystatus, overrides
from modelconfig.storage.dynamo import Item


class UserItems(NamedTuple):
    overrides: dict[str, Override]
    key_status: dict[str, KeyRecord]


def decode(item: Item) -> Override | KeyRecord | None:
    """An override or a key status from its item; None for the partition's other items (lease, counters)."""
    sort_key = item["sk"]["S"]
    if overrides.is_override(sort_key):
        return overrides.decode(item)
    if keystatus.is_status(sort_key):
        return keystatus.decode(item)
    return None


def query(user_id: str, *, consistent: bool = False) -> UserItems:
    """The user's overrides and key status in one Query (`consistent`: strongly, for a read before a write)."""
    found = UserItems({}, {})
    for value in map(decode, dynamo.query_partition(user_id, below=counters.PREFIX, consistent=consistent)):
        if isinstance(value, Override):
            found.overrides[value.action] = value
        elif isinstance(value, KeyRecord):
            found.key_status[value.provider] = value
    return found
