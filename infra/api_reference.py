"""`docs/api.md`: the API reference, generated from the OpenAPI document (`make openapi` writes both; a test
fails when either drifts from the code). Routes, fields with their bounds and enums, error names and statuses,
and the limits."""

from __future__ import annotations

import json
import sys
from typing import Any

from infra import openapi

# When each error is answered; its name and status come from the one error path (modelconfig.api.envelope).
WHEN = {
    "ValidationError": "malformed JSON, a body that is not JSON, wrong types, out-of-range values, unknown action, "
    "model or provider, a model "
    "not allowed for the action (the message lists the allowed ones), a key of the wrong shape or one the provider "
    "rejects, a bad `expiresAt`",
    "Unauthorized": "no identity: no JWT, or no `sub` claim",
    "Forbidden": "the model's provider is neither platform-enabled nor covered by a live key of yours",
    "NotFound": "nothing to delete, or no such route",
    "MethodNotAllowed": "the path exists, not with this method (`Allow` lists the methods)",
    "PreconditionFailed": "an `If-Match` naming a version no longer current (read again, then retry); nothing written",
    "PayloadTooLarge": "a body over 1 MB",
    "TooManyRequests": "a per-user limit is spent: `Retry-After` gives the seconds; nothing was done",
    "InternalError": "an unexpected fault; the message carries the request id",
    "ServiceUnavailable": "AWS kept failing after retries, or another change of your keys is under way: retry",
}


def _errors() -> list[tuple[int, str]]:
    """Every (status, name) an answer can carry: the domain errors', and the 500 of a real fault."""
    from modelconfig.api.envelope import STATUS

    return sorted({(int(status), name) for status, name in STATUS.values()} | {(500, "InternalError")})


LIMITS = [
    ("model tests", "10 a minute", "`TEST_LIMIT_PER_MINUTE`", "every `/test` that would call a provider"),
    ("model tests on the platform's keys", "100 a UTC day", "`PLATFORM_TEST_LIMIT_PER_DAY`",
     "every `/test` that would use a platform key"),
    (
        "key writes",
        "10 a minute",
        "`KEY_WRITE_LIMIT_PER_MINUTE`",
        "every `PUT`/`DELETE` of `/api/byok-keys/{provider}` and `/api/custom-providers/{name}`",
    ),
]  # fmt: skip


