"""The DynamoDB table: the only module that knows its keys.

One partition per user holds everything of that user, so each route is one request:

    pk = USER#<sub>   sk = BYOK#<provider>     key status: provider, keyPreview, updatedAt (never the key)
                      sk = BYOKLOCK            short lease that serialises one user's key writes
                      sk = CONFIG#<action>     one override: the ConfigRow fields
    pk = SWEEP        sk = RUN#<event id>      checkpoint of one scheduled sweep (expires by TTL)

"BYOK#" sorts before "CONFIG#", so a scan meets a user's key status before that user's configs.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NamedTuple

from botocore.exceptions import ClientError

from modelconfig.errors import Conflict, ServiceUnavailable
from modelconfig.schemas import ConfigRow
from modelconfig.settings import settings
from modelconfig.storage.aws import dynamodb, error_code, unavailable_on_fault

USER = "USER#"
CONFIG = "CONFIG#"
KEY = "BYOK#"
KEY_LOCK = "BYOKLOCK"
SWEEP_PK = "SWEEP"
BATCH_SIZE = 25
BATCH_ATTEMPTS = 6

Item = dict[str, dict[str, Any]]


class KeyRecord(NamedTuple):
    provider: str
    preview: str
    updated_at: str


@dataclass(slots=True)
class UserItems:
    configs: dict[str, ConfigRow] = field(default_factory=dict)
    keys: dict[str, KeyRecord] = field(default_factory=dict)


class ItemKey(NamedTuple):
    """A table key as the sweep sees it: whose item, and which."""

    user_id: str
    sort_key: str

    @property
    def action(self) -> str | None:
        return self.sort_key.removeprefix(CONFIG) if self.sort_key.startswith(CONFIG) else None


# ---- item (de)serialisation ---------------------------------------------------------------------------


def _pk(user_id: str) -> dict[str, str]:
    return {"S": USER + user_id}


def _key(user_id: str, sort_key: str) -> Item:
    return {"pk": _pk(user_id), "sk": {"S": sort_key}}


def _s(value: str | None) -> dict[str, Any]:
    return {"NULL": True} if value is None else {"S": value}


def _n(value: float | None) -> dict[str, Any]:
    # repr() gives the shortest string that round-trips, which DynamoDB stores exactly.
    return {"NULL": True} if value is None else {"N": repr(value)}


def _get(item: Item, name: str) -> Any:
    attr = item.get(name)
    if attr is None or "NULL" in attr:
        return None
    if "S" in attr:
        return attr["S"]
    if "N" in attr:
        return Decimal(attr["N"])
    if "BOOL" in attr:
        return attr["BOOL"]
    return None


def _config_row(item: Item) -> ConfigRow:
    max_tokens = _get(item, "maxTokens")
    temperature = _get(item, "temperature")
    return ConfigRow(
        id=_get(item, "id"),
        userId=_get(item, "userId"),
        agentActionName=_get(item, "agentActionName"),
        modelName=_get(item, "modelName"),
        maxTokens=None if max_tokens is None else int(max_tokens),
        temperature=None if temperature is None else float(temperature),
        reasoningEffort=_get(item, "reasoningEffort"),
        fallbackModel=_get(item, "fallbackModel"),
        isActive=bool(_get(item, "isActive")),
        createdAt=_get(item, "createdAt"),
        updatedAt=_get(item, "updatedAt"),
    )


def _key_record(item: Item) -> KeyRecord:
    return KeyRecord(
        provider=_get(item, "provider"), preview=_get(item, "keyPreview"), updated_at=_get(item, "updatedAt")
    )


def _table() -> str:
    return settings().table_name


# ---- one user's partition -----------------------------------------------------------------------------


def query_user(user_id: str, *, prefix: str = "") -> UserItems:
    """Every item of one user whose sort key starts with `prefix`, in one Query (a page holds 1 MB, far more
    than a user's 13 configs and 4 keys; the loop is there for correctness, not for cost)."""
    params: dict[str, Any] = {
        "TableName": _table(),
        "KeyConditionExpression": "pk = :pk" + (" AND begins_with(sk, :prefix)" if prefix else ""),
        "ExpressionAttributeValues": {":pk": _pk(user_id)} | ({":prefix": {"S": prefix}} if prefix else {}),
    }
    found = UserItems()
    with unavailable_on_fault("the config store"):
        while True:
            page = dynamodb().query(**params)
            for item in page.get("Items", []):
                _add(found, item)
            if "LastEvaluatedKey" not in page:
                return found
            params["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def query_configs(user_id: str) -> dict[str, ConfigRow]:
    return query_user(user_id, prefix=CONFIG).configs


def query_keys(user_id: str) -> dict[str, KeyRecord]:
    return query_user(user_id, prefix=KEY).keys


def _add(found: UserItems, item: Item) -> None:
    sk = item["sk"]["S"]
    if sk.startswith(CONFIG):
        found.configs[sk.removeprefix(CONFIG)] = _config_row(item)
    elif sk.startswith(KEY):
        record = _key_record(item)
        found.keys[record.provider] = record


def get_config(user_id: str, action: str) -> ConfigRow | None:
    with unavailable_on_fault("the config store"):
        item = dynamodb().get_item(TableName=_table(), Key=_key(user_id, CONFIG + action)).get("Item")
    return _config_row(item) if item else None


def _config_attributes(user_id: str, row: ConfigRow) -> Item:
    """The stored attributes of one override, without its key."""
    return {
        "id": _s(row.id),
        "userId": _s(user_id),
        "agentActionName": _s(row.agentActionName),
        "modelName": _s(row.modelName),
        "maxTokens": _n(row.maxTokens),
        "temperature": _n(row.temperature),
        "reasoningEffort": _s(row.reasoningEffort),
        "fallbackModel": _s(row.fallbackModel),
        "isActive": {"BOOL": row.isActive},
        "createdAt": _s(row.createdAt),
        "updatedAt": _s(row.updatedAt),
    }


def save_config(user_id: str, row: ConfigRow) -> ConfigRow:
    """Replace the override in one UpdateItem; `id` and `createdAt` of an existing override survive."""
    attributes = _config_attributes(user_id, row)
    kept = ("id", "createdAt")
    assignments = ", ".join(f"#{a} = if_not_exists(#{a}, :{a})" if a in kept else f"#{a} = :{a}" for a in attributes)
    with unavailable_on_fault("the config store"):
        item = dynamodb().update_item(
            TableName=_table(),
            Key=_key(user_id, CONFIG + row.agentActionName),
            UpdateExpression="SET " + assignments,
            ExpressionAttributeNames={f"#{a}": a for a in attributes},
            ExpressionAttributeValues={f":{a}": v for a, v in attributes.items()},
            ReturnValues="ALL_NEW",
        )["Attributes"]
    return _config_row(item)


def _config_item(row: ConfigRow) -> Item:
    return _key(row.userId, CONFIG + row.agentActionName) | _config_attributes(row.userId, row)


def put_configs(rows: Sequence[ConfigRow], *, sleep: Any = time.sleep) -> int:
    """Write whole override rows, 25 per BatchWriteItem (imports, seeding and benchmarks). Returns the calls."""
    calls = 0
    for start in range(0, len(rows), BATCH_SIZE):
        requests = [{"PutRequest": {"Item": _config_item(r)}} for r in rows[start : start + BATCH_SIZE]]
        calls += _batch_write(requests, sleep)
    return calls


def delete_config(user_id: str, action: str) -> bool:
    """Delete one override in one request; True when there was one."""
    with unavailable_on_fault("the config store"):
        old = dynamodb().delete_item(TableName=_table(), Key=_key(user_id, CONFIG + action), ReturnValues="ALL_OLD")
    return "Attributes" in old


def config_keys(user_id: str) -> list[ItemKey]:
    """The keys (only) of one user's overrides, in one Query."""
    params: dict[str, Any] = {
        "TableName": _table(),
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
        "ExpressionAttributeValues": {":pk": _pk(user_id), ":prefix": {"S": CONFIG}},
        "ProjectionExpression": "sk",
    }
    keys: list[ItemKey] = []
    with unavailable_on_fault("the config store"):
        while True:
            page = dynamodb().query(**params)
            keys.extend(ItemKey(user_id, item["sk"]["S"]) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return keys
            params["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def delete_items(keys: Sequence[ItemKey], *, sleep: Any = time.sleep) -> int:
    """Delete items, 25 per BatchWriteItem. Returns the number of calls."""
    calls = 0
    for start in range(0, len(keys), BATCH_SIZE):
        requests = [{"DeleteRequest": {"Key": _key(k.user_id, k.sort_key)}} for k in keys[start : start + BATCH_SIZE]]
        calls += _batch_write(requests, sleep)
    return calls


def _batch_write(requests: list[dict[str, Any]], sleep: Any) -> int:
    """One batch of at most 25 writes, retrying unprocessed ones with exponential backoff. Items still
    unprocessed after the retries raise ServiceUnavailable."""
    for attempt in range(BATCH_ATTEMPTS):
        with unavailable_on_fault("the config store"):
            result = dynamodb().batch_write_item(RequestItems={_table(): requests})
        requests = result.get("UnprocessedItems", {}).get(_table(), [])
        if not requests:
            return attempt + 1
        if attempt + 1 < BATCH_ATTEMPTS:
            sleep(min(0.05 * 2**attempt, 1.0))
    raise ServiceUnavailable("the config store kept some writes unprocessed; retry shortly")


# ---- key status and the per-user key lease ------------------------------------------------------------


def _key_item(user_id: str, record: KeyRecord) -> Item:
    return _key(user_id, KEY + record.provider) | {
        "provider": _s(record.provider),
        "keyPreview": _s(record.preview),
        "updatedAt": _s(record.updated_at),
    }


def acquire_key_lock(user_id: str, token: str, *, lease_seconds: int, wait_seconds: float) -> bool:
    """Take the user's key-write lease, waiting up to `wait_seconds` for a holder to finish. Returns True when
    the lease was taken over from a holder that let it expire (its change may be half done)."""
    deadline = time.monotonic() + wait_seconds
    delay = 0.02
    while True:
        now = int(time.time())
        try:
            with unavailable_on_fault("the key store"):
                old = dynamodb().put_item(
                    TableName=_table(),
                    Item=_key(user_id, KEY_LOCK) | {"token": _s(token), "expiresAt": {"N": str(now + lease_seconds)}},
                    ConditionExpression="attribute_not_exists(pk) OR expiresAt < :now",
                    ExpressionAttributeValues={":now": {"N": str(now)}},
                    ReturnValues="ALL_OLD",
                )
            return "Attributes" in old
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
        if time.monotonic() + delay > deadline:
            raise Conflict("another change of your keys is in progress; retry shortly")
        time.sleep(delay)
        delay = min(delay * 2, 0.25)


def release_key_lock(user_id: str, token: str) -> None:
    """Give the lease back without a change (best effort: it expires on its own)."""
    try:
        with unavailable_on_fault("the key store"):
            dynamodb().delete_item(
                TableName=_table(),
                Key=_key(user_id, KEY_LOCK),
                ConditionExpression="#t = :t",
                ExpressionAttributeNames={"#t": "token"},
                ExpressionAttributeValues={":t": _s(token)},
            )
    except (ClientError, ServiceUnavailable):
        pass


def commit_key_status(user_id: str, token: str, *, put: Iterable[KeyRecord] = (), delete: Iterable[str] = ()) -> None:
    """Write key status and release the lease in one transaction, so status only changes while the lease
    that guarded the secret write is still ours."""
    items: list[dict[str, Any]] = [{"Put": {"TableName": _table(), "Item": _key_item(user_id, r)}} for r in put]
    items += [{"Delete": {"TableName": _table(), "Key": _key(user_id, KEY + p)}} for p in delete]
    items.append(
        {
            "Delete": {
                "TableName": _table(),
                "Key": _key(user_id, KEY_LOCK),
                "ConditionExpression": "#t = :t",
                "ExpressionAttributeNames": {"#t": "token"},
                "ExpressionAttributeValues": {":t": _s(token)},
            }
        }
    )
    try:
        with unavailable_on_fault("the key store"):
            dynamodb().transact_write_items(TransactItems=items)
    except ClientError as exc:
        if error_code(exc) == "TransactionCanceledException":
            raise Conflict("your key change took too long and was overtaken; retry") from exc
        raise


# ---- whole-table access for the sweep -----------------------------------------------------------------


class ScanPage(NamedTuple):
    """One page of user items in scan order (a user's BYOK# items come before that user's CONFIG# items)."""

    items: list[tuple[ItemKey, ConfigRow | KeyRecord]]
    cursor: str | None  # where the next page starts; None when the scan is complete


def scan_page(cursor: str | None, *, limit: int = 1000) -> ScanPage:
    params: dict[str, Any] = {"TableName": _table(), "Limit": limit}
    if cursor:
        params["ExclusiveStartKey"] = json.loads(cursor)
    with unavailable_on_fault("the config store"):
        page = dynamodb().scan(**params)
    items: list[tuple[ItemKey, ConfigRow | KeyRecord]] = []
    for item in page.get("Items", []):
        pk, sk = item["pk"]["S"], item["sk"]["S"]
        if not pk.startswith(USER):
            continue
        key = ItemKey(pk.removeprefix(USER), sk)
        if sk.startswith(CONFIG):
            items.append((key, _config_row(item)))
        elif sk.startswith(KEY):
            items.append((key, _key_record(item)))
    last = page.get("LastEvaluatedKey")
    return ScanPage(items, json.dumps(last, sort_keys=True) if last else None)


@dataclass(slots=True)
class Checkpoint:
    """Progress of one sweep run, saved between pages so a run can stop before its deadline and go on."""

    run_id: str
    cursor: str | None = None
    done: bool = False
    scanned: int = 0
    reset: int = 0
    users_touched: int = 0
    last_user_touched: str | None = None
    reset_by_reason: dict[str, int] = field(default_factory=dict)


def load_checkpoint(run_id: str) -> Checkpoint | None:
    with unavailable_on_fault("the config store"):
        item = (
            dynamodb()
            .get_item(
                TableName=_table(), Key={"pk": {"S": SWEEP_PK}, "sk": {"S": "RUN#" + run_id}}, ConsistentRead=True
            )
            .get("Item")
        )
    if not item:
        return None
    return Checkpoint(run_id=run_id, **json.loads(item["state"]["S"]))


def save_checkpoint(checkpoint: Checkpoint, *, ttl_seconds: int = 7 * 86400) -> None:
    state = {k: getattr(checkpoint, k) for k in checkpoint.__slots__ if k != "run_id"}  # type: ignore[attr-defined]
    with unavailable_on_fault("the config store"):
        dynamodb().put_item(
            TableName=_table(),
            Item={
                "pk": {"S": SWEEP_PK},
                "sk": {"S": "RUN#" + checkpoint.run_id},
                "state": {"S": json.dumps(state, sort_keys=True)},
                "expiresAt": {"N": str(int(time.time()) + ttl_seconds)},
            },
        )
