"""Request and response shapes of the API (SPEC section 4). Field names are the wire names of the vibesdk
web client, so some are camelCase and some snake_case by contract."""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)
from pydantic_core import PydanticCustomError

from modelconfig import clock
from modelconfig.catalog import CATALOG, AgentActionName
from modelconfig.identity import MAX_SUBJECT_LENGTH, is_subject
from modelconfig.records import ActorKind, AuditAction

MAX_TEST_PROMPT = 4000
TEMPERATURE_DECIMALS = 6


CUSTOM_NAME = r"[a-z0-9][a-z0-9-]{0,31}"  # a custom provider's name (SPEC section 13)
MAX_CUSTOM_MODEL = 200  # characters of one model name a custom provider lists
CUSTOM_MODEL_ID = re.compile(rf"custom/{CUSTOM_NAME}/.{{1,{MAX_CUSTOM_MODEL}}}", re.DOTALL)


def _known_model(model_id: str) -> str:
    """A catalog model id, or a custom model id (`custom/<name>/<model>`), which only its owner's access rule
    can judge further."""
    if model_id in CATALOG.models or (CUSTOM_MODEL_ID.fullmatch(model_id) and model_id.isprintable()):
        return model_id
    raise PydanticCustomError(
        "unknown_model",
        "unknown model id; see GET /api/model-configs/defaults for the catalog, or use custom/<name>/<model> "
        "for a model of your own custom provider",
    )


def _round_temperature(value: float) -> float:
    # DynamoDB cannot hold every float (2e-288 underflows its 38-digit range), so store 6 decimal places.
    # Adding 0.0 turns -0.0 into 0.0.
    if not math.isfinite(value):
        raise PydanticCustomError("finite_number", "must be a finite number")
    return round(value, TEMPERATURE_DECIMALS) + 0.0


ModelId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=len("custom//") + 32 + MAX_CUSTOM_MODEL,
        json_schema_extra={
            "anyOf": [
                {"enum": list(CATALOG.models)},
                {"pattern": f"^custom/{CUSTOM_NAME}/", "description": "a model of your own custom provider"},
            ]
        },
    ),
    AfterValidator(_known_model),
]
MaxTokens = Annotated[int, Field(strict=True, ge=1, le=200_000)]
Temperature = Annotated[float, Field(strict=True, ge=0, le=2, allow_inf_nan=False), AfterValidator(_round_temperature)]
ReasoningEffort = Literal["low", "medium", "high"]
ProviderOverride = Literal["cloudflare", "direct"]


def _utc_instant(value: str) -> str:
    """An ISO-8601 date-time with a time zone, as the domain clock writes times (UTC, milliseconds, `Z`)."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise PydanticCustomError(
            "date_time", "must be an ISO-8601 date-time with a time zone, such as 2027-01-31T00:00:00Z"
        )
    return clock.iso(parsed.timestamp())


Instant = Annotated[
    str, Field(strict=True, max_length=64, json_schema_extra={"format": "date-time"}), AfterValidator(_utc_instant)
]


class Schema(BaseModel):
    """Every shape here. Each function uses a few of them, so each is built on first use, not at import:
    building all of them costs a cold start about 40 ms."""

    # Field titles are the wire names (`testPrompt`), not pydantic's default (`Testprompt`).
    model_config = ConfigDict(defer_build=True, field_title_generator=lambda name, _info: name)


class Request(Schema):
    """Request bodies ignore unknown fields (the vibesdk client sends isUserOverride and providerOverride)."""

    model_config = ConfigDict(extra="ignore")  # merged with Schema's defer_build


class Compact(Schema):
    """A response shape whose unset (None) optional fields are left out, as the client's `field?` types expect."""

    # No return annotation on purpose: pydantic would take `dict[str, Any]` as the serialized shape, and the
    # OpenAPI document would show every Compact model as a bare object instead of its fields.
    @model_serializer(mode="wrap")
    def _drop_none(self, handler: SerializerFunctionWrapHandler):  # type: ignore[no-untyped-def]  # noqa: ANN202
        return {k: v for k, v in handler(self).items() if v is not None}


# ---- requests -------------------------------------------------------------------------------------------


READ_SIDE_NAMES = {"name": "modelName", "max_tokens": "maxTokens", "reasoning_effort": "reasoningEffort"}


class ConfigFields(Request):
    """What a PUT body and a test's tempConfig share. The read-side names of GET (`name`, `max_tokens`,
    `reasoning_effort`) are accepted too, so a config read by GET can be sent back as it is."""

    maxTokens: MaxTokens | None = None
    temperature: Temperature | None = None
    reasoningEffort: ReasoningEffort | None = None
    fallbackModel: ModelId | None = None
    providerOverride: ProviderOverride | None = None

    @model_validator(mode="before")
    @classmethod
    def _read_side_names(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for read_name, name in READ_SIDE_NAMES.items():
            if read_name not in data:
                continue
            value = data.pop(read_name)
            if name in data and data[name] != value:
                raise PydanticCustomError(
                    "conflicting_names", f"{read_name} and {name} are one field with two values; send one"
                )
            data[name] = value
        return data


class UpdateBody(ConfigFields):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"modelName": "anthropic/claude-opus-4-5", "maxTokens": 8000, "reasoningEffort": "high"},
                {"modelName": "disabled"},
            ]
        }
    )

    modelName: ModelId


