"""The API as API Gateway calls it: route from template.yaml, v2 event with JWT claims, the function's real
handler, and the answer parsed."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from infra import runtime


@dataclass
class Reply:
    status: int
    body: dict[str, Any]
    raw: dict[str, Any]

    @property
    def data(self) -> Any:
        assert self.body.get("success") is True, self.body
        return self.body["data"]

    @property
    def error(self) -> dict[str, Any]:
        assert self.body.get("success") is False, self.body
        assert self.body["message"] == self.body["error"]["message"]
        return self.body["error"]


class Api:
    """Calls the API as API Gateway would: route from template.yaml, v2 event with JWT claims, real handler.

    One process is one Lambda execution environment: it serves one event at a time. Tests of concurrent
    clients use worker processes (tests/worker.py), never threads sharing one process's handlers."""

    def __init__(self, sub: str | None = "user-a") -> None:
        self.sub = sub

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw_body: str | bytes | None = None,
        query: dict[str, str] | None = None,
        claims: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        found = runtime.find_route(method, path)
        assert found is not None, f"no route for {method} {path} in template.yaml"
        route, fn, params = found
        if claims is None and self.sub is not None:
            claims = {"sub": self.sub, "iss": "https://issuer.example", "aud": "web"}
        payload = raw_body if raw_body is not None else (None if body is None else json.dumps(body))
        event = runtime.http_event(
            route, path=path, path_parameters=params, claims=claims, body=payload, query=query, headers=headers
        )
        raw = runtime.handler(fn)(event, runtime.Context(fn))
        status, parsed = runtime.parse_response(raw)
        assert raw["headers"].get("Content-Type", raw["headers"].get("content-type", "")).startswith("application/json")
        return Reply(status, parsed, raw)

    def get(self, path: str, **kw: Any) -> Reply:
        return self.request("GET", path, **kw)

    def put(self, path: str, body: Any = None, **kw: Any) -> Reply:
        return self.request("PUT", path, body, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Reply:
        return self.request("POST", path, body, **kw)

    def delete(self, path: str, **kw: Any) -> Reply:
        return self.request("DELETE", path, **kw)
