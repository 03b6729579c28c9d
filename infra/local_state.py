"""`make run`'s data between restarts: the embedded moto's table items and user secrets, in `.local/state.json`
(ignored by git, readable by its owner only), saved after every write and loaded on start. `make run FRESH=1`
starts empty. `python -m infra.local_state dump` (`make dump`) prints what is stored, with every key masked.

The platform keys secret is not saved: it comes from the environment on every start (keys or the stand-in).
"""

from __future__ import annotations

import functools
import json
import os
import sys
import threading
from pathlib import Path
from typing import Any

from infra import runtime

DEFAULT = runtime.ROOT / ".local" / "state.json"
_lock = threading.Lock()


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
    state = {"items": _scan(ddb, refs["ConfigTable"]), "secrets": _user_secrets(sm, refs["UserSecretPrefix"])}
    path = path or state_path()
    with _lock:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, sort_keys=True))
        tmp.chmod(0o600)  # the user secrets of local users are in it
        tmp.replace(path)


def load(refs: dict[str, str], path: Path | None = None) -> tuple[int, int]:
    """Put the saved items and secrets back; returns how many of each."""
    path = path or state_path()
    if not path.exists():
        return 0, 0
    state = json.loads(path.read_text())
    ddb, sm = _clients()
    items = state.get("items", [])
    for start in range(0, len(items), 25):
        batch = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
        ddb.batch_write_item(RequestItems={refs["ConfigTable"]: batch})
    for name, value in state.get("secrets", {}).items():
        sm.create_secret(Name=name, SecretString=value)
    return len(items), len(state.get("secrets", {}))


def forget(path: Path | None = None) -> None:
    (path or state_path()).unlink(missing_ok=True)


def _masked(value: str) -> str:
    try:
        keys = json.loads(value)
    except ValueError:
        return "****"
    if not isinstance(keys, dict):
        return "****"
    from modelconfig.keys import preview

    return json.dumps({p: preview(str(k)) for p, k in keys.items()})


def dump(path: Path | None = None, out: Any = sys.stdout) -> int:
    """Print the stored items (one per line, attribute values plain) and the secret names, keys masked."""
    path = path or state_path()
    where = shown(path)
    if not path.exists():
        print(f"nothing stored yet ({where} does not exist): start `make run`", file=out)
        return 0
    state = json.loads(path.read_text())
    print(f"{where}: {len(state['items'])} items, {len(state['secrets'])} user secrets", file=out)
    for item in sorted(state["items"], key=lambda i: (i["pk"]["S"], i["sk"]["S"])):
        plain = {k: None if "NULL" in v else next(iter(v.values())) for k, v in item.items() if k not in ("pk", "sk")}
        print(f"  {item['pk']['S']}  {item['sk']['S']}  {json.dumps(plain, sort_keys=True)}", file=out)
    for name, value in sorted(state["secrets"].items()):
        print(f"  secret {name}  {_masked(value)}", file=out)
    return 0


if __name__ == "__main__":
    if sys.argv[1:] != ["dump"]:
        print("usage: python -m infra.local_state dump", file=sys.stderr)
        raise SystemExit(2)
    raise SystemExit(dump())
