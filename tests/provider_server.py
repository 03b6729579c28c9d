"""A real HTTP server on loopback that speaks the three provider wire formats, records every request, and
can misbehave on demand: answer slowly or byte by byte, with 401/403/429/500/529, garbage, a redirect, or by
closing the connection."""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Any

from infra.local_api import KeepAliveHandler


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Behaviour:
    mode: str = "ok"  # ok | status | garbage | close | drip | slow | redirect | big
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    delay: float = 0.0
    times: int = 1_000_000  # how many requests misbehave before "ok"
    text: str = "OK, the model answers."


def _ok_body(path: str, text: str) -> dict[str, Any]:
    if "/chat/completions" in path:
        return {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        }
    if path.endswith("/v1/messages"):
        return {"id": "msg_1", "type": "message", "role": "assistant", "content": [{"type": "text", "text": text}]}
    if ":generateContent" in path:
        return {"candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP"}]}
    return {"error": "unknown path"}


class ProviderServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.seen: list[Seen] = []  # model calls
        self.checks: list[Seen] = []  # key checks
        self.behaviour = Behaviour()
        self.check_behaviour = Behaviour()  # of the key checks (GET), apart from the model calls'
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def base_urls(self) -> dict[str, str]:
        return {
            "OPENAI_BASE_URL": f"{self.base}/openai/v1",
            "ANTHROPIC_BASE_URL": f"{self.base}/anthropic",
            "GOOGLE_AI_STUDIO_BASE_URL": f"{self.base}/google",
            "GROK_BASE_URL": f"{self.base}/grok/v1",
        }

    def behave(self, **kw: Any) -> None:
        self.behaviour = Behaviour(**kw)

    def behave_on_check(self, **kw: Any) -> None:
        self.check_behaviour = Behaviour(**kw)

    def reset(self) -> None:
        self.seen.clear()
        self.checks.clear()
        self.behaviour = Behaviour()
        self.check_behaviour = Behaviour()

    def take(self) -> Behaviour:
        with self._lock:
            b = self.behaviour
            if b.mode == "ok":
                return b
            if b.times <= 0:
                return Behaviour(text=b.text)
            b.times -= 1
            return b

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (its deadline passed) closes the socket mid-answer: expected, not news."""
        import sys

        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


def _models_body(path: str) -> dict[str, Any]:
    if path.startswith("/google"):
        return {"models": [{"name": "models/gemini-2.5-flash"}]}
    return {"object": "list", "data": [{"id": "some-model", "object": "model"}]}


def _rejects(headers: dict[str, str]) -> bool:
    """A key containing 'invalid' is one the provider does not accept."""
    return any("invalid" in headers.get(h, "") for h in ("authorization", "x-api-key", "x-goog-api-key"))


class _Handler(KeepAliveHandler):
    server: ProviderServer

    def do_GET(self) -> None:
        """The key checks: each provider's model list."""
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.server.checks.append(Seen("GET", self.path, headers, None))
        b = self.server.check_behaviour
        if b.delay:
            time.sleep(b.delay)
        if b.mode == "ok" and _rejects(headers):
            if self.path.startswith("/google"):
                details = [{"reason": "API_KEY_INVALID"}]
                reason = {"error": {"code": 400, "status": "INVALID_ARGUMENT", "details": details}}
                self._send(400, json.dumps(reason).encode(), {})
            else:
                self._send(401, b'{"error": {"message": "Incorrect API key provided"}}', {})
            return
        if b.mode == "ok" or not self.path.endswith("/models"):
            self._send(200, json.dumps(_models_body(self.path)).encode(), b.headers)
            return
        self._misbehave(b)

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", "0"))
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw.decode("utf-8", "replace")
        self.server.seen.append(Seen("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body))
        b = self.server.take()
        if b.delay:
            time.sleep(b.delay)
        if b.mode == "ok":
            self._send(200, json.dumps(_ok_body(self.path, b.text)).encode(), b.headers)
            return
        self._misbehave(b)

    def _misbehave(self, b: Behaviour) -> None:
        if b.mode == "close":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if b.mode == "garbage":
            self._send(200, b"<html>definitely not json", {"content-type": "text/html"})
            return
        if b.mode == "redirect":
            self._send(302, b"", {"location": "http://127.0.0.1:9/elsewhere"})
            return
        if b.mode == "big":
            self._send(200, b"{" + b" " * (1024 * 1024) + b"}", {})
            return
        if b.mode == "drip":
            payload = json.dumps(_ok_body(self.path, b.text)).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            for i in range(len(payload)):
                self.wfile.write(payload[i : i + 1])
                self.wfile.flush()
                time.sleep(0.05)
            return
        if b.mode == "status":
            body_bytes = json.dumps(
                b.body if b.body is not None else {"error": {"message": "upstream said no"}}
            ).encode()
            self._send(b.status, body_bytes, b.headers)
            return
        self._send(200, json.dumps(_ok_body(self.path, b.text)).encode(), b.headers)

    def _send(self, status: int, payload: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        headers = {"content-type": "application/json", **headers}
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
