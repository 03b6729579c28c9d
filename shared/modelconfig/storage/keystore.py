"""One user's keys in two stores, kept in step: the keys in the user's one Secrets Manager secret, their
status in DynamoDB. This is the only code that writes either; the domain hands it a change (`KeyChange`) and
never sees a lease or a secret's name.

How they stay consistent, for one user:
- Every write holds a short lease (a conditional write in the user's partition), so two writes never
  read-modify-write the secret at once: keys written from two tabs are both kept.
- The secret is written first; the status records and the lease release then commit in one DynamoDB
  transaction (`keystatus.commit`): the one place where a record of the change (an audit entry) joins the
  same transaction, so it exists exactly when the change does.
- If that commit fails, the secret is put back as it was and the lease released.
- If even that fails (or the function dies mid-way), the lease is left to expire. Whoever takes an expired
  lease over repairs the status from the secret before its own change, so a half-done write never outlives
  the next write.
The lease outlives the key functions' timeout, so a lease can only be taken over from a writer that is gone.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NamedTuple

from modelconfig import clock
from modelconfig.catalog import CATALOG
from modelconfig.errors import NotFound
from modelconfig.observability import logger
from modelconfig.records import USER, Actor, Change, CustomProviderRecord, KeyRecord, preview
from modelconfig.storage import audit, customproviders, keystatus, secrets

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

LEASE_SECONDS = 30  # above the key functions' 10 s timeout
LEASE_WAIT_SECONDS = 3.0


class CustomChange(NamedTuple):
    """A custom provider's record after the change (None: deleted) in place of the one read before it (None:
    there was none). Its write is conditional on the record still being that one."""

    after: CustomProviderRecord | None
    before: CustomProviderRecord | None


class KeyChange(NamedTuple):
    """What one key write does: the user's whole key set after it (`secret`, by provider, a custom provider's key
    under `custom/<name>`), the status records to put and the providers whose status to delete, the custom
    providers it changes, and what the audit trail records of it."""

    secret: dict[str, str]
    put: list[KeyRecord]
    delete: list[str]
    audited: list[Change]
    custom: Sequence[CustomChange] = ()


def change(user_id: str, apply: Callable[[dict[str, str]], KeyChange], by: Actor = USER) -> None:
    """Apply one change to the user's secret and key status, under the user's key-write lease. `apply` gets the
    keys stored now and returns the change; a NotFound it raises is passed on, with nothing written (but a
    repair an interrupted earlier write needs is made first). The change's audit entries, made by `by`, commit
    with the status."""
    token = uuid.uuid4().hex
    taken_over = keystatus.acquire_lease(user_id, token, lease_seconds=LEASE_SECONDS, wait_seconds=LEASE_WAIT_SECONDS)
    try:
        stored = secrets.read_user_secret(user_id)
        current = stored.keys
        before = current or {}
        try:
            wanted = apply(before)
        except NotFound:
            if taken_over:  # nothing to change, but the interrupted write before us still needs its repair
                put, delete = _with_repairs(user_id, before, [], [])
                keystatus.commit(user_id, token, put=put, delete=delete)
            raise
        put, delete = wanted.put, wanted.delete
        entries = [_custom_item(user_id, c) for c in wanted.custom]
        entries += [audit.entry(user_id, by, c) for c in wanted.audited]
        if taken_over:
            put, delete = _with_repairs(user_id, before, put, delete)
        rewrite = wanted.secret != before  # a custom provider without a key changes no secret (and makes none)
        if rewrite:
            secrets.write_user_keys(
                user_id, wanted.secret, exists=current is not None, scheduled=stored.scheduled_for_deletion
            )
    except BaseException:
        keystatus.release_lease(user_id, token)
        raise
    try:
        keystatus.commit(user_id, token, put=put, delete=delete, entries=entries)
    except BaseException:
        if rewrite:
            _undo(user_id, token, current)
        else:
            keystatus.release_lease(user_id, token)
        raise


def _custom_item(user_id: str, change: CustomChange) -> TransactWriteItemTypeDef:
    if change.after is not None:
        return customproviders.put(user_id, change.after, change.before)
    assert change.before is not None  # a change deletes what it read, or puts something
    return customproviders.delete(user_id, change.before)


def _with_repairs(
    user_id: str, secret: dict[str, str], put: list[KeyRecord], delete: list[str]
) -> tuple[list[KeyRecord], list[str]]:
    """Status records that make DynamoDB match the secret again, merged with this change's own."""
    records = keystatus.query(user_id)
    now = clock.now_iso()
    own = {r.provider for r in put} | set(delete)
    fixes = [
        KeyRecord(p, preview(k), now)
        for p, k in secret.items()
        if p not in own and p in CATALOG.providers and (p not in records or records[p].preview != preview(k))
    ]
    stale = [p for p in records if p not in secret and p not in own]
    if fixes or stale:
        logger.warning("repairing key status after an interrupted write", extra={"fixed": len(fixes) + len(stale)})
    return put + fixes, delete + stale


def _undo(user_id: str, token: str, previous: dict[str, str] | None) -> None:
    """Put the secret back as it was after the status commit failed. If that fails too, keep the lease: it
    expires, and the next writer repairs the status from the secret."""
    try:
        secrets.write_user_keys(user_id, previous or {}, exists=True)
    except Exception:
        logger.error("could not restore the key secret after a failed status write; the next write repairs it")
        return
    keystatus.release_lease(user_id, token)
