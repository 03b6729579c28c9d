"""Secrets Manager: one secret per user holding that user's BYOK keys, and the platform keys secret.

A user's secret is named `<prefix><encoded user id>`. Secret names may hold only [A-Za-z0-9/_+=.@-], so every
other character, and '=' and '/' themselves, become '=XX' per UTF-8 byte: the encoding is one-to-one, no
two user ids share a secret, and a user id can never climb out of the prefix.
"""

from __future__ import annotations

import json
import string
from functools import cache
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from modelconfig.errors import ServiceUnavailable
from modelconfig.settings import settings
from modelconfig.storage.aws import error_code, secretsmanager, unavailable_on_fault

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

_PLAIN = frozenset(string.ascii_letters + string.digits + "_+.@-")
TAG_USER = "model-config:user"


def encode_user_id(user_id: str) -> str:
    return "".join(c if c in _PLAIN else "".join(f"={b:02X}" for b in c.encode()) for c in user_id)


def secret_name(user_id: str) -> str:
    return settings().user_secret_prefix + encode_user_id(user_id)


def read_user_keys(user_id: str) -> dict[str, str] | None:
    """The user's keys, or None when the user has no secret."""
    try:
        with unavailable_on_fault("the key store"):
            value = secretsmanager().get_secret_value(SecretId=secret_name(user_id))
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            return None
        raise
    keys = json.loads(value.get("SecretString") or "{}")
    return {str(k): str(v) for k, v in keys.items()} if isinstance(keys, dict) else {}


def write_user_keys(user_id: str, keys: dict[str, str], *, exists: bool) -> None:
    """Store the user's whole key set; an empty set deletes the secret (it bills per month while it exists)."""
    name = secret_name(user_id)
    client = secretsmanager()
    with unavailable_on_fault("the key store"):
        if not keys:
            if exists:
                client.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
            return
        payload = json.dumps(keys, separators=(",", ":"), sort_keys=True)
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
            # Created meanwhile (ResourceExists) or still being force-deleted (InvalidRequest): write a version.
            if error_code(exc) not in ("ResourceExistsException", "InvalidRequestException"):
                raise
            client.put_secret_value(SecretId=name, SecretString=payload)


@cache
def _platform_provider() -> SecretsProvider:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    return SecretsProvider(boto3_client=secretsmanager())


def platform_keys() -> dict[str, str]:
    """The platform's own provider keys, cached across warm invocations for at most 5 minutes."""
    s = settings()
    if not s.platform_keys_secret_id:
        return {}
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError, TransformParameterError

    try:
        value = _platform_provider().get(
            s.platform_keys_secret_id, transform="json", max_age=s.platform_keys_max_age_seconds
        )
    except TransformParameterError as exc:
        raise ServiceUnavailable("the platform keys secret is not a JSON object") from exc
    except GetParameterError as exc:
        raise ServiceUnavailable("the platform key store is unavailable right now; retry shortly") from exc
    if not isinstance(value, dict):
        raise ServiceUnavailable("the platform keys secret is not a JSON object")
    return {str(k): str(v) for k, v in value.items() if isinstance(v, str) and v}


def reset_platform_cache() -> None:
    _platform_provider.cache_clear()
