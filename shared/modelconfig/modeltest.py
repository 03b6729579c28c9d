"""POST /api/model-configs/test: one bounded call to the provider of the user's merged config.

AWS calls: one Query of the user's partition (the override and the key status together), plus one Secrets
Manager read only when the user's own key is used. Platform keys come from a cache kept for 5 minutes.
A failed test is a result (success: false), never an HTTP error.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from typing import Literal

from modelconfig import access
from modelconfig.api.observability import logger
from modelconfig.catalog import CATALOG, Model
from modelconfig.configs import merge, overlay
from modelconfig.errors import ServiceUnavailable
from modelconfig.providers import wire
from modelconfig.schemas import MergedConfig, TestBody, TestData, TestResult
from modelconfig.settings import settings
from modelconfig.storage import secrets, table

DEFAULT_PROMPT = "Reply with the single word OK."
PREVIEW_CHARS = 100
KeySource = Literal["user", "platform"]


class _NoCall(Exception):
    """The test ends before any provider call; the message is the result's error."""


def run_test(user_id: str, body: TestBody) -> TestData:
    action = CATALOG.actions[body.agentActionName]
    stored = table.query_user(user_id)
    config = overlay(merge(action, stored.configs.get(action.key)), body.tempConfig)
    model = CATALOG.models[config.name]
    try:
        key, source = _choose_key(user_id, model, body.useUserKeys, stored.keys.keys())
    except _NoCall as reason:
        result = TestResult(success=False, error=str(reason), latencyMs=0, modelUsed=model.id)
    else:
        result = _call(model, config, key, source, body.testPrompt or DEFAULT_PROMPT)
    logger.info(
        "model test",
        extra={"model": model.id, "success": result.success, "keySource": result.keySource, "ms": result.latencyMs},
    )
    message = "Test succeeded" if result.success else f"Test failed: {result.error}"
    return TestData(testResult=result, message=message)


def _choose_key(
    user_id: str, model: Model, use_user_keys: bool, user_providers: Collection[str]
) -> tuple[str, KeySource]:
    provider = model.provider
    if provider is None:
        raise _NoCall(f"model '{model.id}' makes no call: the action is switched off")
    if CATALOG.providers[provider].wire is None:
        raise _NoCall(f"models of '{provider}' cannot be tested here: the platform serves them without a direct API")
    if use_user_keys and provider in user_providers:
        try:
            key = (secrets.read_user_keys(user_id) or {}).get(provider)
        except ServiceUnavailable:
            raise _NoCall("could not read your API key: the key store is unavailable, retry shortly") from None
        if key:
            return key, "user"
    try:
        enabled = access.platform_providers()
        platform_key = secrets.platform_keys().get(provider) if provider in enabled else None
    except ServiceUnavailable:
        raise _NoCall("could not read the platform's API keys: the key store is unavailable") from None
    if provider in enabled:
        if not platform_key:
            raise _NoCall(f"no platform API key is configured for provider '{provider}'")
        return platform_key, "platform"
    raise _NoCall(f"no API key for provider '{provider}'")


def _call(model: Model, config: MergedConfig, key: str, source: KeySource, prompt: str) -> TestResult:
    provider = model.provider
    assert provider is not None
    wire_format = CATALOG.providers[provider].wire
    assert wire_format is not None
    s = settings()
    request = wire.BUILDERS[wire_format](
        s.base_urls[provider],
        model,
        key,
        prompt,
        wire.Settings(
            max_tokens=config.max_tokens, temperature=config.temperature, reasoning_effort=config.reasoning_effort
        ),
    )
    from modelconfig.providers import client  # httpx and asyncio load only when a provider is called

    started = time.perf_counter()
    outcome = client.call(request, provider, s.model_test_timeout_seconds)
    latency = round((time.perf_counter() - started) * 1000)
    return TestResult(
        success=outcome.ok,
        responsePreview=outcome.text[:PREVIEW_CHARS] if outcome.text is not None else None,
        error=outcome.error,
        latencyMs=latency,
        modelUsed=model.id,
        keySource=source,
    )
