"""Model configurations: overrides merged with defaults, constraints, and the config routes' logic."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from functools import cache

from modelconfig import access
from modelconfig.catalog import CATALOG, AgentAction
from modelconfig.errors import InvalidInput, NotFound
from modelconfig.schemas import (
    AgentInfo,
    ByokProvidersData,
    ConfigData,
    ConfigRow,
    ConfigsData,
    ConstraintInfo,
    DefaultsData,
    MergedConfig,
    MessageData,
    ModelConfig,
    ModelInfo,
    ProviderStatus,
    ResetData,
    SavedConfigData,
    TempConfig,
    UpdateBody,
)
from modelconfig.storage import table


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def action_of(name: str) -> AgentAction:
    try:
        return CATALOG.actions[name]
    except KeyError:
        valid = ", ".join(CATALOG.actions)
        raise InvalidInput(f"unknown agent action; valid actions: {valid}") from None


def usable(action: AgentAction, model_id: str | None) -> bool:
    """A stored model still works for the action: it is in the catalog and its constraint allows it."""
    return model_id is not None and model_id in CATALOG.models and action.allows(model_id)


def default_config(action: AgentAction) -> ModelConfig:
    d = action.default
    return ModelConfig(
        name=d.name,
        reasoning_effort=d.reasoning_effort,
        max_tokens=d.max_tokens,
        temperature=d.temperature,
        fallbackModel=d.fallbackModel,
    )


def merge(action: AgentAction, row: ConfigRow | None) -> MergedConfig:
    """The override with each null field taken from the default. A primary model that no longer works falls
    back to the whole default; a fallback that no longer works falls back to the default fallback."""
    default = action.default
    if row is None or not usable(action, row.modelName):
        return MergedConfig(**default_config(action).model_dump(), isUserOverride=False)
    return MergedConfig(
        name=row.modelName,
        reasoning_effort=row.reasoningEffort or default.reasoning_effort,
        max_tokens=row.maxTokens if row.maxTokens is not None else default.max_tokens,
        temperature=row.temperature if row.temperature is not None else default.temperature,
        fallbackModel=row.fallbackModel if usable(action, row.fallbackModel) else default.fallbackModel,
        isUserOverride=True,
        userConfigId=row.id,
    )


def overlay(config: MergedConfig, temp: TempConfig | None) -> MergedConfig:
    """The merged config with the non-null fields of a test's tempConfig laid over it."""
    if temp is None:
        return config
    return config.model_copy(
        update={
            k: v
            for k, v in {
                "name": temp.modelName,
                "reasoning_effort": temp.reasoningEffort,
                "max_tokens": temp.maxTokens,
                "temperature": temp.temperature,
                "fallbackModel": temp.fallbackModel,
            }.items()
            if v is not None
        }
    )


def _not_allowed(action: AgentAction, what: str, model_id: str) -> InvalidInput:
    allowed = ", ".join(CATALOG.allowed_models(action))
    return InvalidInput(f"{what} '{model_id}' is not allowed for {action.key}; allowed models: {allowed}")


# ---- routes -------------------------------------------------------------------------------------------


@cache
def all_defaults() -> dict[str, ModelConfig]:
    return {key: default_config(action) for key, action in CATALOG.actions.items()}


@cache
def defaults_view() -> DefaultsData:
    return DefaultsData(
        defaults=all_defaults(),
        agents=[
            AgentInfo(
                key=a.key,
                description=a.description,
                constraint=ConstraintInfo(enabled=True, allowedModels=CATALOG.allowed_models(a))
                if a.constraint
                else None,
            )
            for a in CATALOG.actions.values()
        ],
        models=[
            ModelInfo(id=m.id, name=m.name, provider=m.provider, size=m.size, contextSize=m.context_size)
            for m in CATALOG.models.values()
        ],
        message="Default configurations retrieved successfully",
    )


def list_configs(user_id: str) -> ConfigsData:
    rows = table.query_configs(user_id)
    return ConfigsData(
        configs={key: merge(action, rows.get(key)) for key, action in CATALOG.actions.items()},
        defaults=all_defaults(),
        message="Model configurations retrieved successfully",
    )


def get_config(user_id: str, action_name: str) -> ConfigData:
    action = action_of(action_name)
    return ConfigData(
        config=merge(action, table.get_config(user_id, action.key)),
        defaultConfig=default_config(action),
        message="Model configuration retrieved successfully",
    )


def update_config(user_id: str, action_name: str, body: UpdateBody) -> SavedConfigData:
    action = action_of(action_name)
    if not action.allows(body.modelName):
        raise _not_allowed(action, "model", body.modelName)
    if body.fallbackModel is not None and not action.allows(body.fallbackModel):
        raise _not_allowed(action, "fallback model", body.fallbackModel)
    access.require_access((body.modelName, body.fallbackModel), lambda: table.query_keys(user_id).keys())
    now = now_iso()
    row = table.save_config(
        user_id,
        ConfigRow(
            id=str(uuid.uuid4()),
            userId=user_id,
            agentActionName=action.key,
            modelName=body.modelName,
            maxTokens=body.maxTokens,
            temperature=body.temperature,
            reasoningEffort=body.reasoningEffort,
            fallbackModel=body.fallbackModel,
            isActive=True,
            createdAt=now,
            updatedAt=now,
        ),
    )
    return SavedConfigData(config=row, message="Model configuration updated successfully")


def delete_config(user_id: str, action_name: str) -> MessageData:
    action = action_of(action_name)
    if not table.delete_config(user_id, action.key):
        raise NotFound(f"you have no override for {action.key}; it already uses the default")
    return MessageData(message="Model configuration reset to default")


def reset_all(user_id: str) -> ResetData:
    keys = table.config_keys(user_id)
    table.delete_items(keys)
    return ResetData(resetCount=len(keys), message=f"Reset {len(keys)} model configuration(s) to defaults")


def byok_providers(user_id: str, action_name: str | None) -> ByokProvidersData:
    action = action_of(action_name) if action_name is not None else None
    keys = table.query_keys(user_id)

    def fits(model_id: str) -> bool:
        return action is None or action.allows(model_id)

    return ByokProvidersData(
        providers=[
            ProviderStatus(provider=p, hasValidKey=p in keys, keyPreview=keys[p].preview if p in keys else None)
            for p in CATALOG.byok_providers
        ],
        modelsByProvider={p: [m for m in CATALOG.models_of(p) if fits(m)] for p in CATALOG.byok_providers if p in keys},
        platformModels=[m for m in access.platform_models() if fits(m)],
    )
