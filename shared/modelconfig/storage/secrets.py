"""Secrets Manager: one secret per user holding that user's BYOK keys, and the platform keys secret.

A user's secret is named `<prefix><encoded user id>`. Secret names may hold only [A-Za-z0-9/_+=.@-], so every
other character, and '=' and '/' themselves, become '=XX' per UTF-8 byte (X a hex digit): the encoding is
one-to-one, no two user ids share a secret, and a user id can never climb out of the prefix. A name that
would pass Secrets Manager's 512 characters (a long id in a non-Latin script) is `<prefix>=SHA256=<hex>`
instead: `=S` never starts an encoded character, so no encoded name can equal it.

Faults users provoke themselves are handled, never a 500:
- The last key's deletion schedules the secret for deletion with the shortest recovery window instead of
  forcing it: a name scheduled for deletion stays taken, so a key added again right after is written by
  restoring the secret (a secret marked for deletion is not billed). A force-deleted name (older data)
  that is still taken is a 503 that says to retry in a minute.
- Quotas (LimitExceeded) and throttling are 503s with a retry message.
- A user secret whose name is the platform keys secret's, whatever the prefix and the id, is refused: no
  user id can read, change or delete the platform's keys.
"""

from __future__ import annotations

import hashlib
import json
import string
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NamedTuple

from botocore.exceptions import BotoCoreError, ClientError

from modelconfig import instance
from modelconfig.errors import AccessDenied, ServiceUnavailable
from modelconfig.settings import settings
from modelconfig.storage.aws import KEY_STORE, error_code, secretsmanager, unavailable_on_fault

_PLAIN = frozenset(string.ascii_letters + string.digits + "_+.@-")
TAG_USER = "model-config:user"


MAX_NAME = 512
RECOVERY_DAYS = 7  # the shortest window Secrets Manager allows


def encode_user_id(user_id: str) -> str:
    return "".join(
        c if c in _PLAIN else "".join(f"={b:02X}" for b in c.encode("utf-8", "surrogatepass")) for c in user_id
    )


def secret_name(user_id: str) -> str:
    """The name of the user's secret; AccessDenied when it would be the platform keys secret's."""
    prefix = settings().user_secret_prefix
    name = prefix + encode_user_id(user_id)
    if len(name) > MAX_NAME:
        name = f"{prefix}=SHA256={hashlib.sha256(user_id.encode('utf-8', 'surrogatepass')).hexdigest()}"
    if name == platform_secret_name():
        raise AccessDenied("keys of this user id cannot be stored here; ask the operator to separate the secrets")
    return name


def platform_secret_name() -> str | None:
    """The platform keys secret's name, whether PLATFORM_KEYS_SECRET_ID gives a name or an ARN (whose name
    ends with a hyphen and six random characters)."""
    secret_id = settings().platform_keys_secret_id
    if not secret_id or not secret_id.startswith("arn:"):
        return secret_id
    name = secret_id.split(":secret:", 1)[-1]
    return name[:-7] if len(name) > 7 and name[-7] == "-" else name


@contextmanager
def _key_store() -> Iterator[None]:
    """AWS faults of the key store as domain errors: quotas join the transient ones as a 503."""
    try:
        with unavailable_on_fault(KEY_STORE):
            yield
    except ClientError as exc:
        if error_code(exc) == "LimitExceededException":
            raise ServiceUnavailable("the key store's quota is reached right now; retry in a minute") from exc
        raise


def _scheduled_for_deletion(exc: ClientError) -> bool:
    # AWS: "... already scheduled for deletion", "... marked for deletion"; moto: "... marked deleted".
    return error_code(exc) == "InvalidRequestException" and "delet" in str(exc).lower()


class UserSecret(NamedTuple):
    keys: dict[str, str] | None  # None: the user has no live secret
    scheduled_for_deletion: bool = False  # its name is taken until restored (or the window ends)


def read_user_secret(user_id: str) -> UserSecret:
    try:
        with _key_store():
            value = secretsmanager().get_secret_value(SecretId=secret_name(user_id))
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            return UserSecret(None)
        if _scheduled_for_deletion(exc):
            return UserSecret(None, scheduled_for_deletion=True)
        raise
    keys = json.loads(value.get("SecretString") or "{}")
    return UserSecret({str(k): str(v) for k, v in keys.items()} if isinstance(keys, dict) else {})


