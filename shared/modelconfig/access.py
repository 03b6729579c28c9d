"""The one access rule: can this user use this model for this action, and with which key?

Every route and job asks here, so a rule changes in one place: PUT (403), the model test (its key choice
and its errors), `byok-providers`, the merged views (an override reads as inactive), resolve, and the sweep
(whose reset reasons are the codes below).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Mapping
from enum import Enum
from functools import cached_property
from typing import Literal, NamedTuple, overload

from modelconfig import clock
from modelconfig.catalog import CATALOG, AgentAction
from modelconfig.errors import AccessDenied, InvalidInput, ServiceUnavailable
from modelconfig.observability import logger
from modelconfig.records import CUSTOM, CustomProviderRecord, KeyRecord, custom_provider_id, split_custom
from modelconfig.settings import settings
from modelconfig.storage import secrets

Role = Literal["model", "fallback"]
KeySource = Literal["user", "platform"]


class IfUnreadable(Enum):
    """The one policy for a platform keys secret that cannot be read, each caller choosing the behaviour the
    contract gives it. A call that needs a key (a model test, resolve) gets FAIL and says the keys are
    unreadable (`choose_key`'s NoKey, or the answer's ServiceUnavailable)."""

    FAIL = "fail"  # a decision needs the truth: ServiceUnavailable (a 503), nothing decided on a guess
    SHOW_ALL = "show_all"  # a view: every provider counts as enabled, so a fault never shows an override inactive
    HOLD = "hold"  # the sweep: None, and every reset for lost key access is held this run


_UNREADABLE = {
    IfUnreadable.SHOW_ALL: "platform keys secret unreadable: no override is shown inactive for lack of a key",
    IfUnreadable.HOLD: "platform keys secret unreadable: resets for lost key access are held this run",
}


@overload
def platform_providers(if_unreadable: Literal[IfUnreadable.HOLD]) -> frozenset[str] | None: ...
@overload
def platform_providers(
    if_unreadable: Literal[IfUnreadable.FAIL, IfUnreadable.SHOW_ALL] = IfUnreadable.FAIL,
) -> frozenset[str]: ...
def platform_providers(if_unreadable: IfUnreadable = IfUnreadable.FAIL) -> frozenset[str] | None:
    """PLATFORM_MODEL_PROVIDERS when set; otherwise the providers with a key in the platform secret, and when
    that secret cannot be read, what `if_unreadable` says."""
    configured = settings().platform_model_providers
    if configured is not None:
        return frozenset(configured)
    try:
        return frozenset(p for p in secrets.platform_keys() if p in CATALOG.providers)
    except ServiceUnavailable:
        if if_unreadable is IfUnreadable.FAIL:
            raise
        logger.warning(_UNREADABLE[if_unreadable])
        return frozenset(CATALOG.providers) if if_unreadable is IfUnreadable.SHOW_ALL else None


def views_platform() -> frozenset[str]:
    """The platform-enabled providers as a view shows them (IfUnreadable.SHOW_ALL)."""
    return platform_providers(IfUnreadable.SHOW_ALL)


def live_providers(records: Mapping[str, KeyRecord], now_iso: str | None = None) -> frozenset[str]:
    """The providers of the user's live keys: stored and not expired. An expired key counts as absent for
    every rule, from its `expiresAt` on, whether or not the sweep has deleted it yet."""
    now = now_iso or clock.now_iso()
    return frozenset(p for p, r in records.items() if r.live(now))


class Grants:
    """What one user may call: the platform-enabled providers, the providers covered by a live key of the user,
    and the user's own custom providers (SPEC section 13), which only their owner can use. Each side is read on
    first use only, so a rule that never needs the user's keys reads none."""

    def __init__(
        self,
        user_keys: Callable[[], Collection[str]] | Collection[str],
        platform: Callable[[], Collection[str]] = platform_providers,
        expired: Callable[[], Collection[str]] = frozenset,
        custom: Mapping[str, CustomProviderRecord] | None = None,
    ) -> None:
        self._user_keys = user_keys
        self._platform = platform
        self._expired = expired
        self.custom: Mapping[str, CustomProviderRecord] = custom or {}

    @classmethod
    def of(
        cls,
        records: Callable[[], Mapping[str, KeyRecord]] | Mapping[str, KeyRecord],
        platform: Callable[[], Collection[str]] = platform_providers,
        custom: Mapping[str, CustomProviderRecord] | None = None,
    ) -> Grants:
        """The grants of a user whose key status is `records` (or is read by calling it): live keys only."""
        read: Callable[[], Mapping[str, KeyRecord]] = (
            functools.cache(records) if callable(records) else lambda: records  # one read for both sides
        )
        now = clock.now_iso()
        return cls(
            lambda: live_providers(read(), now),
            platform,
            lambda: frozenset(p for p, r in read().items() if not r.live(now)),
            custom,
        )

    @cached_property
    def platform(self) -> frozenset[str]:
        return frozenset(self._platform())

    @cached_property
    def user(self) -> frozenset[str]:
        keys = self._user_keys
        return frozenset(keys() if callable(keys) else keys)

    @cached_property
    def expired(self) -> frozenset[str]:
        """The providers of the user's stored keys that have expired (they count as absent)."""
        return frozenset(self._expired())

    def covers(self, provider: str) -> bool:
        return provider in self.platform or provider in self.user

    def no_key(self, provider: str) -> str:
        """Why the user has no key for `provider`, fit to show them: none stored, or the stored one expired."""
        if provider in self.expired:
            return f"the API key for provider '{provider}' expired"
        return f"no API key for provider '{provider}'"


