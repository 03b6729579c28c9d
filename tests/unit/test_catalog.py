"""The catalog data matches SPEC section 5 and is internally consistent."""

import pytest

from modelconfig.catalog import CATALOG, AgentActionName, ByokProvider


def test_every_default_and_fallback_satisfies_its_constraint():
    for action in CATALOG.actions.values():
        assert action.default.name in CATALOG.models, action.key
        assert action.allows(action.default.name), action.key
        assert action.default.fallbackModel is None or action.allows(action.default.fallbackModel), action.key


def test_catalog_has_the_spec_models_and_actions():
    assert len(CATALOG.models) == 25
    assert list(CATALOG.actions) == [a.value for a in AgentActionName]
    assert len(CATALOG.actions) == 13
    assert [p.value for p in ByokProvider] == ["openai", "anthropic", "google-ai-studio", "grok"]


@pytest.mark.parametrize(
    ("model_id", "size", "context"),
    [
        ("disabled", "lite", 0),
        ("google-ai-studio/gemini-2.5-pro", "large", 1048576),
        ("google-ai-studio/gemini-2.5-flash-lite", "lite", 1048576),
        ("anthropic/claude-haiku-4-5", "regular", 200000),
        ("openai/gpt-5-mini", "lite", 400000),
        ("grok/grok-code-fast-1", "lite", 256000),
        ("grok/grok-4-fast", "lite", 2000000),
        ("google-vertex-ai/openai/gpt-oss-120b-maas", "lite", 131072),
    ],
)
def test_model_sizes_and_context(model_id, size, context):
    model = CATALOG.models[model_id]
    assert (model.size, model.context_size) == (size, context)


def test_provider_is_text_before_first_slash_and_api_name_after_it():
    vertex = CATALOG.models["google-vertex-ai/qwen/qwen3-coder-480b-a35b-instruct-maas"]
    assert vertex.provider == "google-vertex-ai"
    assert vertex.api_name == "qwen/qwen3-coder-480b-a35b-instruct-maas"
    assert CATALOG.models["openai/gpt-5-mini"].api_name == "gpt-5-mini"
    assert CATALOG.models["disabled"].provider is None


def test_constraints():
    allowed = {k: set(CATALOG.allowed_models(a)) for k, a in CATALOG.actions.items()}
    assert allowed["fastCodeFixer"] == allowed["realtimeCodeFixer"] == {"disabled"}
    lite = {m.id for m in CATALOG.models.values() if m.size == "lite"}
    regular = {m.id for m in CATALOG.models.values() if m.size == "regular"}
    assert "disabled" in lite
    assert allowed["templateSelection"] == lite
    assert allowed["conversationalResponse"] == lite | regular
    assert allowed["projectSetup"] == lite | regular | {"google-ai-studio/gemini-2.5-pro"}
    assert allowed["fileRegeneration"] == allowed["phaseGeneration"] == set(CATALOG.models)
    for free in ("blueprint", "firstPhaseImplementation", "phaseImplementation", "screenshotAnalysis"):
        assert CATALOG.actions[free].constraint is None


@pytest.mark.parametrize(
    ("provider", "good", "bad"),
    [
        ("openai", "sk-0123456789", "sk-012345678"),
        ("anthropic", "sk-ant-0123456789", "sk-0123456789"),
        ("google-ai-studio", "AIza" + "x" * 20, "AIza" + "x" * 19),
        ("grok", "xai-0123456789", "xai-01234"),
    ],
)
def test_key_patterns(provider, good, bad):
    pattern = CATALOG.providers[provider].key_pattern
    assert pattern.fullmatch(good)
    assert not pattern.fullmatch(bad)
