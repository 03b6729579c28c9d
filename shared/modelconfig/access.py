"""Who may use which model: platform-enabled providers, and providers covered by a user's own key."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from modelconfig.catalog import CATALOG
from modelconfig.errors import AccessDenied
from modelconfig.settings import settings
from modelconfig.storage import secrets


def platform_providers() -> frozenset[str]:
    """PLATFORM_MODEL_PROVIDERS when set; otherwise the providers with a key in the platform secret."""
    configured = settings().platform_model_providers
    if configured is not None:
        return frozenset(configured)
    return frozenset(p for p in secrets.platform_keys() if p in CATALOG.providers)


def platform_models() -> list[str]:
    enabled = platform_providers()
    return [m.id for m in CATALOG.models.values() if m.provider in enabled]


def require_access(model_ids: Iterable[str | None], user_key_providers: Callable[[], Iterable[str]]) -> None:
    """Raise AccessDenied naming the first provider that is neither platform-enabled nor covered by a key of
    the user. The user's key status is asked for only when a model needs it, and at most once."""
    enabled = platform_providers()
    covered: frozenset[str] | None = None
    for model_id in model_ids:
        provider = CATALOG.models[model_id].provider if model_id else None
        if provider is None or provider in enabled:
            continue
        if covered is None:
            covered = frozenset(user_key_providers())
        if provider not in covered:
            if CATALOG.providers[provider].byok:
                raise AccessDenied(
                    f"provider '{provider}' is not enabled on this platform and you have no API key for it; "
                    f"add one with PUT /api/byok-keys/{provider}"
                )
            raise AccessDenied(f"provider '{provider}' is not enabled on this platform and takes no user keys")