class Denial(NamedTuple):
    """Why a model cannot be used. `reason` is the code the sweep reports; `message` is fit to show a user."""

    reason: str
    message: str
    provider: str | None = None  # set when the denial is for lack of key access


def forbidden(provider: str, grants: Grants | None = None) -> AccessDenied:
    """The 403 of a PUT that asked for a model of `provider`, which the user cannot use."""
    if provider.startswith(CUSTOM + "/"):
        name = provider.removeprefix(CUSTOM + "/")
        return AccessDenied(
            f"you have no custom provider '{name}' (a custom provider is its owner's alone); "
            f"add one with PUT /api/custom-providers/{name}"
        )
    if CATALOG.providers[provider].byok:
        if grants is not None and provider in grants.expired:
            return AccessDenied(
                f"provider '{provider}' is not enabled on this platform and the API key for provider '{provider}' "
                f"expired; renew it with PUT /api/byok-keys/{provider}"
            )
        return AccessDenied(
            f"provider '{provider}' is not enabled on this platform and you have no API key for it; "
            f"add one with PUT /api/byok-keys/{provider}"
        )
    return AccessDenied(f"provider '{provider}' is not enabled on this platform and takes no user keys")


def denial(
    action: AgentAction | None, model_id: str | None, grants: Grants | None, role: Role = "model"
) -> Denial | None:
    """Why `model_id` cannot serve `action` for the user of `grants` (None: it can, or there is no model).
    Without grants, only the catalog and the action's constraint are checked."""
    if model_id is None:
        return None
    if action is None:
        return Denial("action_not_in_catalog", "the agent action is no longer in the catalog")
    custom = split_custom(model_id)
    if custom is not None:
        return _custom_denial(action, model_id, custom, grants, role)
    model = CATALOG.models.get(model_id)
    if model is None:
        return Denial(f"{role}_not_in_catalog", f"{role} '{model_id}' is no longer in the catalog")
    if not action.allows(model_id):
        return Denial(f"{role}_not_allowed", f"{role} '{model_id}' is not allowed for {action.key}")
    provider = model.provider
    if grants is None or provider is None or grants.covers(provider):
        return None
    return Denial(f"{role}_no_key_access", grants.no_key(provider), provider)


CUSTOM_PROVIDER_GONE = "custom_provider_gone"


def _custom_denial(
    action: AgentAction, model_id: str, custom: tuple[str, str], grants: Grants | None, role: Role
) -> Denial | None:
    """A custom model serves only an action that allows any model (its size is unknown), only its owner (whose
    grants hold the provider), and only while the provider still lists it."""
    if not action.allows(model_id):
        return Denial(f"{role}_not_allowed", f"{role} '{model_id}' is not allowed for {action.key}")
    if grants is None:
        return None
    name, model = custom
    provider = grants.custom.get(name)
    if provider is None:
        return Denial(CUSTOM_PROVIDER_GONE, f"you have no custom provider '{name}'", custom_provider_id(name))
    if model not in provider.models:
        return Denial(f"{role}_not_offered", f"custom provider '{name}' does not list model '{model}'")
    return None


