"""The product's loopback provider stand-in (infra/provider_standin.py), extended for the tests: it records
every request, and can misbehave on demand: answer slowly or byte by byte, with 401/403/429/500/529, garbage,
a redirect, or by closing the connection. Model calls and key checks misbehave separately."""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from infra.provider_standin import ProviderStandIn, StandInHandler, models_body, rejection, rejects, reply_body


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Behaviour:
    mode: str = "ok"  # ok | status | garbage | close | drip | slow | redirect | big | huge | gzip
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    delay: float = 0.0
    times: int = 1_000_000  # how many requests misbehave before "ok"
    text: str = "OK, the model answers."


class ProviderServer(ProviderStandIn):
    def __init__(self) -> None:
        self.seen: list[Seen] = []  # model calls
        self.checks: list[Seen] = []  # key checks
        self.behaviour = Behaviour()
        self.check_behaviour = Behaviour()  # of the key checks (GET), apart from the model calls'
        self.sent_bytes = 0  # of the last `huge` answer, before the client hung up
        self._lock = threading.Lock()
        super().__init__(_Handler)

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

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (its deadline passed) closes the socket mid-answer: expected, not news."""
        import sys

        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


class _Handler(StandInHandler):
    server: ProviderServer

    def do_GET(self) -> None:
        """The key checks: each provider's model list."""
        headers = self.headers_seen()
        self.server.checks.append(Seen("GET", self.path, headers, None))
        b = self.server.check_behaviour
        if b.delay:
            time.sleep(b.delay)
        if b.mode == "ok" and rejects(headers):
            self.send_json(*rejection(self.path))
        elif b.mode == "ok":
            self.send_json(200, models_body(self.path), b.headers)
        else:
            self._misbehave(b)

    def do_POST(self) -> None:
        headers, body = self.headers_seen(), self.body_seen()
        self.server.seen.append(Seen("POST", self.path, headers, body))
        b = self.server.take()
        if b.delay:
            time.sleep(b.delay)
        if b.mode == "ok":
            self.send_json(200, reply_body(self.path, b.text), b.headers)
        else:
            self._misbehave(b)

    def _misbehave(self, b: Behaviour) -> None:
        if b.mode == "close":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
        elif b.mode == "garbage":
            self.send_raw(200, b"<html>definitely not json", {"content-type": "text/html"})
        elif b.mode == "redirect":
            self.send_raw(302, b"", {"location": "http://127.0.0.1:9/elsewhere"})
        elif b.mode == "big":
            self.send_raw(200, b"{" + b" " * (1024 * 1024) + b"}", {})
        elif b.mode == "huge":  # announces 1 GB and sends until the client hangs up
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(1 << 30))
            self.end_headers()
            chunk = b" " * 65536
            self.server.sent_bytes = 0
            try:
                while self.server.sent_bytes < 1 << 30:
                    self.wfile.write(chunk)
                    self.server.sent_bytes += len(chunk)
            except OSError:
                self.close_connection = True
        elif b.mode == "gzip":  # a compression bomb: 1 MB of gzip that opens to 1 GB
            import gzip

            bomb = gzip.compress(b" " * (64 << 20), compresslevel=9)
            self.send_raw(200, bomb, {"content-encoding": "gzip"})
        elif b.mode == "drip":
            payload = json.dumps(reply_body(self.path, b.text)).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            for i in range(len(payload)):
                self.wfile.write(payload[i : i + 1])
                self.wfile.flush()
                time.sleep(0.05)
        elif b.mode == "status":
            self.send_json(
                b.status, b.body if b.body is not None else {"error": {"message": "upstream said no"}}, b.headers
            )
        else:  # slow: the delay above, then an answer
            self.send_json(200, reply_body(self.path, b.text), b.headers)
