"""What a user, or an auditor, asks of what the service holds (SPEC section 12): the audit trail of every change,
everything stored about the user as an export, and its erasure when the account goes.

The entries themselves are written by each change, in its own transaction (`storage.audit.entry`); this
module only reads them, and erases."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from modelconfig import clock, configs, custom, keys
from modelconfig.catalog import CATALOG
from modelconfig.errors import InvalidInput
from modelconfig.identity import is_subject
from modelconfig.observability import logger
from modelconfig.schemas import AuditData, AuditEntry, ExportData
from modelconfig.storage import audit, erasure, partitions

ERASE_PAGE = 1000  # items read and deleted between two looks at the deadline


def audit_page(user_id: str, limit: int = 50, cursor: str | None = None) -> AuditData:
    """One page of the caller's own audit entries, newest first: one Query."""
    found = audit.page(user_id, limit, cursor)
    return AuditData(entries=[AuditEntry.model_validate(e) for e in found.entries], nextCursor=found.cursor)


def export(user_id: str) -> ExportData:
    """Everything stored about the caller, keys as previews only: one Query of the configs, key status and custom
    providers, and
    one Query per page of the audit trail (complete within its retention)."""
    stored = partitions.query(user_id, consistent=True)
    now = clock.now_iso()
    return ExportData(
        userId=user_id,
        exportedAt=now,
        configs=[configs.wire_row(r) for _, r in sorted(stored.overrides.items())],
        keys=[keys.status(p, r, now) for p, r in sorted(stored.key_status.items()) if p in CATALOG.providers],
        customProviders=[custom.wire_provider(r) for _, r in sorted(stored.custom.items())],
        audit=[AuditEntry.model_validate(e) for e in audit.entries(user_id)],
    )


# ---- erasure --------------------------------------------------------------------------------------------------


class EraseRequest(NamedTuple):
    user_id: str


def parse_erase(event: Any) -> EraseRequest:
    """`{"userId": ...}` from a direct Invoke (or a continuation), or an EventBridge event's `detail.userId`."""
    event = event if isinstance(event, dict) else {}
    detail = event.get("detail")
    user_id = detail.get("userId") if isinstance(detail, dict) else event.get("userId")
    if not isinstance(user_id, str) or not is_subject(user_id):
        raise InvalidInput("userId: the user's id (the JWT sub), 1 to 255 characters, as a string")
    return EraseRequest(user_id)


def erase(
    request: EraseRequest,
    *,
    time_left_ms: Callable[[], int],
    reserve_ms: int = 20_000,
    continue_later: Callable[[EraseRequest], None] | None = None,
) -> dict[str, Any]:
    """Delete everything stored about one user: the secret first (the keys), then every item of the user in
    both tables, page by page. Before its deadline it stops with `complete: false` and asks `continue_later`
    to run again; a second run finds what is left, so it is safe to run twice. Each run adds its counts to
    one receipt that names the user only by a SHA-256 of the id."""
    user_id = request.user_id
    secret_deleted = erasure.delete_secret(user_id)
    deleted = 0
    complete = False
    while time_left_ms() >= reserve_ms:
        removed = erasure.delete_some(user_id, ERASE_PAGE)
        deleted += removed
        if removed == 0:
            complete = True
            break
    erasure.receipt(user_id, items=deleted, secret_deleted=secret_deleted, complete=complete)
    logger.info(
        "erasure" if complete else "erasure paused",
        extra={"user": audit.digest(user_id), "itemsDeleted": deleted, "secretDeleted": secret_deleted},
    )
    if not complete and continue_later is not None:
        continue_later(request)
    return {"itemsDeleted": deleted, "secretDeleted": secret_deleted, "complete": complete}
