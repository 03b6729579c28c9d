"""The model catalog: providers, models and agent actions, read once per cold start from catalog.json.

Everything here is immutable data plus the two rules that only depend on it: which provider a model
belongs to, and whether an action's constraint allows a model.

Immutable records here and in the rest of the layer are NamedTuples: a frozen, slotted dataclass compiles its
generated methods when its module is imported, about 1 ms a class on every cold start; a NamedTuple 0.07 ms.
"""

from __future__ import annotations

import json
import re
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, NamedTuple

Size = Literal["lite", "regular", "large"]
DISABLED = "disabled"
CUSTOM_PREFIX = "custom/"  # a user's own models (SPEC section 13): never catalog ids, which have no such provider


class Provider(NamedTuple):
    id: str
    byok: bool
    wire: str | None
    key_pattern: re.Pattern[str] | None = None
    key_prefix: str = ""
    base_url_env: str | None = None
    default_base_url: str | None = None


class Model(NamedTuple):
    id: str
    name: str
    size: Size
    context_size: int
    provider: str | None
    request: dict[str, Any]  # provider-specific request fields, read only

    @property
    def api_name(self) -> str:
        """The model name a provider expects: the id after its provider's part (`openai/gpt-5` -> `gpt-5`,
        `custom/lab/llama-3` -> `llama-3`)."""
        return self.id[len(self.provider) + 1 :] if self.provider else self.id


class Defaults(NamedTuple):
    name: str
    reasoning_effort: str | None
    max_tokens: int | None
    temperature: float | None
    fallbackModel: str | None


class Constraint(NamedTuple):
    allowed: frozenset[str]
    any_model: bool = False  # `all: true`: every model, a user's custom models included


class AgentAction(NamedTuple):
    key: str
    description: str
    default: Defaults
    constraint: Constraint | None

    def allows(self, model_id: str) -> bool:
        """Whether the constraint allows `model_id`: a catalog model it lists, or a user's custom model
        (`custom/<name>/<model>`, whose size nobody knows) when it allows any model."""
        if model_id.startswith(CUSTOM_PREFIX):
            return self.allows_any_model
        return self.constraint is None or model_id in self.constraint.allowed

    @property
    def allows_any_model(self) -> bool:
        """No constraint, or one that allows every model: the only actions a custom model (whose size nobody
        knows) may serve."""
        return self.constraint is None or self.constraint.any_model


class Catalog:
    def __init__(self, document: dict[str, Any]) -> None:
        self.providers: dict[str, Provider] = {
            pid: Provider(
                id=pid,
                byok=p["byok"],
                wire=p["wire"],
                key_pattern=re.compile(p["keyPattern"], re.DOTALL) if p.get("keyPattern") else None,
                key_prefix=p.get("keyExample", ""),
                base_url_env=p.get("baseUrlEnv"),
                default_base_url=p.get("defaultBaseUrl"),
            )
            for pid, p in document["providers"].items()
        }
        self.models: dict[str, Model] = {}
        for m in document["models"]:
            provider = m["id"].split("/", 1)[0] if "/" in m["id"] else None
            if provider is not None and provider not in self.providers:
                raise ValueError(f"model {m['id']} names unknown provider {provider}")
            self.models[m["id"]] = Model(
                id=m["id"],
                name=m["name"],
                size=m["size"],
                context_size=m["contextSize"],
                provider=provider,
                request=m.get("request", {}),
            )
        self.actions: dict[str, AgentAction] = {}
        for a in document["agents"]:
            self.actions[a["key"]] = AgentAction(
                key=a["key"],
                description=a["description"],
                default=Defaults(**a["default"]),
                constraint=self._constraint(a["constraint"]),
            )

    def _constraint(self, spec: dict[str, Any] | None) -> Constraint | None:
        if spec is None:
            return None
        if spec.get("all"):
            return Constraint(frozenset(self.models), any_model=True)
        sizes = set(spec.get("sizes", ()))
        allowed = {m.id for m in self.models.values() if m.size in sizes} | set(spec.get("models", ()))
        unknown = allowed - self.models.keys()
        if unknown:
            raise ValueError(f"constraint names unknown models {sorted(unknown)}")
        return Constraint(frozenset(allowed))

    @cached_property
    def byok_providers(self) -> tuple[str, ...]:
        return tuple(p.id for p in self.providers.values() if p.byok)

    def allowed_models(self, action: AgentAction) -> list[str]:
        """The action's allowed model ids in catalog order."""
        return [m for m in self.models if action.allows(m)]

    def models_of(self, provider: str) -> list[str]:
        return [m.id for m in self.models.values() if m.provider == provider]


def _load() -> Catalog:
    return Catalog(json.loads((Path(__file__).with_name("catalog.json")).read_text(encoding="utf-8")))


CATALOG = _load()

# Enums for request validation and the OpenAPI document: built from the data, never listed twice. mypy cannot
# know members made at run time (the functional API with a computed mapping): [misc] on each, for that reason.
AgentActionName = StrEnum("AgentActionName", {k: k for k in CATALOG.actions})  # type: ignore[misc]
ByokProvider = StrEnum("ByokProvider", {p: p for p in CATALOG.byok_providers})  # type: ignore[misc]
ProviderName = StrEnum("ProviderName", {p: p for p in CATALOG.providers})  # type: ignore[misc]
