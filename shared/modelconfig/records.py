"""The domain's own records: what the service stores, as the domain reads it. Storage maps table items to
these and back (`modelconfig.storage`); the wire models are `modelconfig.schemas`. Every module imports its
records from here, so no domain module takes its types from storage."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

MASK = "****"


class Override(NamedTuple):
    """One stored override of a user's agent action (the wire shape is schemas.ConfigRow)."""

    id: str
    user_id: str
    action: str
    model: str
    max_tokens: int | None
    temperature: float | None
    reasoning_effort: str | None
    fallback: str | None
    provider_override: str | None
    created_at: str
    updated_at: str
    revision: str | None = None  # a new one on every write: the override's ETag (None: written before they were)


class KeyRecord(NamedTuple):
    """The status of one stored key (never the key). Times are the domain clock's ISO strings, which sort as
    they compare."""

    provider: str
    preview: str
    updated_at: str  # when the key was stored: a resolve's cached secret is good only while this is unchanged
    verified_at: str | None = None  # when the provider last accepted the key at its save
    last_used_at: str | None = None  # when a test or a resolve last sent or served the key
    expires_at: str | None = None  # when the key stops counting; None: never

    def live(self, now_iso: str) -> bool:
        """Stored and not expired: the only keys any rule counts."""
        return self.expires_at is None or self.expires_at > now_iso


class CustomProviderRecord(NamedTuple):
    """One of a user's own OpenAI-compatible endpoints (SPEC section 13; the wire shape is
    schemas.CustomProvider). Its key, if any, lives in the user's secret under `custom_key_name(name)`."""

    name: str
    base_url: str  # as the guard normalised it, no trailing slash
    models: tuple[str, ...]  # the model names the endpoint serves (its own ids, without `custom/<name>/`)
    updated_at: str
    preview: str | None = None  # the key's preview; None: the endpoint takes no key
    verified_at: str | None = None  # when the endpoint last answered its model list with this key
    verify_error: str | None = None  # why the check on save failed, when it did


CUSTOM = "custom"  # the first segment of a custom provider's provider id and of its models' ids


def custom_provider_id(name: str) -> str:
    """The provider id of a user's custom provider (`custom/<name>`): also its key's name in the user's secret,
    which no catalog provider can take (catalog ids have no '/')."""
    return f"{CUSTOM}/{name}"


def custom_model_id(name: str, model: str) -> str:
    return f"{CUSTOM}/{name}/{model}"


def split_custom(model_id: str) -> tuple[str, str] | None:
    """(provider name, model) of a `custom/<name>/<model>` id; None for any other id."""
    head, _, rest = model_id.partition("/")
    name, _, model = rest.partition("/")
    return (name, model) if head == CUSTOM and name and model else None


def preview(key: str) -> str:
    """The first and last min(4, len // 6) characters around a fixed mask: at most a third of the key, and the
    mask's fixed width does not reveal the key's length."""
    n = min(4, len(key) // 6)
    return f"{key[:n]}{MASK}{key[-n:] if n else ''}"


ActorKind = Literal["user", "sweep", "operator"]


class Actor(NamedTuple):
    """Who made a change, as its audit entry records it: the user (with the request that carried it), the
    scheduled sweep, or an operator's targeted reset."""

    kind: ActorKind
    request_id: str | None = None
    source_ip: str | None = None
    user_agent: str | None = None


USER = Actor("user")  # the user, when no request context is at hand (a domain call outside a route)
SWEEP = Actor("sweep")
OPERATOR = Actor("operator")

AuditAction = Literal[
    "config.put",
    "config.delete",
    "config.reset_all",
    "key.put",
    "key.delete",
    "key.purge",
    "custom_provider.put",
    "custom_provider.delete",
    "sweep.reset",
]


class Change(NamedTuple):
    """One change to what a user has stored, as its audit entry records it. `before` and `after` are wire
    objects (ConfigRow, KeyStatus, as plain data) or None; a key appears in them only as its preview."""

    action: AuditAction
    target: dict[str, Any]
    before: Any
    after: Any
    reason: str | None = None


class Counter(NamedTuple):
    """A per-user limit: how many uses a window of `window_seconds` allows."""

    name: str  # e.g. "test", "platform-test", "key-write"
    limit: int
    window_seconds: int


@dataclass(slots=True)
class Checkpoint:
    """Progress of one sweep run, saved between pages so a run can stop before its deadline and go on."""

    run_id: str
    cursor: str | None = None
    done: bool = False
    scanned: int = 0
    reset: int = 0
    held: int = 0
    skipped: int = 0
    keys_purged: int = 0
    users_touched: int = 0
    last_user_touched: str | None = None
    reset_by_reason: dict[str, int] = field(default_factory=dict)
    baseline: list[str] | None = None  # the accepted platform providers when the run started (None: never known)
    held_providers: list[str] = field(default_factory=list)  # providers whose access resets this run held
