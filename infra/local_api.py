"""`make run`: every route of template.yaml on http://127.0.0.1:$PORT (default 3000), each request turned into
an API Gateway HTTP API v2 event and handled in-process by the route's own function, with AWS embedded.

Identity is the `sub` claim of the `Authorization: Bearer <JWT>` payload, decoded WITHOUT checking the
signature: a local stand-in for API Gateway's JWT authorizer, never to be exposed beyond this machine.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import errno
import functools
import ipaddress
import json
import os
import re
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from infra import local_state, runtime
from infra.local_aws import LocalAws
from modelconfig.api import errors
from modelconfig.errors import AccessDenied, DomainError, NotAllowedMethod, NotFound, PayloadTooLarge, Unauthenticated

MAX_REQUEST_BYTES = 10 * 1024 * 1024  # API Gateway's own payload limit; the functions enforce 1 MB
SWAGGER_ASSETS = {
    "/swagger/swagger-ui.css": ("swagger-ui.min.css", "text/css"),
    "/swagger/swagger-ui-bundle.js": ("swagger-ui-bundle.min.js", "application/javascript"),
}
SWAGGER_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Model config service API</title>
<link rel="stylesheet" href="/swagger/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/swagger/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui", persistAuthorization: true});</script>
</body></html>
"""


LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
LOCAL_ORIGIN = re.compile(r"http://(localhost|127\.0\.0\.1)(:\d{1,5})?")


def is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host in LOOPBACK_HOSTS or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def host_name(header: str) -> str:
    """The name in a Host header, without its port (`[::1]:3000` → `::1`)."""
    header = header.strip()
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def claims_from(authorization: str | None) -> dict[str, Any] | None:
    """The JWT payload of a Bearer token, unverified; None when missing or unreadable."""
    if not authorization or not authorization.lower().startswith("bearer "):
        return None
    parts = authorization[7:].strip().split(".")
    if len(parts) < 2:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, RecursionError):
        return None
    return payload if isinstance(payload, dict) else None


def sample_token(sub: str) -> str:
    """An unsigned JWT for local use (alg none): header.payload.empty-signature."""

    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj, separators=(",", ":")).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part({'sub': sub})}."


class LocalApi(ThreadingHTTPServer):
    """Only for this machine: it answers requests whose Host is a loopback name (or the --host it was given),
    which defeats DNS rebinding, and lets no page of another origin than http://localhost:* or
    http://127.0.0.1:* call it (its tokens are unchecked, so any page could otherwise act as any user)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        *,
        log: Callable[[str], None] | None = None,
        after_write: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(address, _RequestHandler)
        self.after_write = after_write  # keeps the embedded AWS's data across restarts (infra/local_state.py)
        host = address[0]
        self.allowed_hosts = {host.lower()} if host not in ("", "0.0.0.0", "::") else set()
        self.log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        self._openapi: bytes | None = None
        # Powertools keeps the current event on its router *class*, so one process serves one event at a time,
        # as each Lambda execution environment does. Connections and docs stay concurrent; invocations queue.
        self.invoke_lock = threading.Lock()

    def invoke(self, fn: runtime.Function, event: dict[str, Any]) -> Any:
        with self.invoke_lock:
            response = runtime.handler(fn)(event, runtime.Context(fn))
            if self.after_write is not None and event["requestContext"]["http"]["method"] != "GET":
                self.after_write()
            return response

    @property
    def openapi(self) -> bytes:
        if self._openapi is None:
            from infra import openapi

            self._openapi = openapi.text().encode()
        return self._openapi


class KeepAliveHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 keep-alive with TCP_NODELAY (without it a keep-alive answer waits ~40 ms on delayed ACKs),
    and no per-request stderr line from the standard library."""

    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *_args: Any) -> None:
        pass


