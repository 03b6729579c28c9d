"""Custom OpenAI-compatible providers (SPEC section 13), the routes' side: a user's own endpoint, its check on
save through the egress guard, and what each route asks of the key store.

A custom provider's key lives in the user's one secret beside the BYOK keys (under `custom/<name>`), its record
in DynamoDB (`storage.customproviders`); both change together under the key store's lease, with the audit entry
in the same transaction, and count against KEY_WRITE_LIMIT_PER_MINUTE. The platform's keys are never involved:
nothing here reads them, and the guard's client sends only the key a request names.

AWS calls: list is one Query. A PUT: the key-write counter, one consistent Query of the user's custom providers
(the limit and the exact `before` of its audit entry), the lease, the secret's read, its write (only when the
key changes: a provider without a key touches no secret), and one transaction. A DELETE: the same, its Query
being the whole partition (for `affectedActions`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

from modelconfig import clock, configs, limits
from modelconfig.catalog import CATALOG
from modelconfig.errors import InvalidInput, NotFound
from modelconfig.keys import check_outcome, check_timeout, clean_key
from modelconfig.providers import egress, wire
from modelconfig.records import USER, Actor, Change, CustomProviderRecord, custom_provider_id, preview
from modelconfig.schemas import (
    CUSTOM_NAME,
    MAX_CUSTOM_MODEL,
    CustomProvider,
    CustomProviderBody,
    CustomProvidersData,
    KeyDeletedData,
)
from modelconfig.settings import settings
from modelconfig.storage import customproviders, keystore, partitions
from modelconfig.storage.keystore import CustomChange, KeyChange

NAME = re.compile(CUSTOM_NAME)
MAX_LISTED_MODELS = 200  # model ids kept from an endpoint's list


def check_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise InvalidInput("name: 1 to 32 lower-case letters, digits and hyphens, starting with a letter or digit")
    if name in CATALOG.providers:
        raise InvalidInput(f"name: '{name}' is a catalog provider; choose another name for your own endpoint")
    return name


def wire_provider(record: CustomProviderRecord) -> CustomProvider:
    return CustomProvider(
        name=record.name,
        baseUrl=record.base_url,
        keyPreview=record.preview,
        models=list(record.models),
        verifiedAt=record.verified_at,
        verifyError=record.verify_error,
        updatedAt=record.updated_at,
    )


def _audited(record: CustomProviderRecord | None) -> object:
    return None if record is None else wire_provider(record).model_dump(mode="json")


def list_providers(user_id: str) -> CustomProvidersData:
    found = customproviders.query(user_id)
    return CustomProvidersData(providers=[wire_provider(found[n]) for n in sorted(found)])


def _listed(ids: list[str]) -> tuple[str, ...]:
    """The usable model ids of an endpoint's list: each 1-200 printable characters, once, at most 200."""
    usable = (i for i in ids if 0 < len(i) <= MAX_CUSTOM_MODEL and i.isprintable())
    return tuple(dict.fromkeys(usable))[:MAX_LISTED_MODELS]


def _check(
    name: str, base_url: str, key: str | None, time_left: Callable[[], float]
) -> tuple[list[str] | None, str | None]:
    """GET {baseUrl}/models through the guard: (its model ids, or None; why the check failed, or None). A key the
    endpoint rejects, or a URL the guard refuses, is InvalidInput and nothing is stored."""
    timeout = check_timeout(time_left)
    if timeout <= 0:
        return None, "no time left to check the endpoint"
    from modelconfig.providers import client  # httpx loads only when an endpoint is called

    provider = custom_provider_id(name)
    try:
        listing = client.list_models(wire.key_check("openai-chat", base_url, key or ""), provider, timeout)
    except egress.Refused as exc:
        raise InvalidInput(str(exc)) from None
    return listing.models, check_outcome("custom provider check", listing.accepted, listing.error)


def put_provider(
    user_id: str,
    name: str,
    body: CustomProviderBody,
    *,
    check: bool = True,
    time_left: Callable[[], float] = lambda: math.inf,
    by: Actor = USER,
) -> CustomProvider:
    """Create or replace the user's custom provider `name`: the URL's rules and the key's shape first (400, nothing
    sent), then the limit on providers (400), the key-write limit (429), the check on save through the guard (a
    rejected key or a refused address is a 400, nothing stored), then the secret and the record."""
    check_name(name)
    try:
        url = egress.parse(body.baseUrl)
        egress.judge_literal(url)  # an address written in the URL is judged even when nothing is sent
    except egress.Refused as exc:
        raise InvalidInput(str(exc)) from None
    base_url = str(url)
    key = clean_key(body.apiKey.get_secret_value()) if body.apiKey is not None else None
    if not check and body.models is None:
        raise InvalidInput("models: list the endpoint's models, or let the check on save read them (verify=true)")
    limit = settings().custom_provider_limit
    if limit == 0:
        raise InvalidInput("custom providers are turned off on this platform (CUSTOM_PROVIDER_LIMIT is 0)")
    existing = customproviders.query(user_id, consistent=True)
    seen = existing.get(name)
    if seen is None and len(existing) >= limit:
        raise InvalidInput(f"at most {limit} custom providers; delete one first (DELETE /api/custom-providers/<name>)")
    limits.count_key_write(user_id)  # before the check and any write: a refused request calls and stores nothing
    listed, verify_error = _check(name, base_url, key, time_left) if check else (None, None)
    models = tuple(body.models) if body.models is not None else _listed(listed or [])
    if not models:
        raise InvalidInput(
            "models: the endpoint listed no models"
            + (f" ({verify_error})" if verify_error else "")
            + "; send them in the body's models"
        )
    now = clock.now_iso()
    record = CustomProviderRecord(
        name,
        base_url,
        models,
        now,
        preview=preview(key) if key is not None else None,
        verified_at=now if check and verify_error is None else None,
        verify_error=verify_error,
    )
    secret_name = custom_provider_id(name)

    def with_provider(secret: dict[str, str]) -> KeyChange:
        keys = {p: k for p, k in secret.items() if p != secret_name} | ({secret_name: key} if key else {})
        audited = Change("custom_provider.put", {"customProvider": name}, _audited(seen), _audited(record))
        return KeyChange(keys, put=[], delete=[], audited=[audited], custom=[CustomChange(record, seen)])

    keystore.change(user_id, with_provider, by)
    return wire_provider(record)


def delete_provider(user_id: str, name: str, by: Actor = USER) -> KeyDeletedData:
    """Delete the user's custom provider `name` and its key, and say which actions' merged configs change."""
    check_name(name)
    limits.count_key_write(user_id)
    stored = partitions.query(user_id, consistent=True)
    seen = stored.custom.get(name)
    if seen is None:
        raise NotFound(f"you have no custom provider '{name}'")
    secret_name = custom_provider_id(name)

    def without(secret: dict[str, str]) -> KeyChange:
        audited = Change("custom_provider.delete", {"customProvider": name}, _audited(seen), None)
        keys = {p: k for p, k in secret.items() if p != secret_name}
        return KeyChange(keys, put=[], delete=[], audited=[audited], custom=[CustomChange(None, seen)])

    keystore.change(user_id, without, by)
    return KeyDeletedData(
        message=f"custom provider '{name}' deleted", affectedActions=configs.affected_actions(stored, secret_name)
    )