def read_user_keys(user_id: str) -> dict[str, str] | None:
    """The user's keys, or None when the user has no secret (or only one scheduled for deletion)."""
    return read_user_secret(user_id).keys


def write_user_keys(user_id: str, keys: dict[str, str], *, exists: bool, scheduled: bool = False) -> None:
    """Store the user's whole key set; an empty set schedules the secret's deletion (it bills per month while
    it exists, and not while it is scheduled for deletion). `scheduled`: the read found it scheduled."""
    name = secret_name(user_id)
    client = secretsmanager()
    with _key_store():
        if not keys:
            if exists:
                client.delete_secret(SecretId=name, RecoveryWindowInDays=RECOVERY_DAYS)
            return
        payload = json.dumps(keys, separators=(",", ":"), sort_keys=True)
        if scheduled:
            _restore(name, payload)
            return
        if exists:
            client.put_secret_value(SecretId=name, SecretString=payload)
            return
        try:
            client.create_secret(
                Name=name,
                SecretString=payload,
                Description="BYOK provider keys of one model-config user",
                Tags=[{"Key": TAG_USER, "Value": encode_user_id(user_id)[:256]}],
            )
        except ClientError as exc:
            if _scheduled_for_deletion(exc):
                _restore(name, payload)
            elif error_code(exc) == "ResourceExistsException":  # created meanwhile, or scheduled for deletion
                _put_or_restore(name, payload)
            else:
                raise


def erase_user_secret(user_id: str) -> bool:
    """Delete the user's secret at once, without a recovery window, even one already scheduled for deletion
    (erasure). True when there was one. DescribeSecret first: a forced deletion of no secret succeeds too."""
    name = secret_name(user_id)
    client = secretsmanager()
    with _key_store():
        try:
            client.describe_secret(SecretId=name)
        except ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return False
            raise
        try:
            client.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
        except ClientError as exc:
            if not _scheduled_for_deletion(exc):
                raise
            client.restore_secret(SecretId=name)  # a service that refuses to force a scheduled deletion
            client.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    return True


def _put_or_restore(name: str, payload: str) -> None:
    try:
        secretsmanager().put_secret_value(SecretId=name, SecretString=payload)
    except ClientError as exc:
        if not _scheduled_for_deletion(exc):
            raise
        _restore(name, payload)


def _restore(name: str, payload: str) -> None:
    """Bring back a secret scheduled for deletion, then write the new key set into it."""
    client = secretsmanager()
    try:
        client.restore_secret(SecretId=name)
    except ClientError as exc:
        if error_code(exc) not in ("ResourceNotFoundException", "InvalidRequestException"):
            raise
        # Force-deleted, and its name is not free yet: nothing to restore, and nothing to create for now.
        raise ServiceUnavailable("your previous keys are still being deleted; retry in a minute") from exc
    client.put_secret_value(SecretId=name, SecretString=payload)


class _PlatformKeys(NamedTuple):
    read_at: float
    keys: dict[str, str]


_platform: _PlatformKeys | None = None


def platform_keys() -> dict[str, str]:
    """The platform's own provider keys, cached across warm invocations for at most five minutes
    (`platform_keys_max_age_seconds`), so a rotation reaches every warm function within that time.

    A small cache over the service's own botocore client: Powertools' SecretsProvider would import boto3 and
    its resource layer on every cold start that reads this one secret (about 30 ms, measured)."""
    global _platform
    s = settings()
    if not s.platform_keys_secret_id:
        return {}
    now = time.monotonic()
    if _platform is not None and now - _platform.read_at < s.platform_keys_max_age_seconds:
        return _platform.keys
    try:
        value = secretsmanager().get_secret_value(SecretId=s.platform_keys_secret_id)
    except (ClientError, BotoCoreError) as exc:  # whatever the fault: the platform's keys cannot be used now
        raise ServiceUnavailable("the platform key store is unavailable right now; retry shortly") from exc
    try:
        doc = json.loads(value.get("SecretString") or "")
    except (ValueError, RecursionError):
        doc = None
    if not isinstance(doc, dict):
        raise ServiceUnavailable("the platform keys secret is not a JSON object")
    _platform = _PlatformKeys(now, {str(k): v for k, v in doc.items() if isinstance(v, str) and v})
    return _platform.keys


@instance.keeps
def reset_platform_cache() -> None:
    global _platform
    _platform = None
