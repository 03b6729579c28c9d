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
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http import HTTPStatus
from http.server import ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from infra import local_state, runtime
from infra.local_aws import RUN_SETTINGS, LocalAws, is_free
from infra.loopback import LOCAL_ORIGIN, KeepAliveHandler, host_name, is_loopback
from modelconfig.api import envelope
from modelconfig.errors import (
    AccessDenied,
    DomainError,
    InvalidInput,
    NotAllowedMethod,
    NotFound,
    PayloadTooLarge,
    Unauthenticated,
)

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


_NAME_OF_FRAMING = {413: "PayloadTooLarge", 414: "PayloadTooLarge", 431: "PayloadTooLarge"}


def _framing_message(status: HTTPStatus) -> str:
    if status in (HTTPStatus.REQUEST_URI_TOO_LONG, HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE):
        return f"malformed request: {status.phrase.lower()} (the request line and each header up to 64 KB)"
    return f"malformed request: {status.phrase.lower()}"


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


class _RequestHandler(KeepAliveHandler):
    server: LocalApi

    def __getattr__(self, name: str) -> Any:
        # Every method reaches _dispatch (GET, TRACE, PATCH, anything), so each answer is the envelope: a method
        # the path lacks is a 405 with Allow, never the standard library's 501 HTML page.
        if name.startswith("do_"):
            return self._dispatch
        raise AttributeError(name)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The standard library's own answers to broken framing (a request line or header over its limits, a
        bad version): the envelope, never its HTML page. The connection closes: its framing is not to be trusted."""
        self.close_connection = True
        self.request_version = "HTTP/1.1"  # an unreadable version leaves HTTP/0.9, which answers without a status line
        status = HTTPStatus(code)
        rendered = envelope.render(status, _NAME_OF_FRAMING.get(code, "ValidationError"), _framing_message(status))
        self._send(rendered.status, rendered.body.encode(), {**rendered.headers, "connection": "close"})

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
        length = self._content_length()
        if length is None:
            self.close_connection = True
            return self._error(InvalidInput("Content-Length must be one non-negative integer"))
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
            return self._answer(envelope.internal(event["requestContext"]["requestId"]))
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
        return self._answer(envelope.from_domain(exc, "local"))

    def _answer(self, rendered: envelope.Rendered) -> int:
        return self._send(rendered.status, rendered.body.encode(), rendered.headers)

    def _content_length(self) -> int | None:
        """The body's length, or None when the header is not one non-negative integer (nothing can be read)."""
        values = self.headers.get_all("content-length") or []
        if not values:
            return 0
        if len(set(values)) != 1 or not values[0].strip().isdigit():
            return None
        return int(values[0])

    def _drain(self) -> None:
        length = self._content_length()
        if length is None:
            self.close_connection = True
        elif 0 < length <= MAX_REQUEST_BYTES:
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
        request_headers = getattr(self, "headers", None)  # none yet when the request line itself was refused
        origin = request_headers.get("origin") if request_headers is not None else None
        if origin is not None and LOCAL_ORIGIN.fullmatch(origin):
            self.send_header("access-control-allow-origin", origin)
            self.send_header("vary", "Origin")
            self.send_header("access-control-allow-headers", "authorization, content-type, if-match")
            self.send_header("access-control-expose-headers", "etag")
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

    standin = (
        stand_in_for_unset(port=port + 2 if port else 0) if embedded else None
    )  # offline, every provider without a key or URL
    with LocalAws.start(embedded=embedded, port=port + 1 if port else 0) as aws:
        aws.apply_environment(*runtime.functions(aws.refs))
        if aws.embedded:  # for `make invoke` pointed at this AWS: the same providers and table
            aws.publish_settings(RUN_SETTINGS)
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
  platform   {_platform_line(aws.platform_providers)}
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


def _platform_line(enabled: list[str]) -> str:
    from infra.provider_standin import PREFIXES

    byok_only = [p for p in PREFIXES if p not in enabled]
    if not enabled:
        return "no provider is platform-enabled (set OPENAI_API_KEY, ... or PLATFORM_MODEL_PROVIDERS): BYOK only"
    return ", ".join(enabled) + (f"; BYOK only (users' own keys): {', '.join(byok_only)}" if byok_only else "")


def _providers_line(standin: Any) -> str:
    if standin is None:
        return "real: each provider's key or base URL is set"
    from infra.provider_standin import PREFIXES

    real = [p for p in PREFIXES if p not in standin.stood_in]
    return (
        f"STAND-IN on {standin.base} for {', '.join(standin.stood_in)} (offline: /test and key checks answer "
        "from it; a key containing 'invalid' is rejected). Set e.g. OPENAI_API_KEY or OPENAI_BASE_URL for the "
        "real one." + (f" Real: {', '.join(real)}." if real else "") + f"\n             custom     "
        f"{standin.base}/openai/v1 can be added as a custom provider (allowlisted: CUSTOM_PROVIDER_ALLOWED_HOSTS)"
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
    if args.real_aws and not (os.environ.get("TABLE_NAME") and os.environ.get("AUDIT_TABLE_NAME")):
        parser.error("--real-aws needs TABLE_NAME, AUDIT_TABLE_NAME (and PLATFORM_KEYS_SECRET_ID) of a deployed stack")
    busy = f"port {args.port} is in use: stop what serves it, or run on another (make run PORT={args.port + 10})"
    if args.port and not is_free(args.port, args.host):
        print(busy, file=sys.stderr)  # asked before anything starts, so the answer is immediate
        return 1
    try:
        with contextlib.suppress(KeyboardInterrupt):
            serve(args.host, args.port, embedded=embedded, fresh=args.fresh)
    except local_state.Damaged as exc:
        print(exc, file=sys.stderr)
        return 1
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        print(busy, file=sys.stderr)  # taken between the question and the bind
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
