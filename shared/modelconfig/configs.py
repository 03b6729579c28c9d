"""Model configurations: overrides merged with defaults, constraints, and the config routes' logic."""

from __future__ import annotations

import re
import uuid
from functools import cache
from typing import Any, NamedTuple

from modelconfig import access, clock
from modelconfig.access import Grants
from modelconfig.catalog import CATALOG, AgentAction
from modelconfig.errors import Conflict, InvalidInput, NotFound, PreconditionFailed
from modelconfig.records import USER, Actor, Change, Override, custom_model_id, custom_provider_id
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
from modelconfig.storage import audit, overrides, partitions


def action_of(name: str) -> AgentAction:
    try:
        return CATALOG.actions[name]
    except KeyError:
        valid = ", ".join(CATALOG.actions)
        raise InvalidInput(f"unknown agent action; valid actions: {valid}") from None


def default_config(action: AgentAction) -> ModelConfig:
    return ModelConfig(**action.default._asdict())  # the catalog's Defaults has ModelConfig's fields


def merge(action: AgentAction, row: Override | None, grants: Grants | None = None) -> MergedConfig:
    """The override with each null field taken from the default. A primary model the access rule refuses
    falls back to the whole default, with the refusal as `inactiveReason` (the override stays stored, and is
    active again once the rule allows it); a refused fallback falls back to the default fallback."""
    default = action.default
    if row is None:
        return MergedConfig(**default_config(action).model_dump(), isUserOverride=False)
    refused = access.denial(action, row.model, grants)
    if refused is not None:
        return MergedConfig(**default_config(action).model_dump(), isUserOverride=False, inactiveReason=refused.message)
    return MergedConfig(
        name=row.model,
        reasoning_effort=row.reasoning_effort or default.reasoning_effort,
        max_tokens=row.max_tokens if row.max_tokens is not None else default.max_tokens,
        temperature=row.temperature if row.temperature is not None else default.temperature,
        fallbackModel=row.fallback
        if row.fallback is not None and access.denial(action, row.fallback, grants) is None
        else default.fallbackModel,
        isUserOverride=True,
        userConfigId=row.id,
    )


def merged_views(stored: partitions.UserItems, grants: Grants) -> dict[str, MergedConfig]:
    """Every action's merged config for a user whose partition is `stored`."""
    return {key: merge(action, stored.overrides.get(key), grants) for key, action in CATALOG.actions.items()}


def affected_actions(stored: partitions.UserItems, provider: str) -> list[str]:
    """The actions whose merged config changes when the user's `provider` key (or custom provider `custom/<name>`)
    goes: an override read as inactive, or a fallback read as the default fallback."""
    before = _view_grants(stored)
    after = _view_grants(
        stored._replace(
            key_status={p: r for p, r in stored.key_status.items() if p != provider},
            custom={n: r for n, r in stored.custom.items() if custom_provider_id(n) != provider},
        )
    )

    def effective(action: AgentAction, row: Override, grants: Grants) -> MergedConfig:
        return merge(action, row, grants).model_copy(update={"inactiveReason": None})  # why is not what

    return [
        key
        for key, row in stored.overrides.items()
        if (action := CATALOG.actions.get(key)) is not None
        and effective(action, row, before) != effective(action, row, after)
    ]


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


def require_allowed(action: AgentAction, model_id: str | None, fallback: str | None) -> None:
    """400 when the model or the fallback is not allowed by the action's constraint (PUT and tempConfig)."""
    for what, candidate in (("model", model_id), ("fallback model", fallback)):
        if candidate is not None and not action.allows(candidate):
            raise _not_allowed(action, what, candidate)


# Each stored field of an override and its name on the wire (ConfigRow, and UpdateBody for the choices).
WIRE_NAMES = {
    "id": "id",
    "user_id": "userId",
    "action": "agentActionName",
    "model": "modelName",
    "max_tokens": "maxTokens",
    "temperature": "temperature",
    "reasoning_effort": "reasoningEffort",
    "fallback": "fallbackModel",
    "provider_override": "providerOverride",
    "created_at": "createdAt",
    "updated_at": "updatedAt",
}
CHOICES = ("model", "max_tokens", "temperature", "reasoning_effort", "fallback", "provider_override")  # a PUT's


