"""Configuration from the environment (SPEC section 6), parsed once per cold start into a typed model. Each
setting's default and bounds are written once, on its field; `VARIABLES` names the variable that sets it."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from functools import cache

from pydantic import BaseModel, Field, field_validator

from modelconfig.catalog import CATALOG

_HOST_ENTRY = re.compile(r"(?:[a-z0-9._-]{1,253}|\[[0-9a-f:.]{2,45}\])(?::[0-9]{1,5})?")
LAMBDA_MARGIN_SECONDS = 1.0  # a provider call ends this long before the Lambda's own timeout, so the answer gets out


class Settings(BaseModel):
    table_name: str = Field(min_length=3)
    audit_table_name: str = Field(min_length=3)  # the audit trail: its own table, which no Scan of configs reads
    audit_retention_days: int = Field(default=400, ge=1, le=3650)
    user_secret_prefix: str = Field(default="model-config/byok/", min_length=1)
    platform_keys_secret_id: str | None = None
    platform_model_providers: tuple[str, ...] | None = None  # None: the providers with a key in the secret
    model_test_timeout_seconds: float = Field(default=20.0, gt=0, le=300)
    key_verify_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    platform_keys_max_age_seconds: int = Field(default=300, ge=0, le=300)  # the platform keys' cache, at most 5 min
    test_limit_per_minute: int = Field(default=10, ge=1, le=100_000)
    platform_test_limit_per_day: int = Field(default=100, ge=1, le=1_000_000)
    key_write_limit_per_minute: int = Field(default=10, ge=1, le=100_000)
    custom_provider_limit: int = Field(default=10, ge=0, le=100)  # custom providers per user; 0 turns them off
    # The operator's allowlist for internal endpoints (SPEC section 13): `host` (any port) or `host:port`, lower
    # case. A listed host may use plain http and resolve to any address.
    custom_provider_allowed_hosts: frozenset[str] = frozenset()
    base_urls: dict[str, str]  # by provider: its variable's value, else the catalog's default, no trailing slash

    @field_validator("platform_model_providers", mode="before")
    @classmethod
    def _listed(cls, value: object) -> object:
        return provider_list(value) if isinstance(value, str) else value

    @field_validator("custom_provider_allowed_hosts", mode="before")
    @classmethod
    def _hosts(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        hosts = [h.strip().lower() for h in value.split(",") if h.strip()]
        bad = [h for h in hosts if not _HOST_ENTRY.fullmatch(h)]
        if bad:
            raise ValueError(
                f"CUSTOM_PROVIDER_ALLOWED_HOSTS: {', '.join(bad)}: each entry is a host name or address, optionally "
                "with :port (no scheme, no path)"
            )
        return frozenset(hosts)

    @field_validator("platform_model_providers")
    @classmethod
    def _known_providers(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        unknown = [p for p in value or () if p not in CATALOG.providers]
        if unknown:
            raise ValueError(f"PLATFORM_MODEL_PROVIDERS names unknown providers: {', '.join(unknown)}")
        return value


def provider_list(raw: str | None) -> tuple[str, ...] | None:
    """PLATFORM_MODEL_PROVIDERS read as a comma list; None when it names none (unset, empty, only commas)."""
    return tuple(p.strip() for p in (raw or "").split(",") if p.strip()) or None


# Each setting and the variable that sets it; a variable unset or empty leaves the field's default.
VARIABLES = {
    "table_name": "TABLE_NAME",
    "audit_table_name": "AUDIT_TABLE_NAME",
    "audit_retention_days": "AUDIT_RETENTION_DAYS",
    "user_secret_prefix": "USER_SECRET_PREFIX",
    "platform_keys_secret_id": "PLATFORM_KEYS_SECRET_ID",
    "platform_model_providers": "PLATFORM_MODEL_PROVIDERS",
    "model_test_timeout_seconds": "MODEL_TEST_TIMEOUT_SECONDS",
    "key_verify_timeout_seconds": "KEY_VERIFY_TIMEOUT_SECONDS",
    "platform_keys_max_age_seconds": "PLATFORM_KEYS_MAX_AGE_SECONDS",
    "test_limit_per_minute": "TEST_LIMIT_PER_MINUTE",
    "platform_test_limit_per_day": "PLATFORM_TEST_LIMIT_PER_DAY",
    "key_write_limit_per_minute": "KEY_WRITE_LIMIT_PER_MINUTE",
    "custom_provider_limit": "CUSTOM_PROVIDER_LIMIT",
    "custom_provider_allowed_hosts": "CUSTOM_PROVIDER_ALLOWED_HOSTS",
}


def from_environment(env: Mapping[str, str] = os.environ) -> Settings:
    """The settings `env` gives; a pydantic ValidationError names any variable out of its bounds."""
    base_urls = {
        p.id: (env.get(p.base_url_env) or p.default_base_url or "").rstrip("/")
        for p in CATALOG.providers.values()
        if p.base_url_env
    }
    values = {field: env[name] for field, name in VARIABLES.items() if env.get(name)}
    return Settings.model_validate({"table_name": "", "audit_table_name": "", **values, "base_urls": base_urls})


@cache
def settings() -> Settings:
    """The settings of this cold start. Tests that change the environment call settings.cache_clear()."""
    return from_environment()
