"""Run the template's functions in-process, as Lambda would, without Docker.

Everything comes from template.yaml: the functions, their handlers, routes and environment, and the table's
definition. The local API (infra.local_api), `make invoke` (infra.invoke) and the tests all use this module,
so there is no second route table to keep in sync.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
SHARED = ROOT / "shared"
if str(SHARED) not in sys.path:
    sys.path.insert(0, str(SHARED))  # the layer's /opt/python


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # API Gateway form: /api/model-configs/{agentAction}

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """Path parameters when `method path` is this route, else None."""
        if method != self.method:
            return None
        want, got = self.path.strip("/").split("/"), path.strip("/").split("/")
        if len(want) != len(got):
            return None
        params: dict[str, str] = {}
        for w, g in zip(want, got, strict=True):
            if w.startswith("{") and w.endswith("}"):
                if not g:
                    return None
                params[w[1:-1]] = g
            elif w != g:
                return None
        return params

    @property
    def specificity(self) -> int:
        """Static segments win over parameters, as in API Gateway (defaults before {agentAction})."""
        return sum(1 for s in self.path.split("/") if not s.startswith("{"))


@dataclass(frozen=True)
class Function:
    logical_id: str
    code_uri: Path
    handler: str
    timeout: int
    memory_mb: int
    environment: dict[str, str] = field(default_factory=dict)
    routes: tuple[Route, ...] = ()

    @property
    def source(self) -> Path:
        return self.code_uri / (self.handler.rsplit(".", 1)[0] + ".py")


@cache
def template() -> dict[str, Any]:
    """template.yaml as plain data, its short-form intrinsics in their long form (`!Ref X` is {"Ref": "X"},
    `!GetAtt A.B` is {"Fn::GetAtt": ["A", "B"]}). PyYAML's C loader reads it in milliseconds, where cfn-lint's
    decoder took seconds to import."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class Loader(loader):  # type: ignore[misc,valid-type]  # its base is chosen at run time (the C one if built)
        pass

    def intrinsic(load: Any, suffix: str, node: Any) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = load.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = load.construct_sequence(node, deep=True)
        else:
            value = load.construct_mapping(node, deep=True)
        if suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
        return {suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}": value}

    Loader.add_multi_constructor("!", intrinsic)
    document: dict[str, Any] = yaml.load(TEMPLATE.read_text(), Loader=Loader)  # noqa: S506 - SafeLoader's subclass
    return document


def _resolve(value: Any, refs: dict[str, str]) -> str:
    """A local stand-in for the intrinsics the template's environment uses: Ref from `refs`, and Fn::If taking
    its false branch (the template's conditions, such as tracing, are off locally)."""
    if isinstance(value, dict):
        if "Ref" in value:
            return refs.get(value["Ref"], "")
        if "Fn::If" in value:
            return _resolve(value["Fn::If"][2], refs)
        return ""
    return str(value)


