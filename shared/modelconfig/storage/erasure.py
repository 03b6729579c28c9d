"""Where everything stored about one user lives, for erasure (SPEC section 12): the user's partition of the
config table (configs, key status, the key-write lease, limit counters), the user's partition of the audit
table, and the user's one secret. Nothing else holds a user's data: the sweep's checkpoints count users but
name none, and the erasure receipt names the user only by `sha256(userId)`."""

from __future__ import annotations

from modelconfig.storage import audit, dynamo, secrets


def delete_some(user_id: str, limit: int) -> int:
    """Delete up to `limit` of the user's items, config table first: one Query and a BatchWriteItem per 25.
    Returns how many were deleted; 0 when none is left in either table."""
    for table in (dynamo.table_name(), audit.table_name()):
        keys = dynamo.partition_keys(user_id, limit=limit, table=table)
        if keys:
            dynamo.delete_items(keys, table=table)
            return len(keys)
    return 0


def delete_secret(user_id: str) -> bool:
    """Delete the user's secret without a recovery window; True when there was one."""
    return secrets.erase_user_secret(user_id)


def receipt(user_id: str, *, items: int, secret_deleted: bool, complete: bool) -> None:
    audit.record_erasure(user_id, items=items, secret_deleted=secret_deleted, complete=complete)
