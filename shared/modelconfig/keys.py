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

import math
import uuid
from collections.abc import Callable, Collection
from datetime import datetime
from typing import NamedTuple

from botocore.exceptions import ClientError

from modelconfig import clock, configs, limits
from modelconfig.catalog import CATALOG
from modelconfig.errors import InvalidInput, NotFound, ServiceUnavailable
from modelconfig.observability import logger
from modelconfig.providers import wire
from modelconfig.schemas import KeyDeletedData, KeysData, KeyStatus, SavedKey
from modelconfig.settings import settings
from modelconfig.storage import keystatus, partitions, secrets
from modelconfig.storage.keystatus import KeyRecord

LEASE_SECONDS = 30  # above the key functions' 10 s timeout
LEASE_WAIT_SECONDS = 3.0
MAX_KEY_LENGTH = 512
MASK = "****"
MAX_EXPIRY_DAYS = 366
MAX_VERIFY_ERROR = 200  # characters of verifyError (SPEC section 4); the normalised messages are far shorter
LAMBDA_MARGIN_SECONDS = 1.0  # the check ends this long before the Lambda's own timeout


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
        article = "an" if provider[0] in "aeiou" else "a"
        raise InvalidInput(
            f"apiKey: does not look like {article} {provider} key (it should start with '{spec.key_prefix}')"
        )
    return key


def status(provider: str, record: KeyRecord | None, now_iso: str) -> KeyStatus:
    """A provider's KeyStatus: an expired key is listed (until the sweep deletes it) with hasValidKey false."""
    if record is None:
        return KeyStatus(provider=provider, hasValidKey=False)
    return KeyStatus(
        provider=provider,
        hasValidKey=record.live(now_iso),
        keyPreview=record.preview,
        updatedAt=record.updated_at,
        verifiedAt=record.verified_at,
        lastUsedAt=record.last_used_at,
        expiresAt=record.expires_at,
    )


def list_keys(user_id: str) -> KeysData:
    stored = keystatus.query(user_id)
    now = clock.now_iso()
    return KeysData(providers=[status(p, stored.get(p), now) for p in CATALOG.byok_providers])


def mark_used(user_id: str, record: KeyRecord) -> None:
    """Record that the user's key `record` describes was sent to its provider or served (`lastUsedAt`). Best
    effort: the use has happened either way, so a fault here is logged, never the request's failure."""
    try:
        keystatus.mark_used(user_id, record, clock.now_iso())
    except (ServiceUnavailable, ClientError) as exc:
        logger.warning("could not record the key's lastUsedAt", extra={"cause": type(exc).__name__})


def _check_expiry(expires_at: str | None) -> None:
    if expires_at is None:
        return
    now, when = clock.now(), datetime.fromisoformat(expires_at).timestamp()
    if when <= now:
        raise InvalidInput("expiresAt: must be in the future")
    if when > now + MAX_EXPIRY_DAYS * 86_400:
        raise InvalidInput(f"expiresAt: at most {MAX_EXPIRY_DAYS} days ahead")


def verify(provider: str, key: str, time_left: Callable[[], float]) -> str | None:
    """Ask the provider whether `key` works (SPEC section 4): InvalidInput when it rejects the key; otherwise
    None when it accepted it, or why the check itself failed (the key is then stored unverified)."""
    wire_format = CATALOG.providers[provider].wire
    assert wire_format is not None  # every BYOK provider has a wire format
    timeout = min(settings().key_verify_timeout_seconds, time_left() - LAMBDA_MARGIN_SECONDS)
    if timeout <= 0:
        return "no time left to check the key"
    from modelconfig.providers import client  # httpx and asyncio load only when a provider is called

    verdict = client.check_key(wire.key_check(wire_format, settings().base_urls[provider], key), provider, timeout)
    outcome = {True: "accepted", False: "rejected", None: "unchecked"}[verdict.accepted]
    logger.info("key check", extra={"provider": provider, "outcome": outcome, "error": verdict.error})
    if verdict.accepted is False:
        raise InvalidInput(f"the provider rejected this key ({verdict.error})")
    return verdict.error[:MAX_VERIFY_ERROR] if verdict.error is not None else None


