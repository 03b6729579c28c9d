"""Merging an override with the action's default (SPEC section 4, MergedConfig)."""

from modelconfig.catalog import CATALOG
from modelconfig.configs import merge, overlay
from modelconfig.schemas import TempConfig
from tests.factories import config_row

BLUEPRINT = CATALOG.actions["blueprint"]
TEMPLATE_SELECTION = CATALOG.actions["templateSelection"]


def row(**fields):
    stored = {"maxTokens": "max_tokens", "reasoningEffort": "reasoning_effort", "fallbackModel": "fallback"}
    return config_row(
        "u",
        fields.pop("agentActionName", "blueprint"),
        fields.pop("modelName", "openai/gpt-5"),
        **{stored.get(k, k): v for k, v in fields.items()},
    )


def test_no_override_is_the_default():
    merged = merge(BLUEPRINT, None)
    assert merged.isUserOverride is False
    assert merged.userConfigId is None
    assert merged.name == "google-ai-studio/gemini-3-flash-preview"
    assert (merged.reasoning_effort, merged.max_tokens, merged.temperature) == ("high", 64000, 1)


def test_null_fields_come_from_the_default():
    merged = merge(BLUEPRINT, row(maxTokens=500))
    assert merged.isUserOverride is True
    assert merged.userConfigId == "u-blueprint"
    assert merged.name == "openai/gpt-5"
    assert merged.max_tokens == 500
    assert merged.reasoning_effort == "high"
    assert merged.temperature == 1
    assert merged.fallbackModel == "google-ai-studio/gemini-2.5-pro"


def test_zero_temperature_is_kept_not_replaced():
    assert merge(BLUEPRINT, row(temperature=0.0)).temperature == 0.0


def test_retired_primary_falls_back_to_the_whole_default():
    merged = merge(BLUEPRINT, row(modelName="openai/gpt-4-retired", maxTokens=5))
    assert merged.isUserOverride is False
    assert merged.name == BLUEPRINT.default.name
    assert merged.max_tokens == 64000


def test_primary_violating_constraint_falls_back_to_the_whole_default():
    merged = merge(TEMPLATE_SELECTION, row(agentActionName="templateSelection", modelName="openai/gpt-5"))
    assert merged.isUserOverride is False
    assert merged.name == "google-ai-studio/gemini-2.5-flash-lite"


def test_bad_fallback_falls_back_to_the_default_fallback():
    retired = merge(BLUEPRINT, row(fallbackModel="openai/gpt-4-retired"))
    assert retired.isUserOverride is True
    assert retired.fallbackModel == "google-ai-studio/gemini-2.5-pro"
    not_allowed = merge(
        TEMPLATE_SELECTION,
        row(agentActionName="templateSelection", modelName="openai/gpt-5-mini", fallbackModel="openai/gpt-5"),
    )
    assert not_allowed.name == "openai/gpt-5-mini"
    assert not_allowed.fallbackModel == "google-ai-studio/gemini-2.5-flash-lite-latest"


def test_default_without_reasoning_leaves_the_field_out_of_the_wire_shape():
    dumped = merge(TEMPLATE_SELECTION, None).model_dump(mode="json")
    assert "reasoning_effort" not in dumped
    assert "userConfigId" not in dumped
    assert dumped["isUserOverride"] is False


def test_overlay_lays_only_non_null_fields_over():
    merged = merge(BLUEPRINT, row(maxTokens=500))
    tested = overlay(merged, TempConfig(modelName="anthropic/claude-haiku-4-5", temperature=0.5))
    assert tested.name == "anthropic/claude-haiku-4-5"
    assert tested.temperature == 0.5
    assert tested.max_tokens == 500
    assert overlay(merged, None) is merged


def test_overlay_keeps_a_zero_temperature():
    merged = merge(BLUEPRINT, row(temperature=0.7))
    assert overlay(merged, TempConfig(temperature=0.0)).temperature == 0.0  # 0 is a value, not an absence


def test_every_stored_field_has_one_wire_name_and_every_wire_field_a_source():
    from modelconfig.configs import CHOICES, WIRE_NAMES
    from modelconfig.records import Override
    from modelconfig.schemas import ConfigRow, UpdateBody

    assert [*WIRE_NAMES, "revision"] == list(Override._fields)  # the revision travels as the ETag header
    assert set(WIRE_NAMES.values()) | {"isActive"} == set(ConfigRow.model_fields)
    assert {WIRE_NAMES[name] for name in CHOICES} == set(UpdateBody.model_fields) - {"agentActionName"}


def test_a_null_max_tokens_comes_from_the_default():
    assert merge(BLUEPRINT, row(temperature=0.2)).max_tokens == 64000


def test_merge_applies_the_access_rule_to_model_and_fallback():
    from modelconfig.access import Grants

    only_google = Grants((), platform=lambda: {"google-ai-studio"})
    lost_primary = merge(BLUEPRINT, row(modelName="anthropic/claude-opus-4-5"), only_google)
    assert (lost_primary.name, lost_primary.isUserOverride) == (BLUEPRINT.default.name, False)
    lost_fallback = merge(
        BLUEPRINT, row(modelName="google-ai-studio/gemini-2.5-flash", fallbackModel="grok/grok-4-fast"), only_google
    )
    assert (lost_fallback.name, lost_fallback.fallbackModel) == (
        "google-ai-studio/gemini-2.5-flash",
        BLUEPRINT.default.fallbackModel,
    )
    with_grok = Grants({"grok"}, platform=lambda: {"google-ai-studio"})
    kept = merge(
        BLUEPRINT, row(modelName="google-ai-studio/gemini-2.5-flash", fallbackModel="grok/grok-4-fast"), with_grok
    )
    assert kept.fallbackModel == "grok/grok-4-fast"


def test_overlay_lays_max_tokens_and_fallback_over():
    tested = overlay(
        merge(BLUEPRINT, None), TempConfig(maxTokens=77, fallbackModel="google-ai-studio/gemini-2.5-flash")
    )
    assert (tested.max_tokens, tested.fallbackModel) == (77, "google-ai-studio/gemini-2.5-flash")
