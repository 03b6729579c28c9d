"""POST /api/model-configs/test: one bounded call to the provider of the user's merged config.

AWS calls: one Query of the user's partition (overrides and key status together), one Secrets Manager read
only when the user's own key is used (platform keys come from a cache kept for 5 minutes), one counter
write (SPEC section 10) only when a provider is about to be called, and one write of the key's `lastUsedAt`
after a call that sent the user's key. A failed test is a result
(success: false), never an HTTP error; a spent limit is a 429 before any call.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from modelconfig import access, keys, limits
from modelconfig.access import Grants, KeySource
from modelconfig.catalog import CATALOG, Model
from modelconfig.configs import merge, overlay, require_allowed
from modelconfig.observability import logger
from modelconfig.providers import wire
from modelconfig.schemas import MergedConfig, TestBody, TestData, TestResult
from modelconfig.settings import LAMBDA_MARGIN_SECONDS, settings
from modelconfig.storage import partitions, secrets

DEFAULT_PROMPT = "Reply with the single word OK."
PREVIEW_CHARS = 100


class _NoCall(Exception):
    """The test ends before any provider call; the message is the result's error."""


def run_test(user_id: str, body: TestBody, *, time_left: Callable[[], float] = lambda: math.inf) -> TestData:
    """`time_left` gives the seconds left before the Lambda's own timeout."""
    action = CATALOG.actions[body.agentActionName]
    temp = body.tempConfig
    if temp is not None:
        require_allowed(action, temp.modelName, temp.fallbackModel)  # nobody tests what they could not save
    stored = partitions.query(user_id)
    grants = Grants.of(stored.key_status)
    config = overlay(merge(action, stored.overrides.get(action.key), grants), temp)
    model = CATALOG.models[config.name]
    try:
        key, source = _choose_key(user_id, model, body.useUserKeys, grants)
        timeout = min(settings().model_test_timeout_seconds, time_left() - LAMBDA_MARGIN_SECONDS)
        if timeout <= 0:
            raise _NoCall("no time left for the call; retry")
    except _NoCall as reason:
        result = TestResult(success=False, error=str(reason), latencyMs=0, modelUsed=model.id)
    else:
        limits.count_test(user_id, source)
        result = _call(model, config, key, source, body.testPrompt or DEFAULT_PROMPT, timeout)
        if source == "user" and model.provider is not None:
            keys.mark_used(user_id, stored.key_status[model.provider])
    logger.info(
        "model test",
        extra={
            "model": model.id,
            "success": result.success,
            "error": result.error,  # normalised, never a key or an upstream body
            "keySource": result.keySource,
            "ms": result.latencyMs,
        },
    )
    message = "Test succeeded" if result.success else f"Test failed: {result.error}"
    return TestData(testResult=result, message=message)


def _choose_key(user_id: str, model: Model, use_user_keys: bool, grants: Grants) -> tuple[str, KeySource]:
    provider = model.provider
    if provider is None:
        raise _NoCall(f"model '{model.id}' makes no call: the action is switched off")
    if CATALOG.providers[provider].wire is None:
        raise _NoCall(f"models of '{provider}' cannot be tested here: the platform serves them without a direct API")
    try:
        return access.choose_key(
            provider, grants, use_user_keys=use_user_keys, read_user_keys=lambda: secrets.read_user_keys(user_id)
        )
    except access.NoKey as reason:
        raise _NoCall(str(reason)) from None


def _call(model: Model, config: MergedConfig, key: str, source: KeySource, prompt: str, timeout: float) -> TestResult:
    provider = model.provider
    assert provider is not None
    wire_format = CATALOG.providers[provider].wire
    assert wire_format is not None
    request = wire.BUILDERS[wire_format](
        settings().base_urls[provider],
        model,
        key,
        prompt,
        wire.Sampling(
            max_tokens=config.max_tokens, temperature=config.temperature, reasoning_effort=config.reasoning_effort
        ),
    )
    from modelconfig.providers import client  # httpx loads only when a provider is called

    started = time.perf_counter()
    outcome = client.call(request, provider, timeout)
    latency = round((time.perf_counter() - started) * 1000)
    return TestResult(
        success=outcome.ok,
        responsePreview=outcome.text[:PREVIEW_CHARS] if outcome.text is not None else None,
        error=outcome.error,
        latencyMs=latency,
        modelUsed=model.id,
        keySource=source,
    )