def functions(refs: dict[str, str] | None = None) -> list[Function]:
    """Every function of the template, with its environment resolved against `refs` (logical id → value)."""
    refs = refs or {}
    doc = template()
    global_fn = doc.get("Globals", {}).get("Function", {})
    global_env = global_fn.get("Environment", {}).get("Variables", {})
    found = []
    for logical_id, resource in doc["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        props = resource["Properties"]
        env = {
            k: _resolve(v, refs) for k, v in {**global_env, **props.get("Environment", {}).get("Variables", {})}.items()
        }
        routes = tuple(
            Route(e["Properties"]["Method"].upper(), e["Properties"]["Path"])
            for e in props.get("Events", {}).values()
            if e["Type"] == "HttpApi"
        )
        found.append(
            Function(
                logical_id=logical_id,
                code_uri=ROOT / props["CodeUri"],
                handler=props["Handler"],
                timeout=int(props.get("Timeout", global_fn.get("Timeout", 3))),
                memory_mb=int(props.get("MemorySize", global_fn.get("MemorySize", 128))),
                environment=env,
                routes=routes,
            )
        )
    return found


def function(logical_id: str, refs: dict[str, str] | None = None) -> Function:
    for fn in functions(refs):
        if fn.logical_id == logical_id:
            return fn
    raise KeyError(f"no function {logical_id} in template.yaml")


def routes() -> list[tuple[Route, Function]]:
    """Every HTTP route, most specific first."""
    pairs = [(r, fn) for fn in functions() for r in fn.routes]
    return sorted(pairs, key=lambda p: -p[0].specificity)


def find_route(method: str, path: str) -> tuple[Route, Function, dict[str, str]] | None:
    """The route API Gateway would pick for `method path`, its function and path parameters."""
    for route, fn in routes():
        params = route.match(method, path)
        if params is not None:
            return route, fn, params
    return None


def methods_of(path: str) -> list[str]:
    """The methods that some route serves at `path` (for a 405's Allow header); empty for an unknown path."""
    return sorted({route.method for route, _fn in routes() if route.match(route.method, path) is not None})


_modules: dict[Path, ModuleType] = {}


def load_module(fn: Function) -> ModuleType:
    """The function's handler module, imported once per process (a cold start) under a unique name.

    One process is one execution environment: Powertools keeps the current event on its router class, so a
    process must serve one event at a time, as Lambda does. Concurrency means processes (see tests/worker.py)."""
    if fn.source not in _modules:
        _modules[fn.source] = import_source(f"lambda_fn_{fn.logical_id}", fn.source)
    return _modules[fn.source]


def import_source(name: str, source: Path) -> ModuleType:
    """Import the module at `source` anew under `name`, as Lambda's runtime imports a handler's module (a new
    instance's init; `load_module` keeps one per process)."""
    spec = importlib.util.spec_from_file_location(name, source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


_served: set[str] = set()  # functions that have answered once in this process


def handler(fn: Function) -> Callable[[dict[str, Any], Any], Any]:
    """The function's handler. Its first call is that function's cold start: on Lambda each function has
    its own process, here they share one, so Powertools' process-wide cold-start flag is set again for it."""
    serve: Callable[[dict[str, Any], Any], Any] = getattr(load_module(fn), fn.handler.rsplit(".", 1)[1])
    if fn.logical_id in _served:
        return serve

    def first_call(event: dict[str, Any], context: Any) -> Any:
        from aws_lambda_powertools.logging import logger as powertools_logger

        _served.add(fn.logical_id)
        powertools_logger.is_cold_start = True
        return serve(event, context)

    return first_call


class Context:
    """The parts of the Lambda context object the functions use."""

    def __init__(self, fn: Function, *, timeout_seconds: float | None = None) -> None:
        self.function_name = fn.logical_id
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{fn.logical_id}"
        self.memory_limit_in_mb = 512
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{fn.logical_id}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + (timeout_seconds if timeout_seconds is not None else fn.timeout)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def http_event(
    route: Route,
    *,
    path: str | None = None,
    path_parameters: dict[str, str] | None = None,
    claims: dict[str, Any] | None = None,
    body: str | bytes | None = None,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    raw_query: str | None = None,
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event as the JWT authorizer hands it to the function."""
    params = path_parameters or {}
    raw_path = path or route.path.format(**params)
    is_binary = isinstance(body, bytes)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.key,
        "rawPath": raw_path,
        "rawQueryString": raw_query
        if raw_query is not None
        else "&".join(f"{k}={v}" for k, v in (query or {}).items()),
        "headers": {"content-type": "application/json", **{k.lower(): v for k, v in (headers or {}).items()}},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": "localhost",
            "domainPrefix": "localhost",
            "http": {
                "method": route.method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "local",
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": route.key,
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
            "timeEpoch": int(time.time() * 1000),
        },
        "isBase64Encoded": is_binary,
    }
    if claims is not None:
        event["requestContext"]["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
    if params:
        event["pathParameters"] = params
    if query:
        event["queryStringParameters"] = query
    if body is not None:
        event["body"] = base64.b64encode(body).decode() if isinstance(body, bytes) else body
    return event


TABLES = {"ConfigTable": "TABLE_NAME", "AuditTable": "AUDIT_TABLE_NAME"}  # each table and its variable


def table_definition(logical_id: str = "ConfigTable") -> dict[str, Any]:
    """CreateTable arguments from the template's own table resource."""
    props = template()["Resources"][logical_id]["Properties"]
    return {
        "KeySchema": [dict(k) for k in props["KeySchema"]],
        "AttributeDefinitions": [dict(a) for a in props["AttributeDefinitions"]],
        "BillingMode": props["BillingMode"],
    }


def ttl_attribute(logical_id: str = "ConfigTable") -> str | None:
    spec = template()["Resources"][logical_id]["Properties"].get("TimeToLiveSpecification", {})
    name: str | None = spec.get("AttributeName")
    return name


def create_table(dynamodb: Any, name: str, logical_id: str = "ConfigTable") -> None:
    """The table `logical_id` of the template, as `name`, with its TTL."""
    dynamodb.create_table(TableName=name, **table_definition(logical_id))
    attribute = ttl_attribute(logical_id)
    if attribute:
        dynamodb.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": attribute}
        )


def parse_response(response: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    body = response.get("body") or ""
    if response.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    return int(response["statusCode"]), json.loads(body) if body else {}
