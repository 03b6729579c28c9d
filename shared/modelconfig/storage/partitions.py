"""A user's whole partition in one Query: overrides and key status together, for the routes that need both
(the model test, and the merged views that read an override as inactive when its key is gone)."""

from __future__ import annotations

from typing import NamedTuple

from modelconfig.storage import dynamo, keystatus, overrides
from modelconfig.storage.keystatus import KeyRecord
from modelconfig.storage.overrides import Override


class UserItems(NamedTuple):
    overrides: dict[str, Override]
    keys: dict[str, KeyRecord]


def query(user_id: str) -> UserItems:
    found = UserItems({}, {})
    for item in dynamo.query_partition(user_id):
        sort_key = item["sk"]["S"]
        if overrides.is_override(sort_key):
            row = overrides.decode(item)
            found.overrides[row.action] = row
        elif keystatus.is_status(sort_key):
            record = keystatus.decode(item)
            found.keys[record.provider] = record
    return found