def wire_row(row: Override) -> ConfigRow:
    return ConfigRow(isActive=True, **{WIRE_NAMES[name]: getattr(row, name) for name in WIRE_NAMES})


def _shown(model_id: str) -> str:
    """A model id as a list of allowed models shows it: a model no user key can unlock says so."""
    provider = CATALOG.models[model_id].provider
    return f"{model_id} (platform only)" if provider is not None and not CATALOG.providers[provider].byok else model_id


def _not_allowed(action: AgentAction, what: str, model_id: str) -> InvalidInput:
    allowed = ", ".join(_shown(m) for m in CATALOG.allowed_models(action))
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


def _view_grants(stored: partitions.UserItems) -> Grants:
    """What a view judges with: the user's live keys, and a platform list that a fault never empties."""
    return Grants.of(stored.key_status, access.views_platform, stored.custom)


def list_configs(user_id: str) -> ConfigsData:
    stored = partitions.query(user_id)  # configs and key status in one Query
    return ConfigsData(
        configs=merged_views(stored, _view_grants(stored)),
        defaults=all_defaults(),
        message="Model configurations retrieved successfully",
    )


# ---- versions: ETag and If-Match (SPEC section 12: no lost update) ---------------------------------------------

NO_OVERRIDE = "none"  # the tag of every action without an override
UNREVISED = "unrevised"  # an override written before overrides carried a revision
ANY = "*"
_TAG = re.compile(r'"([A-Za-z0-9-]{1,64})"')
WRITE_ATTEMPTS = 3  # reads and conditional writes when other writes keep overtaking this one


class Tagged[T](NamedTuple):
    """An answer and the ETag of the override it shows (quoted, as the header carries it)."""

    data: T
    etag: str


def etag(row: Override | None) -> str:
    """The override's version as an entity tag: a new one on every write, a fixed one for no override."""
    return f'"{_tag_of(row)}"'


def _tag_of(row: Override | None) -> str:
    return NO_OVERRIDE if row is None else row.revision or UNREVISED


def expected(if_match: str | None) -> str | None:
    """The tag an If-Match header asks the stored override to have (None: no header, no condition): one entity
    tag as ETag gave it, or `*` (any override); anything else is a 400 naming the header."""
    if if_match is None:
        return None
    value = if_match.strip()
    if value == ANY:
        return ANY
    found = _TAG.fullmatch(value)
    if found is None:
        raise InvalidInput('If-Match: must be one entity tag as ETag gave it (in quotes, e.g. "none"), or *')
    return found.group(1)


def _require_version(action: AgentAction, wanted: str | None, row: Override | None) -> None:
    """412 when the override read is not the version If-Match named."""
    if wanted is None or (wanted == ANY and row is not None) or wanted == _tag_of(row):
        return
    raise PreconditionFailed(
        f"the {action.key} config changed since you read it (If-Match): read it again, then retry; nothing was saved"
    )


def _overtaken(action: AgentAction) -> Conflict:
    return Conflict(f"other changes of your {action.key} config kept overtaking this one; retry")


def wire(row: Override | None) -> dict[str, Any] | None:
    """An override as its audit entry shows it (a ConfigRow as plain data), or None."""
    return None if row is None else wire_row(row).model_dump(mode="json")


def get_config(user_id: str, action_name: str) -> Tagged[ConfigData]:
    action = action_of(action_name)
    stored = partitions.query(user_id)  # the override and the key status it depends on, in one Query
    row = stored.overrides.get(action.key)
    data = ConfigData(
        config=merge(action, row, _view_grants(stored)),
        defaultConfig=default_config(action),
        message="Model configuration retrieved successfully",
    )
    return Tagged(data, etag(row))


