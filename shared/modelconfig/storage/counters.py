"""Per-user counters for the limits of SPEC section 10: `LIMIT#<name>#<window start>` in the user's partition.

Each counter belongs to one fixed window (a minute, a UTC day), named in its sort key, so a counter never has
to be reset and its correctness never depends on when DynamoDB's TTL reaps it (TTL only tidies up, days
later). Taking one unit is one conditional write that adds 1 only while the count is under the limit, so
concurrent requests can never overshoot; two counters (a platform-key test) go in one transaction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from botocore.exceptions import ClientError

from modelconfig.errors import Conflict
from modelconfig.records import Counter
from modelconfig.storage import dynamo
from modelconfig.storage.aws import CONFIG_STORE, dynamodb, error_code, unavailable_on_fault

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import UpdateTypeDef

PREFIX = "LIMIT#"
KEEP_SECONDS = 3600  # how long past its window a counter item is kept (TTL); only tidiness depends on it


class Spent(NamedTuple):
    """A limit with no unit left in this window."""

    counter: Counter
    retry_after: int  # seconds until the window ends


def _window(counter: Counter, now: float) -> tuple[int, int]:
    start = int(now // counter.window_seconds) * counter.window_seconds
    return start, start + counter.window_seconds


def _update(user_id: str, counter: Counter, now: float) -> UpdateTypeDef:
    start, end = _window(counter, now)
    return {
        "TableName": dynamo.table_name(),
        "Key": dynamo.item_key(user_id, f"{PREFIX}{counter.name}#{start}"),
        "UpdateExpression": "ADD hits :one SET expiresAt = :expires",
        "ConditionExpression": "attribute_not_exists(hits) OR hits < :limit",
        "ExpressionAttributeValues": {
            ":one": {"N": "1"},
            ":limit": {"N": str(counter.limit)},
            ":expires": {"N": str(end + KEEP_SECONDS)},
        },
    }


def take(user_id: str, counters: list[Counter], now: float) -> Spent | None:
    """Count one use against every counter at once, or against none: the first spent limit when any is."""
    if not counters:
        return None
    try:
        with unavailable_on_fault(CONFIG_STORE):
            if len(counters) == 1:
                dynamodb().update_item(**_update(user_id, counters[0], now))
            else:
                dynamodb().transact_write_items(TransactItems=[{"Update": _update(user_id, c, now)} for c in counters])
    except ClientError as exc:
        code = error_code(exc)
        if code == "ConditionalCheckFailedException":
            return _spent(counters[0], now)
        if code == "TransactionCanceledException":
            reasons = exc.response.get("CancellationReasons") or []
            failed = [c for c, r in zip(counters, reasons, strict=False) if r.get("Code") == "ConditionalCheckFailed"]
            if failed:
                return max((_spent(c, now) for c in failed), key=lambda s: s.retry_after)
            raise Conflict("another request of yours is being counted; retry shortly") from exc
        raise
    return None


def _spent(counter: Counter, now: float) -> Spent:
    _, end = _window(counter, now)
    return Spent(counter, max(1, int(end - now + 0.999)))
