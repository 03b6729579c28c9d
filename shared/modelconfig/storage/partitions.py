"""A user's overrides, key status and custom providers together in one Query, for everything that merges a
config under the access rule: the config list and get (an override reads as inactive when its key is gone), the
model test, a key's deletion (its `affectedActions`) and resolve.

The Query stops before the `LIMIT#` counters, which sort after `BYOK#` and `CONFIG#`: a busy user's counters
(one a minute, kept an hour past their window) would otherwise ride along in every read."""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from modelconfig.records import CustomProviderRecord, KeyRecord, Override
from modelconfig.storage import counters, customproviders, dynamo, keystatus, overrides
from modelconfig.storage.dynamo import Item


class UserItems(NamedTuple):
    overrides: dict[str, Override]
    key_status: dict[str, KeyRecord]
    custom: dict[str, CustomProviderRecord] = {}  # the user's custom providers, by name


def decode(item: Item) -> Override | KeyRecord | CustomProviderRecord | None:
    """An override, a key status or a custom provider from its item; None for the partition's other items (lease,
    counters)."""
    sort_key = item["sk"]["S"]
    if overrides.is_override(sort_key):
        return overrides.decode(item)
    if keystatus.is_status(sort_key):
        return keystatus.decode(item)
    if customproviders.is_custom(sort_key):
        return customproviders.decode(item)
    return None


KEYS_PREFIX = "BYO"  # custom providers (BYOC#), key status (BYOK#) and the key-write lease: nothing else


def query(user_id: str, *, consistent: bool = False) -> UserItems:
    """The user's overrides, key status and custom providers in one Query (`consistent`: strongly, for a read
    before a write)."""
    return _collect(dynamo.query_partition(user_id, below=counters.PREFIX, consistent=consistent))


def query_keys(user_id: str) -> UserItems:
    """The user's key status and custom providers in one Query, without the overrides."""
    return _collect(dynamo.query_partition(user_id, prefix=KEYS_PREFIX))


def _collect(items: Iterable[Item]) -> UserItems:
    found = UserItems({}, {}, {})
    for value in map(decode, items):
        if isinstance(value, Override):
            found.overrides[value.action] = value
        elif isinstance(value, KeyRecord):
            found.key_status[value.provider] = value
        elif isinstance(value, CustomProviderRecord):
            found.custom[value.name] = value
    return found
