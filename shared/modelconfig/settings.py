"""Configuration from the environment (SPEC section 6), parsed once per cold start into a typed model."""

from __future__ import annotations

import os
from functools import cache

from pydantic import BaseModel, Field, field_validator

from modelconfig.catalog import CATALOG


class Settings(BaseModel):
    table_name: str = Field(min_length=3)
    user_secret_prefix: str = Field(default="model-config/byok/", min_length=1)
    platform_keys_secret_id: str | None = None
    platform_model_providers: tuple[str, ...] | None = None
    model_test_timeout_seconds: float = Field(default=20.0, gt=0, le=300)
    key_verify_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    platform_keys_max_age_seconds: int = Field(default=300, ge=0, le=300)
    test_limit_per_minute: int = Field(default=10, ge=1, le=100_000)
    platform_test_limit_per_day: int = Field(default=100, ge=1, le=1_000_000)
    key_write_limit_per_minute: int = Field(default=10, ge=1, le=100_000)
    base_urls: dict[str, str]

    @field_validator("platform_model_providers")
    @classmethod
    def _known_providers(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        unknown = [p for p in value or () if p not in CATALOG.providers]
        if unknown:
            raise ValueError(f"PLATFORM_MODEL_PROVIDERS names unknown providers: {', '.join(unknown)}")
        return value


def _providers(raw: str | None) -> tuple[str, ...] | None:
    names = tuple(p.strip() for p in (raw or "").split(",") if p.strip())
    return names or None


def from_environment(env: dict[str, str] | os._Environ[str] = os.environ) -> Settings:
    base_urls = {
        p.id: env.get(p.base_url_env) or p.default_base_url or "" for p in CATALOG.providers.values() if p.base_url_env
    }
    return Settings(
        table_name=env.get("TABLE_NAME", ""),
        user_secret_prefix=env.get("USER_SECRET_PREFIX") or "model-config/byok/",
        platform_keys_secret_id=env.get("PLATFORM_KEYS_SECRET_ID") or None,
        platform_model_providers=_providers(env.get("PLATFORM_MODEL_PROVIDERS")),
        model_test_timeout_seconds=env.get("MODEL_TEST_TIMEOUT_SECONDS") or 20,
        key_verify_timeout_seconds=env.get("KEY_VERIFY_TIMEOUT_SECONDS") or 5,
        test_limit_per_minute=env.get("TEST_LIMIT_PER_MINUTE") or 10,
        platform_test_limit_per_day=env.get("PLATFORM_TEST_LIMIT_PER_DAY") or 100,
        key_write_limit_per_minute=env.get("KEY_WRITE_LIMIT_PER_MINUTE") or 10,
        base_urls={k: v.rstrip("/") for k, v in base_urls.items()},
    )


@cache
def settings() -> Settings:
    """The settings of this cold start. Tests that change the environment call settings.cache_clear()."""
    return from_environment()
