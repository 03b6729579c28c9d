"""`make run`'s data between restarts: the embedded moto's table items and user secrets, in `.local/state.json`
(ignored by git), saved after every write and loaded on start. `make run FRESH=1` starts empty.
`python -m infra.local_state dump` (`make dump`) prints what is stored, with every key masked.

The file holds local users' keys IN CLEAR, so it is its owner's alone from the moment it exists: it is created
0600 (never written first and narrowed after), in a folder made 0700. On load, its shape is checked, and so is
every secret's name (a user secret under the prefix, never the platform's): a damaged or foreign file stops
the start with one line that names it and says how to start fresh, instead of a traceback or a stray secret.

The platform keys secret is not saved: it comes from the environment on every start (keys or the stand-in).
"""

from __future__ import annotations

import functools
import json
import os
import re
import sys
import threading
from pathlib import Path
from typing import Any

from infra import runtime
from infra.cli import write_quietly

DEFAULT = runtime.ROOT / ".local" / "state.json"
_lock = threading.Lock()
_SECRET_NAME = re.compile(r"[A-Za-z0-9/_+=.@-]{1,512}")  # what Secrets Manager accepts as a name
_TYPES = frozenset({"S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL"})


class Damaged(Exception):
    """The data file cannot be loaded as it is; the message is the one line `make run` prints."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{shown(path)} is damaged ({reason}): move it away, or start empty with make run FRESH=1")


def state_path() -> Path:
    """Where the data lives: LOCAL_DATA when set (the e2e tests keep theirs apart), else .local/state.json."""
    return Path(os.environ.get("LOCAL_DATA") or DEFAULT)


def shown(path: Path) -> str:
    return str(path.relative_to(runtime.ROOT)) if path.is_relative_to(runtime.ROOT) else str(path)


def _scan(ddb: Any, table: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    params: dict[str, Any] = {"TableName": table}
    while True:
        page = ddb.scan(**params)
        items += page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return items
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _user_secrets(sm: Any, prefix: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for page in sm.get_paginator("list_secrets").paginate():
        for entry in page.get("SecretList", []):
            name = entry["Name"]
            if not name.startswith(prefix) or entry.get("DeletedDate"):
                continue
            found[name] = sm.get_secret_value(SecretId=name)["SecretString"]
    return found


@functools.cache
def _clients() -> tuple[Any, Any]:
    """The embedded AWS's clients, made once per server (each costs a service model's load)."""
    import boto3

    return boto3.client("dynamodb"), boto3.client("secretsmanager")


def save(refs: dict[str, str], path: Path | None = None) -> None:
    """Write the table and the user secrets to `path` (atomically: a crash never leaves half a file)."""
    ddb, sm = _clients()
    state = {
        "items": _scan(ddb, refs["ConfigTable"]),
        "audit": _scan(ddb, refs["AuditTable"]) if refs.get("AuditTable") else [],
        "secrets": _user_secrets(sm, refs["UserSecretPrefix"]),
    }
    path = path or state_path()
    with _lock:
        _private_folder(path.parent)
        tmp = path.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        # Created 0600 by the open itself: the keys in it are never readable by others, not even for a moment.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(json.dumps(state, sort_keys=True))
        tmp.replace(path)


def _private_folder(folder: Path) -> None:
    """The data file's folder, 0700 when this code makes it (and for the default .local/, always). A folder the
    developer chose through LOCAL_DATA that already exists keeps its mode: it may be shared, such as /tmp."""
    if not folder.exists():
        folder.mkdir(mode=0o700, parents=True)
        folder.chmod(0o700)  # mkdir's mode passes through the umask
    elif folder == DEFAULT.parent:
        folder.chmod(0o700)


def load(refs: dict[str, str], path: Path | None = None) -> tuple[int, int]:
    """Put the saved items and secrets back; returns how many of each."""
    from botocore.exceptions import BotoCoreError, ClientError

    path = path or state_path()
    if not path.exists():
        return 0, 0
    items, audit, secrets = read(path, refs)
    ddb, sm = _clients()
    try:
        for table, rows in ((refs["ConfigTable"], items), (refs.get("AuditTable", ""), audit)):
            for start in range(0, len(rows), 25):
                batch = [{"PutRequest": {"Item": item}} for item in rows[start : start + 25]]
                ddb.batch_write_item(RequestItems={table: batch})
        for name, value in secrets.items():
            sm.create_secret(Name=name, SecretString=value)
    except (ClientError, BotoCoreError) as exc:
        raise Damaged(path, f"the embedded AWS refused it: {type(exc).__name__}") from None
    return len(items), len(secrets)


def read(
    path: Path, refs: dict[str, str] | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, str]]:
    """The file's items, audit entries and user secrets, checked; raises Damaged (a file written before the
    audit trail existed has none). With `refs`, every secret must be a user
    secret of this run (under its prefix, never the platform secret)."""
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise Damaged(path, f"not readable JSON: {type(exc).__name__}") from None
    if not isinstance(state, dict) or not isinstance(state.get("items"), list):
        raise Damaged(path, "not an object with an items list")
    if not isinstance(state.get("secrets"), dict):
        raise Damaged(path, "not an object with a secrets object")
    audit = state.get("audit", [])
    if not isinstance(audit, list):
        raise Damaged(path, "not an object with an audit list")
    for what, rows in (("item", state["items"]), ("audit entry", audit)):
        for n, item in enumerate(rows):
            problem = _item_problem(item)
            if problem:
                raise Damaged(path, f"{what} {n} {problem}")
    for name, value in state["secrets"].items():
        problem = _secret_problem(name, value, refs)
        if problem:
            raise Damaged(path, f"secret {json.dumps(name)[:80]} {problem}")
    return state["items"], audit, state["secrets"]


def _item_problem(item: Any) -> str | None:
    if not isinstance(item, dict):
        return "is not an object"
    for name in ("pk", "sk"):
        value = item.get(name)
        if not isinstance(value, dict) or not isinstance(value.get("S"), str) or not value["S"]:
            return f"has no string {name}"
    for name, value in item.items():
        if not isinstance(value, dict) or len(value) != 1 or next(iter(value)) not in _TYPES:
            return f"has an attribute {json.dumps(name)[:40]} that is not a DynamoDB value"
    return None


def _secret_problem(name: str, value: Any, refs: dict[str, str] | None) -> str | None:
    if not _SECRET_NAME.fullmatch(name) or ".." in name.split("/"):
        return "is not a secret name"
    if not isinstance(value, str):
        return "has a value that is not a string"
    if refs is not None:
        if name == refs.get("PlatformKeysSecretId"):
            return "is the platform keys secret, which comes from the environment"
        if not name.startswith(refs["UserSecretPrefix"]):
            return f"is not under the user secret prefix {refs['UserSecretPrefix']}"
    return None


def forget(path: Path | None = None) -> None:
    (path or state_path()).unlink(missing_ok=True)


def _masked(value: str) -> str:
    try:
        keys = json.loads(value)
    except ValueError:
        return "****"
    if not isinstance(keys, dict):
        return "****"
    from modelconfig.records import preview

    return json.dumps({p: preview(str(k)) for p, k in keys.items()})


def dump(path: Path | None = None) -> int:
    """Print the stored items (one per line, attribute values plain) and the secret names, keys masked."""
    path = path or state_path()
    where = shown(path)
    if not path.exists():
        return write_quietly(f"nothing stored yet ({where} does not exist): start `make run`\n")
    try:
        items, audit, secrets = read(path)
    except Damaged as exc:
        print(exc, file=sys.stderr)
        return 1
    lines = [f"{where}: {len(items)} items, {len(audit)} audit entries, {len(secrets)} user secrets"]
    for item in sorted(items, key=lambda i: (i["pk"]["S"], i["sk"]["S"])):
        plain = {k: None if "NULL" in v else next(iter(v.values())) for k, v in item.items() if k not in ("pk", "sk")}
        lines.append(f"  {item['pk']['S']}  {item['sk']['S']}  {json.dumps(plain, sort_keys=True)}")
    lines += [f"  secret {name}  {_masked(value)}" for name, value in sorted(secrets.items())]
    return write_quietly("\n".join(lines) + "\n")


if __name__ == "__main__":
    if sys.argv[1:] != ["dump"]:
        print("usage: python -m infra.local_state dump", file=sys.stderr)
        raise SystemExit(2)
    raise SystemExit(dump())