def first_denial(
    action: AgentAction | None, model: str | None, fallback: str | None, grants: Grants | None
) -> Denial | None:
    """The denial of the model, else of the fallback: why a stored override can no longer work."""
    return denial(action, model, grants) or denial(action, fallback, grants, "fallback")


def require(action: AgentAction, models: tuple[str, str | None], grants: Grants) -> None:
    """Raise the 403 of the first of (model, fallback) whose provider the user cannot use, or the 400 of a custom
    model its provider does not list."""
    for model_id in models:
        found = denial(action, model_id, grants)
        if found is not None and found.provider is not None:
            raise forbidden(found.provider, grants)
        if found is not None and found.reason.endswith("_not_offered") and model_id is not None:
            name, _ = split_custom(model_id) or ("", "")
            listed = ", ".join(grants.custom[name].models)
            raise InvalidInput(
                f"{found.message}; it lists: {listed} (PUT /api/custom-providers/{name} updates the list)"
            )


def key_source(provider: str, grants: Grants, *, use_user_keys: bool) -> KeySource | None:
    """Whose key a call to `provider` uses: a live key of the user's when allowed, else the platform's when
    the provider is platform-enabled, else none."""
    if use_user_keys and provider in grants.user:
        return "user"
    if provider in grants.platform:
        return "platform"
    return None


class NoKey(Exception):
    """No key can be used for a call to the provider; the message says why, fit to show a user."""


PLATFORM_UNREADABLE = "could not read the platform's API keys: the key store is unavailable"
USER_KEYS_UNREADABLE = "could not read your API key: the key store is unavailable, retry shortly"


def choose_key(
    provider: str,
    grants: Grants,
    *,
    use_user_keys: bool,
    read_user_keys: Callable[[], Mapping[str, str] | None],
) -> tuple[str, KeySource]:
    """The key a call to `provider` uses, and whose it is (`key_source`), read from where it lives: the user's
    secret (read by `read_user_keys`, only when the user's key is the one chosen) or the platform's cached
    keys. A user key the status lists but the secret lacks falls back to the platform's. Raises NoKey."""
    try:
        source = key_source(provider, grants, use_user_keys=use_user_keys)
    except ServiceUnavailable:
        raise NoKey(PLATFORM_UNREADABLE) from None
    if source == "user":
        try:
            key = (read_user_keys() or {}).get(provider)
        except ServiceUnavailable:
            raise NoKey(USER_KEYS_UNREADABLE) from None
        if key:
            return key, "user"
        source = "platform" if provider in grants.platform else None
    if source == "platform":
        try:
            platform_key = secrets.platform_keys().get(provider)
        except ServiceUnavailable:
            raise NoKey(PLATFORM_UNREADABLE) from None
        if not platform_key:
            raise NoKey(f"no platform API key is configured for provider '{provider}'")
        return platform_key, "platform"
    raise NoKey(grants.no_key(provider))


def custom_key(
    record: CustomProviderRecord, *, use_user_keys: bool, read_user_keys: Callable[[], Mapping[str, str] | None]
) -> tuple[str, KeySource | None]:
    """The key a call to the user's own endpoint `record` uses: the user's, read from their secret, and never a
    platform key (the platform's keys are never sent to a URL a user chose); ("", None) for an endpoint that takes
    no key. Raises NoKey."""
    if not use_user_keys:
        raise NoKey("custom providers use your own key: test with useUserKeys true")
    if record.preview is None:
        return "", None
    try:
        key = (read_user_keys() or {}).get(custom_provider_id(record.name))
    except ServiceUnavailable:
        raise NoKey(USER_KEYS_UNREADABLE) from None
    if not key:
        raise NoKey(f"no API key for custom provider '{record.name}'")
    return key, "user"


def platform_models() -> list[str]:
    enabled = platform_providers()
    return [m.id for m in CATALOG.models.values() if m.provider in enabled]