class _RequestHandler(KeepAliveHandler):
    server: LocalApi

    def __getattr__(self, name: str) -> Any:
        # Every method reaches _dispatch (GET, TRACE, PATCH, anything), so each answer is the envelope: a method
        # the path lacks is a 405 with Allow, never the standard library's 501 HTML page.
        if name.startswith("do_"):
            return self._dispatch
        raise AttributeError(name)

    def _dispatch(self) -> None:
        started = time.perf_counter()
        status = self._handle()
        self._log(started, status)

    def _log(self, started: float, status: int) -> None:
        ms = (time.perf_counter() - started) * 1000
        self.server.log(f"{self.command} {urlsplit(self.path).path} {status} {ms:.1f}ms")

    def _refusal(self) -> DomainError | None:
        """Why a request from outside this machine's own pages is refused, if it is."""
        host = host_name(self.headers.get("host") or "")
        if not (is_loopback(host) or host.lower() in self.server.allowed_hosts):
            return AccessDenied("this local API answers only requests for localhost (Host header)")
        origin = self.headers.get("origin")
        if origin is not None and not LOCAL_ORIGIN.fullmatch(origin):
            return AccessDenied("this local API accepts no cross-origin caller other than http://localhost:*")
        return None

    def _handle(self) -> int:
        url = urlsplit(self.path)
        path = url.path
        refused = self._refusal()
        if refused is not None:
            self._drain()
            return self._error(refused)
        if self.command == "OPTIONS":
            self._drain()
            return self._send(204, b"", {})
        if self.command == "GET" and (
            path in ("/", "/openapi.json", "/swagger", "/swagger/") or path in SWAGGER_ASSETS
        ):
            return self._docs(path)
        found = runtime.find_route(self.command, path)
        if found is None:
            self._drain()
            allowed = runtime.methods_of(path)
            if allowed:
                return self._error(
                    NotAllowedMethod(f"{self.command} is not served here; use {', '.join(allowed)}", allowed)
                )
            return self._error(NotFound("no such route"))
        route, fn, params = found
        claims = claims_from(self.headers.get("authorization"))
        if claims is None:
            self._drain()
            return self._error(Unauthenticated("missing or unreadable bearer token"))
        length = int(self.headers.get("content-length") or 0)
        if length > MAX_REQUEST_BYTES:
            self.close_connection = True
            return self._error(PayloadTooLarge("request body is over the API's limit"))
        raw = self.rfile.read(length) if length else None
        try:
            body: str | bytes | None = raw.decode("utf-8") if raw is not None else None
        except UnicodeDecodeError:
            body = raw  # sent base64-encoded, as API Gateway does for binary bodies
        query: dict[str, str] = {}
        for k, v in parse_qsl(url.query, keep_blank_values=True):
            query[k] = f"{query[k]},{v}" if k in query else v  # API Gateway v2 joins repeated keys with commas
        event = runtime.http_event(
            route,
            path=path,
            path_parameters=params,
            claims=claims,
            body=body,
            query=query or None,
            raw_query=url.query,
            headers={k: v for k, v in self.headers.items()},
        )
        try:
            response = self.server.invoke(fn, event)
        except Exception as exc:  # what API Gateway answers when a function fails
            self.server.log(f"function {fn.logical_id} failed: {type(exc).__name__}")
            return self._answer(errors.internal(event["requestContext"]["requestId"]))
        payload = response.get("body") or ""
        data = base64.b64decode(payload) if response.get("isBase64Encoded") else payload.encode()
        return self._send(int(response.get("statusCode", 200)), data, response.get("headers") or {})

    def _docs(self, path: str) -> int:
        if path == "/":
            return self._send(302, b"", {"location": "/swagger", "content-type": "text/plain"})
        if path == "/openapi.json":
            return self._send(200, self.server.openapi, {})
        if path in ("/swagger", "/swagger/"):
            return self._send(200, SWAGGER_HTML.encode(), {"content-type": "text/html; charset=utf-8"})
        name, kind = SWAGGER_ASSETS[path]
        asset = resources.files("aws_lambda_powertools.event_handler.openapi.swagger_ui").joinpath(name)
        return self._send(200, asset.read_bytes(), {"content-type": kind, "cache-control": "max-age=3600"})

    def _error(self, exc: DomainError) -> int:
        return self._answer(errors.from_domain(exc, "local"))

    def _answer(self, rendered: errors.Rendered) -> int:
        return self._send(rendered.status, rendered.body.encode(), rendered.headers)

    def _drain(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        if 0 < length <= MAX_REQUEST_BYTES:
            self.rfile.read(length)
        elif length:
            self.close_connection = True

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> int:
        self.send_response(status)
        names = {k.lower() for k in headers}
        for k, v in headers.items():
            self.send_header(k, v)
        if "content-type" not in names:
            self.send_header("content-type", "application/json")
        origin = self.headers.get("origin")
        if origin is not None and LOCAL_ORIGIN.fullmatch(origin):
            self.send_header("access-control-allow-origin", origin)
            self.send_header("vary", "Origin")
            self.send_header("access-control-allow-headers", "authorization, content-type")
            self.send_header("access-control-allow-methods", "GET, PUT, POST, DELETE, OPTIONS")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        return status


@contextlib.contextmanager
def running(env: dict[str, str], *, timeout: float = 30) -> Iterator[tuple[str, list[str]]]:
    """`make run`'s server as a separate process on a free loopback port with `env`: yields its base URL and
    its output lines so far (read as they come), and stops it afterwards."""
    import subprocess

    import httpx

    from infra.local_aws import free_port

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "infra.local_api"],
        cwd=runtime.ROOT,
        env=env | {"PORT": str(port)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(proc.stdout or []), daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                httpx.get(f"{base}/openapi.json", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the local API did not start:\n" + "".join(lines)) from None
                time.sleep(0.1)
        yield base, lines
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def serve(host: str, port: int, *, embedded: bool, fresh: bool = False, ready: threading.Event | None = None) -> None:
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")  # the server prints one line per request itself
    started = time.perf_counter()
    from infra.provider_standin import stand_in_for_unset

    standin = stand_in_for_unset() if embedded else None  # offline, every provider without a key or URL
    with LocalAws.start(embedded=embedded, port=port + 1 if port else 0) as aws:
        aws.apply_environment(*runtime.functions(aws.refs))
        data = "in " + (aws.endpoint or "real AWS")
        after_write = None
        if aws.embedded:
            if fresh:
                local_state.forget()
            items, secrets = local_state.load(aws.refs)
            data = (
                f"{local_state.shown(local_state.state_path())}, saved after every write "
                f"({'started empty' if fresh else f'restored {items} items and {secrets} user secrets'}; "
                "make run FRESH=1 starts empty; make dump shows it)"
            )
            after_write = functools.partial(local_state.save, aws.refs)
        server = LocalApi((host, port), after_write=after_write)
        bound = server.server_address[1]
        token = sample_token("local-user")
        print(
            f"""
Model config service, local API  http://{host}:{bound}   (started in {time.perf_counter() - started:.2f}s)
  AWS        {"embedded moto server at " + str(aws.endpoint) if aws.embedded else aws.endpoint or "real AWS"}
  table      {aws.refs["ConfigTable"]}
  data       {data}
  platform   {", ".join(aws.platform_providers) or "no provider keys set (OPENAI_API_KEY, ANTHROPIC_API_KEY, ...)"}
  providers  {_providers_line(standin)}
  identity   the `sub` of the Bearer JWT, decoded WITHOUT checking its signature (local stand-in for the
             API Gateway JWT authorizer; bound to {host} only)
  docs       http://{host}:{bound}/swagger   http://{host}:{bound}/openapi.json
  try        curl -H 'Authorization: Bearer {token}' http://{host}:{bound}/api/model-configs
Ctrl-C stops the server and the embedded AWS.
""",
            flush=True,
        )
        if ready is not None:
            ready.set()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
            if standin is not None:
                standin.stop()


def _providers_line(standin: Any) -> str:
    if standin is None:
        return "real: each provider's key or base URL is set"
    from infra.provider_standin import PREFIXES

    real = [p for p in PREFIXES if p not in standin.stood_in]
    return (
        f"STAND-IN on {standin.base} for {', '.join(standin.stood_in)} (offline: /test and key checks answer "
        "from it; a key containing 'invalid' is rejected). Set e.g. OPENAI_API_KEY or OPENAI_BASE_URL for the "
        "real one." + (f" Real: {', '.join(real)}." if real else "")
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--host", default="127.0.0.1", help="bind address (default 127.0.0.1; only this flag moves it, never HOST)"
    )
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT") or 3000))
    parser.add_argument(
        "--real-aws", action="store_true", help="use your AWS credentials and TABLE_NAME instead of embedded moto"
    )
    parser.add_argument(
        "--fresh", action="store_true", default=os.environ.get("FRESH", "") not in ("", "0"), help="start empty"
    )
    parser.add_argument("--token", metavar="SUB", help="print an unsigned local token for this user id, and exit")
    args = parser.parse_args(argv)
    if args.token is not None:
        print(sample_token(args.token))
        return 0
    if not is_loopback(args.host):
        if args.real_aws:
            parser.error("--real-aws serves real users' data: it binds to loopback only")
        print(f"warning: binding to {args.host}: anyone who can reach it can act as any user", file=sys.stderr)
    embedded = not args.real_aws and not os.environ.get("AWS_ENDPOINT_URL")
    if args.real_aws and not os.environ.get("TABLE_NAME"):
        parser.error("--real-aws needs TABLE_NAME (and PLATFORM_KEYS_SECRET_ID) of a deployed stack")
    try:
        with contextlib.suppress(KeyboardInterrupt):
            serve(args.host, args.port, embedded=embedded, fresh=args.fresh)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        print(
            f"port {args.port} is in use: stop what serves it, or run on another (make run PORT=3001)", file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
