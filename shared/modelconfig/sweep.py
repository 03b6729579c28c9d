"""The scheduled reset sweep (SPEC section 7): reset (delete) stored overrides that can no longer work.

Why an override can no longer work is the access rule's answer (`access.first_denial`): its model or fallback
left the catalog, violates its action's constraint, or belongs to a provider that is neither platform-enabled
nor covered by a key the user still has. A run pages through the whole table with bounded memory, saves a
checkpoint after every page, and stops before its deadline with `complete: false`; the same run id carries
on from the checkpoint. A run that already finished answers its stored summary again.

Keys whose `expiresAt` has passed are deleted, secret and status (`keysPurged`); they counted as absent for
every rule from their expiry on, so the overrides they covered are judged without them.

Two guards keep a fault from wiping users' choices:
- Each reset is a delete conditional on the override being the one the scan read (`updatedAt`, `revision`), so
  an override saved or changed after the scan survives. It commits in one transaction with its audit entry
  (`actor: sweep`, the reason), so the trail records exactly the resets that happened.
- A breaker: resets for lost key access beyond `max(50, 10% of the overrides scanned so far)` in one run
  are held, not applied, and so are all of them when the platform keys secret cannot be read (a slip in
  that secret would otherwise reset every user's choices of that provider).
- A departed provider: every access reset of a provider that was platform-enabled at the last complete run
  and is not now is held, whatever their number (`heldProviders`). On a small deployment the breaker's floor
  of 50 is every user, so a readable slip (`{"google-ai-studio": ""}`) would pass it. Until a forced run, the
  departed provider stays in the accepted set, so the hold lasts across runs.
`{"force": true}` applies what either guard holds, and makes the providers of now the accepted set.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from modelconfig import access, clock, configs, keys
from modelconfig.access import Grants, IfUnreadable
from modelconfig.catalog import CATALOG
from modelconfig.errors import InvalidInput, ServiceUnavailable
from modelconfig.observability import logger
from modelconfig.records import OPERATOR, SWEEP, Change, Checkpoint, CustomProviderRecord, KeyRecord, Override
from modelconfig.storage import audit, overrides, partitions, sweeps

MAX_TARGETED_USERS = 1000
BREAKER_FLOOR = 50
BREAKER_SHARE = 0.10
ACCESS_REASON = "_no_key_access"


class SweepRequest(NamedTuple):
    run_id: str
    user_ids: tuple[str, ...] | None = None  # an operator's targeted reset
    force: bool = False  # apply resets for lost key access that the breaker would hold


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
    force = detail.get("force", event.get("force", False))
    if not isinstance(force, bool):
        raise InvalidInput("force must be true or false")
    return SweepRequest(run_id=str(run_id)[:200], user_ids=user_ids, force=force)


@dataclass
class _Sweeper:
    checkpoint: Checkpoint
    platform: frozenset[str] | None  # None: the platform keys secret could not be read
    force: bool = False
    resumed: bool = False  # carrying on from a checkpoint, whose cursor may fall inside a partition
    user: str | None = None
    user_keys: set[str] = field(default_factory=set)
    user_custom: dict[str, CustomProviderRecord] = field(default_factory=dict)
    user_keys_known: bool = False
    departed: frozenset[str] = frozenset()  # platform-enabled at the last complete run, not now
    pending: list[tuple[Override, access.Denial]] = field(default_factory=list)
    expired: dict[str, list[str]] = field(default_factory=dict)  # user -> providers of expired keys to purge
    now: str = field(default_factory=clock.now_iso)

    def visit(self, user_id: str, value: Override | KeyRecord | CustomProviderRecord) -> None:
        if user_id != self.user:
            # A user's BYOC# and BYOK# items sort before their CONFIG# items, so from the start of a partition the
            # key status and custom providers are complete by the first config. Only the first partition of a
            # resumed run may be cut by the checkpoint's cursor and needs a read.
            cut = self.resumed and self.user is None
            self.user, self.user_keys, self.user_custom = user_id, set(), {}
            self.user_keys_known = not cut
        if isinstance(value, CustomProviderRecord):
            self.user_custom[value.name] = value
            return
        if isinstance(value, KeyRecord):
            if value.live(self.now):
                self.user_keys.add(value.provider)
            else:
                self.expired.setdefault(user_id, []).append(value.provider)
            return
        if not self.user_keys_known:
            keys = partitions.query_keys(user_id)
            self.user_keys = set(access.live_providers(keys.key_status, self.now))
            self.user_custom = keys.custom
            self.user_keys_known = True
        self.checkpoint.scanned += 1
        grants = Grants(self.user_keys, platform=lambda: self.platform or frozenset(), custom=self.user_custom)
        found = access.first_denial(CATALOG.actions.get(value.action), value.model, value.fallback, grants)
        if found is not None:
            self.pending.append((value, found))

    def flush(self) -> None:
        c = self.checkpoint
        for row, found in self.pending:
            reason = found.reason
            if reason.endswith(ACCESS_REASON) and not self.force and self._holds(found.provider):
                c.held += 1
                continue
            change = Change("sweep.reset", {"agentAction": row.action}, configs.wire(row), None, reason)
            if not overrides.remove([row], audit.entry(row.user_id, SWEEP, change)):
                c.skipped += 1  # saved or changed since the scan read it: the user's newer choice stays
                continue
            c.reset += 1
            c.reset_by_reason[reason] = c.reset_by_reason.get(reason, 0) + 1
            if row.user_id != c.last_user_touched:
                c.users_touched += 1
                c.last_user_touched = row.user_id
        self.pending.clear()
        for user_id, providers in self.expired.items():
            try:
                c.keys_purged += len(keys.purge_expired(user_id, providers))
            except ServiceUnavailable as exc:  # the next run purges it: an expired key already counts as absent
                logger.warning("could not purge an expired key", extra={"reason": exc.message})
        self.expired.clear()

    def _holds(self, provider: str | None) -> bool:
        """Whether an access reset for `provider` is held: its provider left the platform list, or the breaker."""
        if provider in self.departed:
            if provider not in self.checkpoint.held_providers:
                self.checkpoint.held_providers = sorted([*self.checkpoint.held_providers, provider])
            return True
        return self._hold_access_resets()

    def _hold_access_resets(self) -> bool:
        if self.platform is None:
            return True
        applied = sum(n for r, n in self.checkpoint.reset_by_reason.items() if r.endswith(ACCESS_REASON))
        return applied >= max(BREAKER_FLOOR, BREAKER_SHARE * self.checkpoint.scanned)


def summary(c: Checkpoint, *, complete: bool, **extra: Any) -> dict[str, Any]:
    return {
        "runId": c.run_id,
        "scanned": c.scanned,
        "reset": c.reset,
        "resetByReason": dict(sorted(c.reset_by_reason.items())),
        "usersTouched": c.users_touched,
        "held": c.held,
        "skipped": c.skipped,
        "keysPurged": c.keys_purged,
        "heldProviders": list(c.held_providers),
        "complete": complete,
        **extra,
    }


def sweep(
    request: SweepRequest,
    *,
    time_left_ms: Callable[[], int],
    reserve_ms: int = 30_000,
    page_size: int = 1000,
    continue_later: Callable[[SweepRequest], None] | None = None,
) -> dict[str, Any]:
    """Run (or carry on) one sweep. Stops with complete: false when less than `reserve_ms` is left, after
    saving its checkpoint and asking `continue_later` to start the same run again."""
    if request.user_ids is not None:
        return _targeted(request.run_id, request.user_ids)
    checkpoint = sweeps.load_checkpoint(request.run_id)
    if checkpoint is not None and checkpoint.done:
        return summary(checkpoint, complete=True, duplicate=True)
    resumed = checkpoint is not None
    if checkpoint is None:
        baseline = sweeps.load_baseline()
        checkpoint = Checkpoint(run_id=request.run_id, baseline=sorted(baseline) if baseline is not None else None)
    platform = access.platform_providers(IfUnreadable.HOLD)  # None: unreadable, every access reset held
    departed = frozenset(checkpoint.baseline or ()) - platform if platform is not None else frozenset()
    sweeper = _Sweeper(checkpoint, platform, force=request.force, resumed=resumed, departed=departed)
    while True:
        if time_left_ms() < reserve_ms:
            sweeps.save_checkpoint(checkpoint)
            if continue_later is not None:
                continue_later(request)
            return summary(checkpoint, complete=False)
        page = sweeps.scan_page(checkpoint.cursor, limit=page_size)
        for key, value in page.items:
            sweeper.visit(key.user_id, value)
        sweeper.flush()
        checkpoint.cursor = page.cursor
        if page.cursor is None:
            checkpoint.done = True
            if platform is not None:  # what this run accepted; a held provider stays accepted until a force
                sweeps.save_baseline(platform if request.force else platform | departed)
            sweeps.save_checkpoint(checkpoint)
            return summary(checkpoint, complete=True)
        sweeps.save_checkpoint(checkpoint)


def _targeted(run_id: str, user_ids: Sequence[str]) -> dict[str, Any]:
    checkpoint = Checkpoint(run_id=run_id)
    for user_id in user_ids:
        count = configs.reset_all(user_id, OPERATOR, reason="targeted").resetCount
        checkpoint.scanned += count
        checkpoint.reset += count
        checkpoint.users_touched += 1 if count else 0
    if checkpoint.reset:
        checkpoint.reset_by_reason["targeted"] = checkpoint.reset
    return summary(checkpoint, complete=True)
