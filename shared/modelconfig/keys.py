"""BYOK keys, the routes' side: a key's shape and expiry, the provider's check on save, and what each route
asks of the key store (`storage.keystore`, which keeps the secret and the status in step)."""

from __future__ import annotations

import math
from collections.abc import Callable, Collection
from datetime import datetime

from botocore.exceptions import ClientError

from modelconfig import clock, configs, limits
from modelconfig.catalog import CATALOG
from modelconfig.errors import InvalidInput, NotFound, ServiceUnavailable
from modelconfig.observability import logger
from modelconfig.providers import wire
from modelconfig.records import SWEEP, USER, Actor, Change, KeyRecord, preview
from modelconfig.schemas import KeyDeletedData, KeysData, KeyStatus, SavedKey
from modelconfig.settings import LAMBDA_MARGIN_SECONDS, settings
from modelconfig.storage import keystatus, keystore, partitions
from modelconfig.storage.keystore import KeyChange

MAX_KEY_LENGTH = 512
MAX_EXPIRY_DAYS = 366
MAX_VERIFY_ERROR = 200  # characters of verifyError (SPEC section 4); the normalised messages are far shorter


def clean_key(api_key: str) -> str:
    """The key with surrounding whitespace removed (a documented normalisation for pasted keys), or InvalidInput
    when it is too long or holds what no HTTP header can carry. Messages never contain the key."""
    key = api_key.strip()
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidInput(f"apiKey: at most {MAX_KEY_LENGTH} characters")
    if not key or not (key.isascii() and key.isprintable()) or " " in key:
        raise InvalidInput("apiKey: only printable ASCII characters without spaces")
    return key


def validate_key(provider: str, api_key: str) -> str:
    """The key, cleaned (`clean_key`) and of the provider's shape, or InvalidInput."""
    spec = CATALOG.providers[provider]
    key = clean_key(api_key)
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


def check_timeout(time_left: Callable[[], float]) -> float:
    """The one deadline of a check on save: KEY_VERIFY_TIMEOUT_SECONDS, never past the Lambda's own remaining time
    less its margin (zero or less: no time left to ask)."""
    return min(settings().key_verify_timeout_seconds, time_left() - LAMBDA_MARGIN_SECONDS)


def check_outcome(what: str, accepted: bool | None, error: str | None, **extra: str) -> str | None:
    """Log a check on save's outcome (`what`, e.g. "key check"), and read it as the rules do: InvalidInput when the
    provider rejected the key; otherwise None when it accepted it, or why the check failed (`verifyError`)."""
    outcome = {True: "accepted", False: "rejected", None: "unchecked"}[accepted]
    logger.info(what, extra={**extra, "outcome": outcome, "error": error})
    if accepted is False:
        raise InvalidInput(f"the provider rejected this key ({error})")
    return error[:MAX_VERIFY_ERROR] if error is not None else None


def verify(provider: str, key: str, time_left: Callable[[], float]) -> str | None:
    """Ask the provider whether `key` works (SPEC section 4): InvalidInput when it rejects the key; otherwise
    None when it accepted it, or why the check itself failed (the key is then stored unverified)."""
    wire_format = CATALOG.providers[provider].wire
    assert wire_format is not None  # every BYOK provider has a wire format
    timeout = check_timeout(time_left)
    if timeout <= 0:
        return "no time left to check the key"
    from modelconfig.providers import client  # httpx loads only when a provider is called

    verdict = client.check_key(wire.key_check(wire_format, settings().base_urls[provider], key), provider, timeout)
    return check_outcome("key check", verdict.accepted, verdict.error, provider=provider)


def put_key(
    user_id: str,
    provider: str,
    api_key: str,
    *,
    expires_at: str | None = None,
    check: bool = True,
    time_left: Callable[[], float] = lambda: math.inf,
    by: Actor = USER,
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
    after = status(provider, record, now)

    def with_key(secret: dict[str, str]) -> KeyChange:
        # The key it replaces, as its preview: the status beside it is not read, which keeps a PUT at 5 calls.
        before = {"provider": provider, "keyPreview": preview(secret[provider])} if provider in secret else None
        audited = Change("key.put", {"provider": provider}, before, after.model_dump(mode="json"))
        return KeyChange(secret | {provider: key}, put=[record], delete=[], audited=[audited])

    keystore.change(user_id, with_key, by)
    return SavedKey(**after.model_dump(exclude_none=True), verifyError=verify_error)


def delete_key(user_id: str, provider: str, by: Actor = USER) -> KeyDeletedData:
    """Delete the user's `provider` key, and say which actions' merged configs change because of it (read in
    one Query before the change; an expired key changes nothing, since it already counted as absent)."""
    limits.count_key_write(user_id)  # before the lease and any secret write: a refused write touches nothing
    stored = partitions.query(user_id)

    def without(secret: dict[str, str]) -> KeyChange:
        if provider not in secret:
            raise NotFound(f"no {provider} key is stored")
        record = stored.key_status.get(provider)
        before = (
            status(provider, record, clock.now_iso())
            if record is not None
            else KeyStatus(provider=provider, hasValidKey=True, keyPreview=preview(secret[provider]))  # status lost
        )
        audited = Change("key.delete", {"provider": provider}, before.model_dump(mode="json"), None)
        return KeyChange(
            {p: k for p, k in secret.items() if p != provider}, put=[], delete=[provider], audited=[audited]
        )

    keystore.change(user_id, without, by)
    return KeyDeletedData(message=f"{provider} key deleted", affectedActions=configs.affected_actions(stored, provider))


def purge_expired(user_id: str, providers: Collection[str]) -> list[str]:
    """Delete the user's keys of `providers` that are still expired now (the sweep's purge): secret and status
    together, under the same lease as any key write. A key replaced since the sweep read it is kept. Returns
    the providers purged."""
    purged: list[str] = []

    def without_expired(secret: dict[str, str]) -> KeyChange:
        now = clock.now_iso()
        current = keystatus.query(user_id)
        purged.extend(p for p in providers if p in current and not current[p].live(now))
        audited = [
            Change(
                "key.purge", {"provider": p}, status(p, current[p], now).model_dump(mode="json"), None, "key_expired"
            )
            for p in purged
        ]
        return KeyChange({p: k for p, k in secret.items() if p not in purged}, [], list(purged), audited)

    keystore.change(user_id, without_expired, SWEEP)
    return purged
