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
from typing import NamedTuple

from modelconfig import access, keys, limits
from modelconfig.access import Grants, KeySource
from modelconfig.catalog import CATALOG, AgentAction, Model
from modelconfig.configs import merge, overlay, require_allowed
from modelconfig.observability import logger
from modelconfig.providers import wire
from modelconfig.records import CustomProviderRecord, custom_provider_id, split_custom
from modelconfig.schemas import MergedConfig, TestBody, TestData, TestResult
from modelconfig.settings import LAMBDA_MARGIN_SECONDS, settings
from modelconfig.storage import partitions, secrets

DEFAULT_PROMPT = "Reply with the single word OK."
PREVIEW_CHARS = 100


class _NoCall(Exception):
    """The test ends before any provider call; the message is the result's error."""


class _Plan(NamedTuple):
    """The one call a test makes: the model, the key and whose it is (None: a custom endpoint that takes no key),
    and the user's custom provider when the model is one of theirs."""

    model: Model
    key: str
    source: KeySource | None
    custom: CustomProviderRecord | None = None


def run_test(user_id: str, body: TestBody, *, time_left: Callable[[], float] = lambda: math.inf) -> TestData:
    """`time_left` gives the seconds left before the Lambda's own timeout."""
    action = CATALOG.actions[body.agentActionName]
    temp = body.tempConfig
    if temp is not None:
        require_allowed(action, temp.modelName, temp.fallbackModel)  # nobody tests what they could not save
    stored = partitions.query(user_id)
    grants = Grants.of(stored.key_status, custom=stored.custom)
    config = overlay(merge(action, stored.overrides.get(action.key), grants), temp)
    try:
        custom = split_custom(config.name)
        plan = (
            _custom_plan(user_id, action, config.name, custom, body.useUserKeys, grants)
            if custom is not None
            else _catalog_plan(user_id, CATALOG.models[config.name], body.useUserKeys, grants)
        )
        timeout = min(settings().model_test_timeout_seconds, time_left() - LAMBDA_MARGIN_SECONDS)
        if timeout <= 0:
            raise _NoCall("no time left for the call; retry")
    except _NoCall as reason:
        result = TestResult(success=False, error=str(reason), latencyMs=0, modelUsed=config.name)
    else:
        limits.count_test(user_id, plan.source or "user")  # a custom endpoint's test is the user's own
        result = _call(plan, config, body.testPrompt or DEFAULT_PROMPT, timeout)
        if plan.source == "user" and plan.custom is None and plan.model.provider is not None:
            keys.mark_used(user_id, stored.key_status[plan.model.provider])
    logger.info(
        "model test",
        extra={
            "model": config.name,
            "success": result.success,
            "error": result.error,  # normalised, never a key or an upstream body
            "keySource": result.keySource,
            "ms": result.latencyMs,
        },
    )
    message = "Test succeeded" if result.success else f"Test failed: {result.error}"
    return TestData(testResult=result, message=message)


def _catalog_plan(user_id: str, model: Model, use_user_keys: bool, grants: Grants) -> _Plan:
    provider = model.provider
    if provider is None:
        raise _NoCall(f"model '{model.id}' makes no call: the action is switched off")
    if CATALOG.providers[provider].wire is None:
        raise _NoCall(f"models of '{provider}' cannot be tested here: the platform serves them without a direct API")
    try:
        key, source = access.choose_key(
            provider, grants, use_user_keys=use_user_keys, read_user_keys=lambda: secrets.read_user_keys(user_id)
        )
    except access.NoKey as reason:
        raise _NoCall(str(reason)) from None
    return _Plan(model, key, source)


def _custom_plan(
    user_id: str, action: AgentAction, model_id: str, custom: tuple[str, str], use_user_keys: bool, grants: Grants
) -> _Plan:
    """A test of the user's own endpoint: the access rule's verdict, then the user's key for it (never a platform
    key: the platform's keys are never sent to a URL a user chose)."""
    refused = access.denial(action, model_id, grants)
    if refused is not None:
        raise _NoCall(refused.message)
    name, model_name = custom
    record = grants.custom[name]
    try:
        key, source = access.custom_key(
            record, use_user_keys=use_user_keys, read_user_keys=lambda: secrets.read_user_keys(user_id)
        )
    except access.NoKey as reason:
        raise _NoCall(str(reason)) from None
    model = Model(model_id, model_name, "regular", 0, custom_provider_id(name), {})
    return _Plan(model, key, source, record)


def _call(plan: _Plan, config: MergedConfig, prompt: str, timeout: float) -> TestResult:
    model = plan.model
    provider = model.provider
    assert provider is not None
    sampling = wire.Sampling(
        max_tokens=config.max_tokens, temperature=config.temperature, reasoning_effort=config.reasoning_effort
    )
    from modelconfig.providers import client  # httpx loads only when a provider is called

    started = time.perf_counter()
    if plan.custom is not None:
        request = wire.openai_chat(plan.custom.base_url, model, plan.key, prompt, sampling)
        outcome = client.call_custom(request, provider, timeout)
    else:
        wire_format = CATALOG.providers[provider].wire
        assert wire_format is not None
        request = wire.BUILDERS[wire_format](settings().base_urls[provider], model, plan.key, prompt, sampling)
        outcome = client.call(request, provider, timeout)
    latency = round((time.perf_counter() - started) * 1000)
    return TestResult(
        success=outcome.ok,
        responsePreview=outcome.text[:PREVIEW_CHARS] if outcome.text is not None else None,
        error=outcome.error,
        latencyMs=latency,
        modelUsed=model.id,
        keySource=plan.source,
    )