def put_key(
    user_id: str,
    provider: str,
    api_key: str,
    *,
    expires_at: str | None = None,
    check: bool = True,
    time_left: Callable[[], float] = lambda: math.inf,
) -> SavedKey:
    """Store the user's key for `provider`: its shape and expiry first (400, nothing sent anywhere), then the
    key-write limit (429), then one check with the provider (a rejected key is a 400, nothing stored), then
    the secret and the status. `check=False` stores without asking the provider."""
    key = validate_key(provider, api_key)
    _check_expiry(expires_at)
    limits.count_key_write(user_id)  # before the check and any write: a refused request calls and stores nothing
    verify_error = verify(provider, key, time_left) if check else None
    now = clock.now_iso()
    verified = check and verify_error is None
    record = KeyRecord(provider, preview(key), now, verified_at=now if verified else None, expires_at=expires_at)
    _change(user_id, lambda keys: Change(keys | {provider: key}, put=[record], delete=[]))
    return SavedKey(**status(provider, record, now).model_dump(exclude_none=True), verifyError=verify_error)


def delete_key(user_id: str, provider: str) -> KeyDeletedData:
    """Delete the user's `provider` key, and say which actions' merged configs change because of it (read in
    one Query before the change; an expired key changes nothing, since it already counted as absent)."""

    def without(keys: dict[str, str]) -> Change:
        if provider not in keys:
            raise NotFound(f"no {provider} key is stored")
        return Change({p: k for p, k in keys.items() if p != provider}, put=[], delete=[provider])

    limits.count_key_write(user_id)  # before the lease and any secret write: a refused write touches nothing
    stored = partitions.query(user_id)
    _change(user_id, without)
    return KeyDeletedData(message=f"{provider} key deleted", affectedActions=configs.affected_actions(stored, provider))


def purge_expired(user_id: str, providers: Collection[str]) -> list[str]:
    """Delete the user's keys of `providers` that are still expired now (the sweep's purge): secret and status
    together, under the same lease as any key write. A key replaced since the sweep read it is kept. Returns
    the providers purged."""
    purged: list[str] = []

    def without_expired(keys: dict[str, str]) -> Change:
        now = clock.now_iso()
        current = keystatus.query(user_id)
        purged.extend(p for p in providers if p in current and not current[p].live(now))
        return Change({p: k for p, k in keys.items() if p not in purged}, put=[], delete=list(purged))

    _change(user_id, without_expired)
    return purged


class Change(NamedTuple):
    """What one key write does: the user's whole key set after it, and the status records to put and delete."""

    keys: dict[str, str]
    put: list[KeyRecord]
    delete: list[str]


def _change(user_id: str, apply: Callable[[dict[str, str]], Change]) -> None:
    """Apply one change to the user's secret and key status, under the user's key-write lease."""
    token = uuid.uuid4().hex
    taken_over = keystatus.acquire_lease(user_id, token, lease_seconds=LEASE_SECONDS, wait_seconds=LEASE_WAIT_SECONDS)
    try:
        stored = secrets.read_user_secret(user_id)
        current = stored.keys
        before = current or {}
        try:
            change = apply(before)
        except NotFound:
            if taken_over:  # nothing to change, but the interrupted write before us still needs its repair
                put, delete = _with_repairs(user_id, before, [], [])
                keystatus.commit(user_id, token, put=put, delete=delete)
            raise
        put, delete = change.put, change.delete
        if taken_over:
            put, delete = _with_repairs(user_id, before, put, delete)
        secrets.write_user_keys(
            user_id, change.keys, exists=current is not None, scheduled=stored.scheduled_for_deletion
        )
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
