"""Request bodies: bounds, types, enums, normalisation (SPEC section 4, UpdateBody and TestBody)."""

import pytest
from pydantic import ValidationError

from modelconfig import schemas
from modelconfig.schemas import KeyBody, UpdateBody

TestBody = schemas.TestBody  # aliased so pytest does not take it for a test class
TestBody.__test__ = False

MODEL = "google-ai-studio/gemini-2.5-pro"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"modelName": ""},
        {"modelName": "x" * 101},
        {"modelName": "openai/gpt-4"},
        {"modelName": 5},
        {"modelName": MODEL, "maxTokens": 0},
        {"modelName": MODEL, "maxTokens": 200001},
        {"modelName": MODEL, "maxTokens": 1.5},
        {"modelName": MODEL, "maxTokens": "100"},
        {"modelName": MODEL, "maxTokens": True},
        {"modelName": MODEL, "temperature": -0.1},
        {"modelName": MODEL, "temperature": 2.0001},
        {"modelName": MODEL, "temperature": float("nan")},
        {"modelName": MODEL, "temperature": float("inf")},
        {"modelName": MODEL, "temperature": "0.5"},
        {"modelName": MODEL, "temperature": True},
        {"modelName": MODEL, "reasoningEffort": "extreme"},
        {"modelName": MODEL, "fallbackModel": "nope"},
    ],
)
def test_update_body_rejects(body):
    with pytest.raises(ValidationError):
        UpdateBody.model_validate(body)


def test_update_body_accepts_bounds_and_ignores_unknown_fields():
    body = UpdateBody.model_validate(
        {
            "modelName": MODEL,
            "maxTokens": 200000,
            "temperature": 2,
            "reasoningEffort": "low",
            "fallbackModel": None,
            "isUserOverride": True,
            "providerOverride": "cloudflare",
            "userId": "someone-else",
        }
    )
    assert body.maxTokens == 200000
    assert body.temperature == 2.0
    assert not hasattr(body, "userId")
    assert body.providerOverride == "cloudflare"  # stored and returned as given (SPEC section 4)


@pytest.mark.parametrize(("given", "stored"), [(2e-288, 0.0), (0.1234567, 0.123457), (1, 1.0), (1e-7, 0.0)])
def test_temperature_is_rounded_to_six_places(given, stored):
    assert UpdateBody(modelName=MODEL, temperature=given).temperature == stored


def test_test_body_defaults_and_limits():
    body = TestBody.model_validate({"agentActionName": "blueprint"})
    assert body.useUserKeys is True
    assert body.tempConfig is None
    with pytest.raises(ValidationError):
        TestBody.model_validate({"agentActionName": "blueprint", "testPrompt": "x" * 4001})
    with pytest.raises(ValidationError):
        TestBody.model_validate({"agentActionName": "nope"})
    with pytest.raises(ValidationError):
        TestBody.model_validate({"agentActionName": "blueprint", "tempConfig": {"modelName": "nope"}})
    assert TestBody.model_validate({"agentActionName": "blueprint", "tempConfig": {}}).tempConfig.modelName is None


def test_key_body_limit():
    with pytest.raises(ValidationError):
        KeyBody(apiKey="sk-" + "x" * 510)
    with pytest.raises(ValidationError):
        KeyBody(apiKey="")


def test_read_side_names_are_accepted_and_a_conflict_is_refused():
    body = UpdateBody.model_validate({"name": MODEL, "max_tokens": 7, "reasoning_effort": "high", "maxTokens": 7})
    assert (body.modelName, body.maxTokens, body.reasoningEffort) == (MODEL, 7, "high")
    with pytest.raises(ValidationError, match="max_tokens and maxTokens are one field with two values; send one"):
        UpdateBody.model_validate({"modelName": MODEL, "max_tokens": 7, "maxTokens": 8})
    with pytest.raises(ValidationError, match="providerOverride"):
        UpdateBody.model_validate({"modelName": MODEL, "providerOverride": "x"})
