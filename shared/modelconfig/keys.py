"""BYOK keys: a user's own provider keys in one Secrets Manager secret, their status in DynamoDB.

Consistency of the two stores, for one user:
- Every key write holds a short lease (a conditional write in the user's partition), so two writes never
  read-modify-write the secret at once: keys written from two tabs are both kept.
- The secret is written first; the status records and the lease release then commit in one DynamoDB
  transaction. If that commit fails, the secret is put back as it was and the lease released.
- If even that fails (or the function dies mid-way), the lease is left to expire. Whoever takes an expired
  lease over repairs the status from the secret before its own change, so a half-done write never outlives
  the next write.
The lease outlives the function's timeout, so a lease can only be taken over from a writer that is gone.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from modelconfig import clock, limits
from modelconfig.catalog import CATALOG
from modelconfig.errors import InvalidInput, NotFound
from modelconfig.observability import logger
from modelconfig.schemas import KeysData, KeyStatus, MessageData, SavedKeyData
from modelconfig.storage import keystatus, secrets
from modelconfig.storage.keystatus import KeyRecord

LEASE_SECONDS = 30  # above the key functions' 10 s timeout
LEASE_WAIT_SECONDS = 3.0
MAX_KEY_LENGTH = 512
MASK = "****"


def preview(key: str) -> str:
    """The first and last min(4, len // 6) characters around a fixed mask: at most a third of the key, and the
    mask's fixed width does not reveal the key's length."""
    n = min(4, len(key) // 6)
    return f"{key[:n]}{MASK}{key[-n:] if n else ''}"


def validate_key(provider: str, api_key: str) -> str:
    """The key with surrounding whitespace removed (a documented normalisation for pasted keys), or
    InvalidInput. Messages never contain the key."""
    spec = CATALOG.providers[provider]
    key = api_key.strip()
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidInput(f"apiKey: at most {MAX_KEY_LENGTH} characters")
    if not (key.isascii() and key.isprintable()) or " " in key:
        raise InvalidInput("apiKey: only printable ASCII characters without spaces")
    if spec.key_pattern is None or not spec.key_pattern.fullmatch(key):
        raise InvalidInput(f"apiKey: does not look like a {provider} key (it should start with '{spec.key_prefix}')")
    return key


def list_keys(user_id: str) -> KeysData:
    stored = keystatus.query(user_id)
    return KeysData(
        providers=[
            KeyStatus(provider=p, hasValidKey=True, keyPreview=stored[p].preview, updatedAt=stored[p].updated_at)
            if p in stored
            else KeyStatus(provider=p, hasValidKey=False)
            for p in CATALOG.byok_providers
        ]
    )


def put_key(user_id: str, provider: str, api_key: str) -> SavedKeyData:
    key = validate_key(provider, api_key)
    record = KeyRecord(provider=provider, preview=preview(key), updated_at=clock.now_iso())
    _change(user_id, lambda keys: keys | {provider: key}, put=[record], delete=[])
    return SavedKeyData(provider=provider, keyPreview=record.preview, updatedAt=record.updated_at)


def delete_key(user_id: str, provider: str) -> MessageData:
    def without(keys: dict[str, str]) -> dict[str, str]:
        if provider not in keys:
            raise NotFound(f"no {provider} key is stored")
        return {p: k for p, k in keys.items() if p != provider}

    _change(user_id, without, put=[], delete=[provider])
    return MessageData(message=f"{provider} key deleted")


def _change(
    user_id: str,
    apply: Callable[[dict[str, str]], dict[str, str]],
    *,
    put: list[KeyRecord],
    delete: list[str],
) -> None:
    limits.count_key_write(user_id)  # before the lease and any secret write: a refused write touches nothing
    token = uuid.uuid4().hex
    taken_over = keystatus.acquire_lease(user_id, token, lease_seconds=LEASE_SECONDS, wait_seconds=LEASE_WAIT_SECONDS)
    try:
        stored = secrets.read_user_secret(user_id)
        current = stored.keys
        before = current or {}
        if taken_over:
            put, delete = _with_repairs(user_id, before, put, delete)
        try:
            after = apply(before)
        except NotFound:
            if taken_over:  # nothing to change, but the interrupted write before us still needs its repair
                keystatus.commit(user_id, token, put=put, delete=[p for p in delete if p not in before])
            raise
        secrets.write_user_keys(user_id, after, exists=current is not None, scheduled=stored.scheduled_for_deletion)
    except BaseException:
        keystatus.release_lease(user_id, token)
        raise
    try:
        keystatus.commit(user_id, token, put=put, delete=delete)
    except BaseException:
        _undo(user_id, token, current)
        raise


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