class TempConfig(ConfigFields):
    modelName: ModelId | None = None


class TestBody(Request):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"agentActionName": "blueprint", "testPrompt": "Say hi"},
                {"agentActionName": "blueprint", "useUserKeys": False, "tempConfig": {"modelName": "openai/gpt-5"}},
            ]
        }
    )

    agentActionName: AgentActionName
    testPrompt: Annotated[str, Field(max_length=MAX_TEST_PROMPT)] | None = None
    useUserKeys: Annotated[bool, Field(strict=True)] = True
    tempConfig: TempConfig | None = None


def _key_length(value: SecretStr) -> SecretStr:
    """pydantic counts a SecretStr's length in "items"; a key is counted in characters."""
    if len(value.get_secret_value()) > 512:
        raise PydanticCustomError("too_long", "at most 512 characters")
    return value


class KeyBody(Request):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"apiKey": "sk-ant-api03-your-key"},
                {"apiKey": "sk-proj-your-key", "expiresAt": "2027-06-30T00:00:00Z"},
            ]
        }
    )

    # SecretStr: any repr of the body (a debug log of route arguments, a traceback) shows '**********'.
    apiKey: Annotated[SecretStr, Field(min_length=1, json_schema_extra={"maxLength": 512}), AfterValidator(_key_length)]
    expiresAt: Instant | None = Field(
        default=None, description="When the key stops counting (at most 366 days ahead); absent or null: never"
    )


def _model_names(value: list[str]) -> list[str]:
    for name in value:
        if not name.isprintable():
            raise PydanticCustomError("printable", "each model name: printable characters only")
    if len(set(value)) != len(value):
        raise PydanticCustomError("unique", "each model name once")
    return value


CustomModels = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=MAX_CUSTOM_MODEL)]],
    Field(min_length=1, max_length=200),
    AfterValidator(_model_names),
]


class CustomProviderBody(Request):
    """A custom provider as a PUT sends it. Absent `apiKey`: the endpoint takes no key (a replace never keeps a
    key for a new URL). Absent `models`: the endpoint's own model list, read by the check on save."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"baseUrl": "https://openrouter.ai/api/v1", "apiKey": "sk-or-v1-your-key"},
                {"baseUrl": "https://llm.example.com/v1", "models": ["llama-3.3-70b"]},
            ]
        }
    )

    baseUrl: str = Field(
        min_length=1,
        max_length=4096,  # the guard's own rule (2,048) answers with its message; this only bounds the work
        description="The OpenAI-compatible base URL: https, public, no user info, query or fragment",
    )
    apiKey: (
        Annotated[SecretStr, Field(min_length=1, json_schema_extra={"maxLength": 512}), AfterValidator(_key_length)]
        | None
    ) = None
    models: CustomModels | None = Field(
        default=None, description="The model names to offer; absent: the ones GET {baseUrl}/models lists"
    )


def _subject(value: str) -> str:
    if not is_subject(value):
        raise PydanticCustomError("subject", "must be a printable user id (the JWT sub claim)")
    return value


class ResolveEvent(Request):
    """What the builder's services send ResolveFunction (SPEC section 11). `agentAction` (one string) is
    accepted for `agentActions`."""

    userId: Annotated[str, Field(strict=True, min_length=1, max_length=MAX_SUBJECT_LENGTH), AfterValidator(_subject)]
    agentActions: Annotated[list[AgentActionName], Field(min_length=1, max_length=len(CATALOG.actions))]

    @model_validator(mode="before")
    @classmethod
    def _one_action(cls, data: Any) -> Any:
        if isinstance(data, dict) and "agentAction" in data and "agentActions" not in data:
            return {**data, "agentActions": [data["agentAction"]]}
        return data

    @model_validator(mode="after")
    def _no_repeats(self) -> ResolveEvent:
        seen: set[str] = set()
        for action in self.agentActions:
            if action in seen:
                raise PydanticCustomError("repeated", "agentActions: '{action}' is repeated", {"action": str(action)})
            seen.add(action)
        return self


# ---- responses ------------------------------------------------------------------------------------------


class ModelConfig(Compact):
    name: str
    reasoning_effort: ReasoningEffort | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    fallbackModel: str | None = None


class MergedConfig(ModelConfig):
    isUserOverride: bool
    userConfigId: str | None = None
    inactiveReason: str | None = Field(
        default=None, description="Why the stored override is not in effect (it stays stored); absent when it is"
    )


class ConfigRow(Schema):
    id: str
    userId: str
    agentActionName: str
    modelName: str
    maxTokens: int | None
    temperature: float | None
    reasoningEffort: ReasoningEffort | None
    fallbackModel: str | None
    providerOverride: ProviderOverride | None
    isActive: bool
    createdAt: str
    updatedAt: str


class ConstraintInfo(Schema):
    enabled: bool
    allowedModels: list[str]


class AgentInfo(Schema):
    key: str
    description: str
    constraint: ConstraintInfo | None


class ModelInfo(Schema):
    id: str
    name: str
    provider: str | None
    size: Literal["lite", "regular", "large"]
    contextSize: int


class KeyStatus(Compact):
    provider: str
    hasValidKey: bool = Field(description="A key is stored and has not expired")
    keyPreview: str | None = None
    updatedAt: str | None = Field(default=None, description="When the key was stored")
    verifiedAt: str | None = Field(default=None, description="When the provider accepted the key, at its save")
    lastUsedAt: str | None = Field(default=None, description="When a model test or a resolve last used the key")
    expiresAt: str | None = Field(default=None, description="When the key stops counting")


class SavedKey(KeyStatus):
    verifyError: str | None = Field(
        default=None, description="Why the provider could not check the key (it was stored unverified)"
    )


class ProviderStatus(Compact):
    provider: str
    hasValidKey: bool
    keyPreview: str | None = None


class TestResult(Compact):
    success: bool
    responsePreview: Annotated[str, Field(max_length=100)] | None = None
    error: str | None = None
    latencyMs: int
    modelUsed: str
    keySource: Literal["user", "platform"] | None = None


class ConfigsData(Schema):
    configs: dict[str, MergedConfig]
    defaults: dict[str, ModelConfig]
    message: str


class DefaultsData(Schema):
    defaults: dict[str, ModelConfig]
    agents: list[AgentInfo]
    models: list[ModelInfo]
    message: str


class ByokProvidersData(Schema):
    providers: list[ProviderStatus]
    modelsByProvider: dict[str, list[str]]
    platformModels: list[str]


class ConfigData(Schema):
    config: MergedConfig
    defaultConfig: ModelConfig
    message: str


class SavedConfigData(Schema):
    config: ConfigRow
    message: str


class MessageData(Schema):
    message: str


class TestData(Schema):
    testResult: TestResult
    message: str


class ResetData(Schema):
    resetCount: int
    message: str


class KeysData(Schema):
    providers: list[KeyStatus]


class KeyDeletedData(Schema):
    message: str
    affectedActions: list[str] = Field(
        description="The actions whose merged config changed: an override now inactive, or a fallback now the default"
    )


class CustomProvider(Compact):
    """A user's own OpenAI-compatible endpoint (SPEC section 13)."""

    name: str
    baseUrl: str
    keyPreview: str | None = None
    models: list[str]
    verifiedAt: str | None = None
    verifyError: str | None = None
    updatedAt: str