def _schema(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = doc["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def _type(doc: dict[str, Any], node: dict[str, Any]) -> str:
    """A field's type in one short phrase: `string`, `integer (≥ 1, ≤ 200000)`, `one of: low, medium, high`, `Ref`."""
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[1]
        target = doc["components"]["schemas"][name]
        return _type(doc, target) if "enum" in target else f"`{name}`"
    if "anyOf" in node:
        kinds = [_type(doc, n) for n in node["anyOf"] if n.get("type") != "null"]
        nullable = any(n.get("type") == "null" for n in node["anyOf"])
        return " or ".join(kinds) + (", or null" if nullable else "")
    if "enum" in node:
        values = node["enum"]
        shown = ", ".join(f"`{v}`" for v in values[:6]) + (f", … ({len(values)} in all)" if len(values) > 6 else "")
        return f"one of {shown}"
    kind: str = node.get("type", "any")
    if kind == "array":
        return f"list of {_type(doc, node.get('items', {}))}"
    if kind == "object" and "additionalProperties" in node and isinstance(node["additionalProperties"], dict):
        return f"map of {_type(doc, node['additionalProperties'])}"
    bounds = []
    for key, fmt in (
        ("minimum", "≥ {}"),
        ("maximum", "≤ {}"),
        ("minLength", "length ≥ {}"),
        ("maxLength", "length ≤ {}"),
    ):
        if key in node:
            bounds.append(fmt.format(node[key]))
    if "format" in node:
        bounds.append(node["format"])
    return kind + (f" ({', '.join(bounds)})" if bounds else "")


def _fields(doc: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    schema = _schema(doc, schema)
    required = set(schema.get("required", []))
    rows = ["| field | type | required | notes |", "|---|---|---|---|"]
    for name, node in sorted(schema.get("properties", {}).items()):
        note = node.get("description", "").replace("|", "\\|")
        rows.append(f"| `{name}` | {_type(doc, node)} | {'yes' if name in required else ''} | {note} |")
    return rows


def _data_schema(doc: dict[str, Any], operation: dict[str, Any]) -> dict[str, Any] | None:
    ok = operation["responses"]["200"].get("content", {}).get("application/json", {}).get("schema")
    if ok is None:
        return None
    data: dict[str, Any] | None = _schema(doc, ok).get("properties", {}).get("data")
    return data


def text() -> str:
    doc = openapi.document()
    lines = [
        "# API reference",
        "",
        "Generated from `docs/openapi.json` by `make openapi` (a test fails when it drifts). Every route needs",
        "`Authorization: Bearer <JWT>`; the caller is its `sub` claim. Every answer is JSON: `{success: true, data}`,",
        "or `{success: false, error: {name, message}, message}`.",
        "",
        "## Routes",
        "",
        "| method | path | what | tag | operationId |",
        "|---|---|---|---|---|",
    ]
    operations = [(path, method, op) for path, ops in sorted(doc["paths"].items()) for method, op in ops.items()]
    for path, method, op in operations:
        tags = ", ".join(op.get("tags", []))
        lines.append(f"| {method.upper()} | `{path}` | {op.get('summary', '')} | {tags} | `{op.get('operationId')}` |")
    for path, method, op in operations:
        lines += ["", f"### {method.upper()} `{path}`", "", op.get("summary", "") + "."]
        if op.get("description"):
            lines += ["", op["description"]]
        params = op.get("parameters", [])
        if params:
            lines += ["", "| parameter | in | type | required | notes |", "|---|---|---|---|---|"]
            for p in params:
                needed = "yes" if p.get("required") else ""
                note = p.get("description", "").replace("|", "\\|")
                lines.append(f"| `{p['name']}` | {p['in']} | {_type(doc, p['schema'])} | {needed} | {note} |")
        body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
        if body is not None:
            name = body.get("$ref", "").rsplit("/", 1)[-1]
            lines += ["", f"Body: `{name}`", "", *_fields(doc, body)]
            examples = _schema(doc, body).get("examples")
            if examples:
                lines += ["", "For example: " + " or ".join(f"`{json.dumps(e)}`" for e in examples)]
        data = _data_schema(doc, op)
        if data is not None:
            name = data.get("$ref", "").rsplit("/", 1)[-1]
            lines += ["", f"`data`: `{name}`", "", *_fields(doc, data)]
        for header, spec in op["responses"]["200"].get("headers", {}).items():
            lines += ["", f"Answers with the `{header}` header: {spec.get('description', '')}."]
        errors = sorted(code for code in op["responses"] if code != "200")
        lines += ["", "Errors: " + ", ".join(errors) + "."]
    shared = sorted(
        {n for n, s in doc["components"]["schemas"].items() if "properties" in s}
        - {"ErrorBody", "ErrorEnvelope"}
        - {n for n in doc["components"]["schemas"] if n.startswith("Ok_")}
    )
    lines += ["", "## Shapes", ""]
    for name in shared:
        lines += [f"### `{name}`", "", *_fields(doc, doc["components"]["schemas"][name]), ""]
    lines += ["## Errors", "", "| status | `error.name` | when |", "|---|---|---|"]
    lines += [f"| {status} | `{name}` | {WHEN[name]} |" for status, name in _errors()]
    lines += [
        "",
        "## Limits",
        "",
        "Per user (the `sub`), checked after validation and before any provider call or secret write. Over a limit:",
        "429 with `Retry-After`. A request refused by validation counts against nothing, and so does a model test",
        "that makes no call.",
        "",
        "| what | default | environment | counts |",
        "|---|---|---|---|",
    ]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in LIMITS]
    lines += ["", "A body is at most 1 MB; a test prompt 4,000 characters; a key 512; a user id (`sub`) 255.", ""]
    lines += CUSTOM_PROVIDERS
    return "\n".join(lines)


CUSTOM_PROVIDERS = [
    "## Custom providers: the egress guard",
    "",
    "Every server-side request to a custom provider's `baseUrl` (the check on save, `/test`) passes one guard, and",
    "resolve checks the host again (a verdict at most 60 s old) before it hands out the key:",
    "",
    "- the URL is absolute, `https` (plain `http` only for a host on `CUSTOM_PROVIDER_ALLOWED_HOSTS`), without user",
    "  info, query or fragment, at most 2,048 characters;",
    "- every address the host resolves to is public: loopback, private, link-local (the instance metadata service",
    "  included), carrier-grade NAT, multicast, reserved and unspecified addresses are refused, and an IPv4 address",
    "  inside an IPv6 one (mapped, IPv4-compatible, 6to4, NAT64, Teredo) is judged as that IPv4 address; one refused",
    "  address refuses the host. A host on the operator's allowlist (`host` or `host:port`) may resolve anywhere,",
    "  except to the Lambda Runtime API's port on the function's own machine, which is always refused;",
    "- the connection goes to an address the check passed, with TLS verified for the host name, so a DNS answer that",
    "  changes between the check and the connection cannot move it;",
    "- no redirect is followed, no retry is made, one deadline holds the whole request",
    "  (`KEY_VERIFY_TIMEOUT_SECONDS` for the check, `MODEL_TEST_TIMEOUT_SECONDS` for a test), an answer over 1 MB is",
    "  cut off, a compressed answer is not opened;",
    "- a refusal is a 400 naming the rule, never an address; an upstream error is a normalised message, never the",
    "  upstream body; the platform's own keys are never sent to a custom provider.",
    "",
]


if __name__ == "__main__":
    sys.stdout.write(text())
