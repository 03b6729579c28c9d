"""Resolve (SPEC section 11): for one user and some agent actions, the effective config, the model and
provider to call, and the key to call it with, as the builder's own inference code asks before each call.

The rules are the routes' own: `configs.merge` (defaults, constraints, the inactive rule) and
`access.choose_key` (the model test's key choice with the user's keys allowed). Nothing here is a copy.

AWS calls, warm: one Query of the user's partition (overrides and key status together). The user's secret is
read only when a user key is chosen and this instance has not read it since the key status last changed: a
cached secret is reused only while every key status it was read with has the same `updatedAt`, so a deleted
or replaced key is never served from cache. Platform keys come from their 5-minute cache. `lastUsedAt` of a
served user key is written when it is unset or over an hour old, so at most once an hour per key.

A model of the user's own endpoint (`custom/<name>/<model>`, SPEC section 13) resolves to that endpoint with
the user's key only, and only after the egress guard judges the host's addresses again (a verdict kept at most
60 s per host): a host that now resolves inside gets no key.

The answer carries keys: it is never logged, and nothing here logs a key.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, NamedTuple

from pydantic import ValidationError

from modelconfig import access, clock, instance, keys
from modelconfig.access import Grants, KeySource
from modelconfig.catalog import CATALOG, DISABLED
from modelconfig.configs import merge
from modelconfig.errors import InvalidInput, describe
from modelconfig.observability import logger
from modelconfig.providers import egress
from modelconfig.records import KeyRecord, custom_provider_id, split_custom
from modelconfig.schemas import ResolveEvent
from modelconfig.settings import settings
from modelconfig.storage import partitions, secrets

MAX_CACHED_USERS = 1000  # secrets kept per instance: a bounded cache, the least recently used goes first
LAST_USED_EVERY_SECONDS = 3600

Fingerprint = tuple[tuple[str, str], ...]  # (provider, updatedAt) of every key status and custom provider read with


class _CachedSecret(NamedTuple):
    fingerprint: Fingerprint
    keys: dict[str, str]


_secrets: OrderedDict[str, _CachedSecret] = OrderedDict()


@instance.keeps
def reset_cache() -> None:
    _secrets.clear()


def _fingerprint(stored: partitions.UserItems) -> Fingerprint:
    keys = [(p, r.updated_at) for p, r in stored.key_status.items()]
    custom = [(custom_provider_id(n), r.updated_at) for n, r in stored.custom.items()]
    return tuple(sorted(keys + custom))


def _user_keys(user_id: str, stored: partitions.UserItems) -> dict[str, str]:
    """The user's keys, from this instance's cache while the key status and custom providers it was read with
    are unchanged (a custom provider's key changes only with its record's `updatedAt`)."""
    fingerprint = _fingerprint(stored)
    cached = _secrets.get(user_id)
    if cached is not None and cached.fingerprint == fingerprint:
        _secrets.move_to_end(user_id)
        return cached.keys
    secret = secrets.read_user_keys(user_id) or {}
    _secrets[user_id] = _CachedSecret(fingerprint, secret)
    _secrets.move_to_end(user_id)
    while len(_secrets) > MAX_CACHED_USERS:
        _secrets.popitem(last=False)
    return secret


class Target(NamedTuple):
    """One model to call: where, and with which key (or why there is none)."""

    model: str
    provider: str | None
    baseUrl: str | None
    keySource: KeySource | None
    apiKey: str | None
    error: str | None


def _custom_target(user_id: str, name: str, model: str, stored: partitions.UserItems) -> Target:
    """A model of the user's own endpoint: its key only after the host's addresses pass the egress guard again
    (a verdict at most 60 s old), so no worker is handed a key for an address inside. A provider that takes no
    key resolves with no key and no error."""
    provider = custom_provider_id(name)
    record = stored.custom[name]  # merge showed the override inactive when the provider is gone
    refused = egress.recheck(record.base_url)
    if refused is not None:
        return Target(model, provider, record.base_url, None, None, refused)
    try:
        key, source = access.custom_key(record, use_user_keys=True, read_user_keys=lambda: _user_keys(user_id, stored))
    except access.NoKey as reason:
        return Target(model, provider, record.base_url, None, None, str(reason))
    return Target(model, provider, record.base_url, source, key or None, None)


def _target(user_id: str, model_id: str, stored: partitions.UserItems, grants: Grants, used: set[str]) -> Target:
    custom = split_custom(model_id)
    if custom is not None:
        return _custom_target(user_id, *custom, stored)
    model = CATALOG.models[model_id]
    provider = model.provider
    if provider is None:  # the `disabled` model, the only one without a provider: no call, so no key
        return Target(DISABLED, None, None, None, None, None)
    base_url = settings().base_urls.get(provider) or None
    try:
        key, source = access.choose_key(
            provider, grants, use_user_keys=True, read_user_keys=lambda: _user_keys(user_id, stored)
        )
    except access.NoKey as reason:
        return Target(model.api_name, provider, base_url, None, None, str(reason))
    if source == "user":
        used.add(provider)
    return Target(model.api_name, provider, base_url, source, key, None)


def parse_event(event: Any) -> ResolveEvent:
    """The event, validated; InvalidInput (a ValidationError answer) for anything else."""
    if not isinstance(event, dict):
        raise InvalidInput("the event must be a JSON object: {userId, agentActions}")
    try:
        return ResolveEvent.model_validate(event)
    except ValidationError as exc:
        raise InvalidInput(describe(list(exc.errors()))) from None


def resolve(user_id: str, actions: list[str]) -> dict[str, Any]:
    """The answer for `actions` (already validated against the catalog): `{"resolved": {action: Resolved}}`."""
    stored = partitions.query(user_id)
    grants = Grants.of(stored.key_status, custom=stored.custom)
    grants.platform  # noqa: B018  read first: an unreadable platform list is the whole answer's ServiceUnavailable
    used: set[str] = set()
    resolved: dict[str, Any] = {}
    for name in actions:
        action = CATALOG.actions[name]
        row = stored.overrides.get(name)
        config = merge(action, row, grants)
        primary = _target(user_id, config.name, stored, grants, used)
        fallback = None
        if primary.model != DISABLED and config.fallbackModel is not None:
            fallback = _target(user_id, config.fallbackModel, stored, grants, used)._asdict()
        # The user's routing wish, stored and handed on as given: the worker decides what it means.
        routing = row.provider_override if row is not None and config.isUserOverride else None
        resolved[name] = {
            "config": config.model_dump(),
            **primary._asdict(),
            "fallback": fallback,
            "providerOverride": routing,
        }
    _mark_used(user_id, stored.key_status, used)
    logger.info(
        "resolved",
        extra={
            "actions": actions,
            "keySources": {n: r["keySource"] for n, r in resolved.items()},
        },
    )
    return {"resolved": resolved}


def _mark_used(user_id: str, records: Mapping[str, KeyRecord], providers: set[str]) -> None:
    """Set `lastUsedAt` of each served user key whose mark is unset or an hour old (best effort)."""
    stale_before = clock.iso(clock.now() - LAST_USED_EVERY_SECONDS)
    for provider in sorted(providers):
        record = records[provider]
        if record.last_used_at is None or record.last_used_at <= stale_before:
            keys.mark_used(user_id, record)