class CustomProvidersData(Schema):
    providers: list[CustomProvider]


AUDIT_OPTIONAL = frozenset({"requestId", "sourceIp", "userAgent", "reason"})


class AuditEntry(Schema):
    """One change to what a user stored (SPEC section 12). `before` and `after` are wire objects (ConfigRow,
    KeyStatus, CustomProvider, or a list of ConfigRow for a reset of all) or null; a key only as its preview."""

    id: str
    at: str = Field(description="When the change committed (ISO-8601, milliseconds, UTC)")
    actor: ActorKind
    action: AuditAction
    target: dict[str, Any] = Field(description="{agentAction}, {agentActions: [...]}, {provider} or {customProvider}")
    before: Any = None
    after: Any = None
    requestId: str | None = None
    sourceIp: str | None = None
    userAgent: str | None = None
    reason: str | None = Field(default=None, description="The sweep's reason code")

    @model_serializer(mode="wrap")
    def _drop_absent(self, handler: SerializerFunctionWrapHandler):  # type: ignore[no-untyped-def]  # noqa: ANN202
        # `before` and `after` are always there (null when there was none); the request's fields only when known.
        return {k: v for k, v in handler(self).items() if v is not None or k not in AUDIT_OPTIONAL}


class AuditData(Compact):
    entries: list[AuditEntry]
    nextCursor: str | None = Field(default=None, description="Pass as `cursor` for the next page; absent at the end")


class ExportData(Schema):
    userId: str
    exportedAt: str
    configs: list[ConfigRow]
    keys: list[KeyStatus] = Field(description="Each stored key's status; the key itself only as its preview")
    customProviders: list[CustomProvider]
    audit: list[AuditEntry] = Field(description="Every audit entry within its retention, newest first")


T = TypeVar("T")


class Ok[T](Schema):
    """The success envelope of every route."""

    success: Literal[True] = True
    data: T


class ErrorBody(Schema):
    name: Literal[
        "ValidationError",
        "Unauthorized",
        "Forbidden",
        "NotFound",
        "MethodNotAllowed",
        "PreconditionFailed",
        "PayloadTooLarge",
        "TooManyRequests",
        "InternalError",
        "ServiceUnavailable",
    ]
    message: str


class ErrorEnvelope(Schema):
    success: Literal[False] = False
    error: ErrorBody
    message: str