def update_config(
    user_id: str, action_name: str, body: UpdateBody, if_match: str | None = None, by: Actor = USER
) -> Tagged[SavedConfigData]:
    """Save the override: one strongly consistent Query (the override it replaces, and the key status the
    access rule may need), then one transaction that writes it, on condition that it is still the one read,
    with its audit entry. Overtaken by another write in between, it reads and tries again."""
    action = action_of(action_name)
    wanted = expected(if_match)
    require_allowed(action, body.modelName, body.fallbackModel)
    chosen = {name: getattr(body, WIRE_NAMES[name]) for name in CHOICES}
    for _ in range(WRITE_ATTEMPTS):
        stored = partitions.query(user_id, consistent=True)
        grants = Grants.of(stored.key_status, custom=stored.custom)
        access.require(action, (body.modelName, body.fallbackModel), grants)
        old = stored.overrides.get(action.key)
        _require_version(action, wanted, old)
        now = clock.now_iso()
        row = Override(
            old.id if old else str(uuid.uuid4()),
            user_id,
            action.key,
            created_at=old.created_at if old else now,
            updated_at=now,
            revision=uuid.uuid4().hex[:16],
            **chosen,
        )
        change = Change("config.put", {"agentAction": action.key}, wire(old), wire(row))
        if overrides.replace(row, old, audit.entry(user_id, by, change)):
            saved = SavedConfigData(config=wire_row(row), message="Model configuration updated successfully")
            return Tagged(saved, etag(row))
    raise _overtaken(action)


def delete_config(user_id: str, action_name: str, if_match: str | None = None, by: Actor = USER) -> MessageData:
    action = action_of(action_name)
    wanted = expected(if_match)
    for _ in range(WRITE_ATTEMPTS):
        old = partitions.query(user_id, consistent=True).overrides.get(action.key)
        _require_version(action, wanted, old)
        if old is None:
            raise NotFound(f"you have no override for {action.key}; it already uses the default")
        change = Change("config.delete", {"agentAction": action.key}, wire(old), None)
        if overrides.remove([old], audit.entry(user_id, by, change)):
            return MessageData(message="Model configuration reset to default")
    raise _overtaken(action)


def reset_all(user_id: str, by: Actor = USER, reason: str | None = None) -> ResetData:
    """Delete every override of the user: one strongly consistent Query (so an override saved just before is not
    missed), then one transaction with one audit entry listing the actions (99 overrides a transaction)."""
    count = 0
    for _ in range(WRITE_ATTEMPTS):
        rows = sorted(partitions.query(user_id, consistent=True).overrides.values(), key=lambda r: r.action)
        if not rows:
            return _reset(count)
        for start in range(0, len(rows), overrides.MAX_REMOVED):
            chunk = rows[start : start + overrides.MAX_REMOVED]
            change = Change(
                "config.reset_all", {"agentActions": [r.action for r in chunk]}, [wire(r) for r in chunk], None, reason
            )
            if not overrides.remove(chunk, audit.entry(user_id, by, change)):
                break  # changed meanwhile: read again
            count += len(chunk)
        else:
            return _reset(count)
    raise Conflict("other changes of your configs kept overtaking the reset; retry")


def _reset(count: int) -> ResetData:
    return ResetData(resetCount=count, message=f"Reset {count} model configuration(s) to defaults")


def byok_providers(user_id: str, action_name: str | None) -> ByokProvidersData:
    """The BYOK providers with the user's key status, the models each live key (and each of the user's custom
    providers, as `custom/<name>`) unlocks, and the platform's models; with an action, only what it allows."""
    action = action_of(action_name) if action_name is not None else None
    found = partitions.query_keys(user_id)  # key status and custom providers, in one Query
    live = access.live_providers(found.key_status)
    stored = {p: r for p, r in found.key_status.items() if p in live}

    def fits(model_id: str) -> bool:
        return action is None or action.allows(model_id)

    custom = {
        custom_provider_id(name): [m for m in (custom_model_id(name, model) for model in r.models) if fits(m)]
        for name, r in sorted(found.custom.items())
    }
    return ByokProvidersData(
        providers=[
            ProviderStatus(provider=p, hasValidKey=p in stored, keyPreview=stored[p].preview if p in stored else None)
            for p in CATALOG.byok_providers
        ],
        modelsByProvider={
            p: [m for m in CATALOG.models_of(p) if fits(m)] for p in CATALOG.byok_providers if p in stored
        }
        | {p: models for p, models in custom.items() if models},
        platformModels=[m for m in access.platform_models() if fits(m)],
    )
