"""One OpenAPI 3 document for every route, generated from the functions' own resolvers with Powertools'
OpenAPIMerge (never written by hand). `make openapi` writes docs/openapi.json; a test keeps it in sync."""

from __future__ import annotations

import json
import sys
import tomllib
from functools import cache
from typing import Any

from infra import runtime

TITLE = "Model config service"
VERSION = tomllib.loads((runtime.ROOT / "pyproject.toml").read_text())["project"]["version"]  # the one place


@cache
def document() -> dict[str, Any]:
    from aws_lambda_powertools.event_handler.openapi.merge import OpenAPIMerge
    from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer, Tag

    merge = OpenAPIMerge(
        title=TITLE,
        version=VERSION,
        description=(
            "Per-user LLM model configuration, BYOK provider keys and live model tests. Every route needs a JWT "
            "(`Authorization: Bearer …`); the caller is its `sub` claim."
        ),
        security_schemes={"jwt": HTTPBearer(bearerFormat="JWT")},
        security=[{"jwt": []}],
        tags=[
            Tag(name="configs", description="Each agent action's model config: defaults, your overrides, the catalog"),
            Tag(name="keys", description="Your own provider keys (BYOK): checked on save, never returned"),
            Tag(
                name="custom providers",
                description="Your own OpenAI-compatible endpoints: public https only, called through the egress guard",
            ),
            Tag(name="accountability", description="Who changed what and when (the audit trail), and your data export"),
            Tag(name="test", description="A real provider call with a config, to see that it works"),
        ],
        on_conflict="error",
    )
    for fn in runtime.functions():
        if fn.routes:
            merge.add_file(fn.source, resolver_name="app")
    return _without_422(json.loads(merge.get_openapi_json_schema()))


def _without_422(doc: dict[str, Any]) -> dict[str, Any]:
    """Powertools documents a 422 on every validated route; this API answers validation errors with 400 (the
    envelope), so the 422 entries go, and with them every schema nothing refers to any more."""
    for operations in doc.get("paths", {}).values():
        for operation in operations.values():
            operation.get("responses", {}).pop("422", None)
    schemas = doc.get("components", {}).get("schemas", {})
    # Powertools' own error shapes, referred to only by the 422s and by each other: gone once nothing refers.
    while unused := [n for n in schemas if f'"#/components/schemas/{n}"' not in json.dumps(doc)]:
        for name in unused:
            schemas.pop(name)
    return doc


def text() -> str:
    return json.dumps(document(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    sys.stdout.write(text())
