"""The scheduled reset sweep (SPEC section 7): reset (delete) stored overrides that can no longer work.

An override can no longer work when its model or fallback is not in the catalog, violates its action's
constraint, or belongs to a provider that is neither platform-enabled nor covered by a key the user still
has. A run pages through the whole table with bounded memory, deletes in batches of 25, saves a checkpoint
after every page, and stops before its deadline with `complete: false`; the same run id carries on from the
checkpoint. A run that already finished answers its stored summary again, so a duplicate event does nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from modelconfig import access
from modelconfig.catalog import CATALOG
from modelconfig.errors import InvalidInput
from modelconfig.schemas import ConfigRow
from modelconfig.storage import table
from modelconfig.storage.table import BATCH_SIZE, Checkpoint, ItemKey, KeyRecord

MAX_TARGETED_USERS = 1000


class SweepRequest(NamedTuple):
    run_id: str
    user_ids: tuple[str, ...] | None = None  # an operator's targeted reset


def parse_request(event: Any, fallback_run_id: str) -> SweepRequest:
    """Read a scheduled (EventBridge or Scheduler), direct or continuation payload."""
    event = event if isinstance(event, dict) else {}
    detail = event.get("detail") if isinstance(event.get("detail"), dict) else {}
    raw_ids = detail.get("userIds", event.get("userIds"))
    user_ids: tuple[str, ...] | None = None
    if raw_ids is not None:
        if (
            not isinstance(raw_ids, list)
            or not 0 < len(raw_ids) <= MAX_TARGETED_USERS
            or not all(isinstance(u, str) and u.strip() for u in raw_ids)
        ):
            raise InvalidInput(f"userIds must be a list of 1 to {MAX_TARGETED_USERS} non-empty user id strings")
        user_ids = tuple(dict.fromkeys(raw_ids))
    run_id = event.get("runId") or event.get("scheduledTime") or event.get("id") or fallback_run_id
    return SweepRequest(run_id=str(run_id)[:200], user_ids=user_ids)


def verdict(action_name: str, row: ConfigRow, user_keys: frozenset[str], enabled: frozenset[str]) -> str | None:
    """Why an override can no longer work, or None when it still works."""
    action = CATALOG.actions.get(action_name)
    if action is None:
        return "action_not_in_catalog"
    for role, model_id in (("model", row.modelName), ("fallback", row.fallbackModel)):
        if model_id is None:
            continue
        model = CATALOG.models.get(model_id)
        if model is None:
            return f"{role}_not_in_catalog"
        if not action.allows(model_id):
            return f"{role}_not_allowed"
        if model.provider is not None and model.provider not in enabled and model.provider not in user_keys:
            return f"{role}_no_key_access"
    return None


@dataclass
class _Sweeper:
    checkpoint: Checkpoint
    enabled: frozenset[str]
    pending: list[ItemKey] = field(default_factory=list)
    reasons: Counter[str] = field(default_factory=Counter)
    user: str | None = None
    user_keys: set[str] = field(default_factory=set)
    user_keys_known: bool = False

    def visit(self, key: ItemKey, value: ConfigRow | KeyRecord, *, resumed_mid_partition: bool) -> None:
        if key.user_id != self.user:
            self.user, self.user_keys = key.user_id, set()
            # A user's BYOK# items sort before their CONFIG# items, so from the start of a partition the key
            # status is complete by the first config. Only a partition cut by a resume needs a read.
            self.user_keys_known = not resumed_mid_partition
        if isinstance(value, KeyRecord):
            self.user_keys.add(value.provider)
            return
        if key.action is None:
            return
        if not self.user_keys_known:
            self.user_keys = set(table.query_keys(key.user_id))
            self.user_keys_known = True
        self.checkpoint.scanned += 1
        reason = verdict(key.action, value, frozenset(self.user_keys), self.enabled)
        if reason is not None:
            self.reasons[reason] += 1
            self.pending.append(key)
            if len(self.pending) >= BATCH_SIZE:
                self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        table.delete_items(self.pending)
        c = self.checkpoint
        for k in self.pending:
            if k.user_id != c.last_user_touched:
                c.users_touched += 1
                c.last_user_touched = k.user_id
        c.reset += len(self.pending)
        for reason, n in self.reasons.items():
            c.reset_by_reason[reason] = c.reset_by_reason.get(reason, 0) + n
        self.pending.clear()
        self.reasons.clear()


def summary(c: Checkpoint, *, complete: bool, **extra: Any) -> dict[str, Any]:
    return {
        "runId": c.run_id,
        "scanned": c.scanned,
        "reset": c.reset,
        "resetByReason": dict(sorted(c.reset_by_reason.items())),
        "usersTouched": c.users_touched,
        "complete": complete,
        **extra,
    }


def sweep(
    request: SweepRequest,
    *,
    time_left_ms: Callable[[], int],
    reserve_ms: int = 30_000,
    page_size: int = 1000,
    continue_later: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run (or carry on) one sweep. Stops with complete: false when less than `reserve_ms` is left, after
    saving its checkpoint and asking `continue_later` to start the same run again."""
    if request.user_ids is not None:
        return _targeted(request.run_id, request.user_ids)
    checkpoint = table.load_checkpoint(request.run_id)
    if checkpoint is not None and checkpoint.done:
        return summary(checkpoint, complete=True, duplicate=True)
    resumed = checkpoint is not None
    checkpoint = checkpoint or Checkpoint(run_id=request.run_id)
    sweeper = _Sweeper(checkpoint, access.platform_providers())
    first_partition: str | None = None
    while True:
        if time_left_ms() < reserve_ms:
            table.save_checkpoint(checkpoint)
            if continue_later is not None:
                continue_later(request.run_id)
            return summary(checkpoint, complete=False)
        page = table.scan_page(checkpoint.cursor, limit=page_size)
        for key, value in page.items:
            if resumed and first_partition is None:
                first_partition = key.user_id
            cut = resumed and key.user_id == first_partition
            sweeper.visit(key, value, resumed_mid_partition=cut)
        sweeper.flush()
        checkpoint.cursor = page.cursor
        if page.cursor is None:
            checkpoint.done = True
            table.save_checkpoint(checkpoint)
            return summary(checkpoint, complete=True)
        table.save_checkpoint(checkpoint)


def _targeted(run_id: str, user_ids: Sequence[str]) -> dict[str, Any]:
    checkpoint = Checkpoint(run_id=run_id)
    for user_id in user_ids:
        keys = table.config_keys(user_id)
        checkpoint.scanned += len(keys)
        if keys:
            table.delete_items(keys)
            checkpoint.reset += len(keys)
            checkpoint.users_touched += 1
    if checkpoint.reset:
        checkpoint.reset_by_reason["targeted"] = checkpoint.reset
    return summary(checkpoint, complete=True)
