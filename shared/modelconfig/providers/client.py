"""One bounded provider call: a single deadline over name lookup, connect, TLS, send, wait and read, at most one
retry and only when the provider asks for it, no redirects, and every fault turned into a short human message.

The deadline is real, without an event loop: every blocking step of a request waits at most what is left of it.
The client is httpx's sync client over its own transport, whose network backend (`_DeadlineBackend`) clamps
each socket operation's timeout (connect, the TLS handshake, every write and every read) to the time left and
runs the name lookup, which the OS does without a timeout, in a thread it stops waiting for at the deadline. A
server that drips one byte at a time is cut off when the deadline passes, as asyncio.timeout cut it off before.
httpx's own per-phase timeouts are set to the same deadline on every request: left at their default (5 s a phase)
they would cut a longer deadline short, and the message would name a wait that never happened. A timeout's
message names the seconds actually waited.

Why not httpx's AsyncClient: nothing here runs concurrently, and asyncio with anyio (which httpcore's async side
loads on its first request) cost a cold start that calls a provider about 90 ms (docs/benchmarks.md). The client
is made once per process, which in Lambda means once per cold start.
"""

from __future__ import annotations

import json
import math
import socket
import ssl
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any, NamedTuple

import httpcore
import httpx

from modelconfig import instance
from modelconfig.providers import egress
from modelconfig.providers.wire import UnexpectedResponse, WireRequest

MAX_RESPONSE_BYTES = 256 * 1024
MAX_CUSTOM_RESPONSE_BYTES = 1024 * 1024  # SPEC section 13: a user's endpoint's answer over 1 MB is cut off
RETRYABLE = frozenset({429, 500, 502, 503, 504, 529})
MAX_RETRY_WAIT_SECONDS = 2.0  # a provider asking for a longer wait gets no retry: the test answers at once
MAX_SHOWN_RETRY_AFTER = 86_400  # a provider's retry-after above a day is shown as "over a day", not as 309 digits
USER_AGENT = "model-config-service"
_sleep = time.sleep  # the wait before the one retry (tests record it instead)


class CallResult(NamedTuple):
    text: str | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.error is None


class KeyVerdict(NamedTuple):
    accepted: bool | None  # True: the provider accepted the key; False: it rejected it; None: no answer
    error: str | None  # why, when not accepted


# ---- the deadline under every socket operation ----------------------------------------------------------------


class _Deadline(threading.local):
    at: float = math.inf  # time.monotonic() by which the current request must be over


_deadline = _Deadline()


@contextmanager
def _until(deadline: float) -> Iterator[None]:
    _deadline.at = deadline
    try:
        yield
    finally:
        _deadline.at = math.inf


def _left(timeout: float | None, expired: type[Exception]) -> float:
    """A step's timeout clamped to what is left of the deadline; `expired` raised when nothing is."""
    left = _deadline.at - time.monotonic()
    if left <= 0:
        raise expired("the deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        return _DeadlineStream(
            self._inner.start_tls(ssl_context, server_hostname, _left(timeout, httpcore.ConnectTimeout))
        )

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's sync backend, each step held to the request's deadline. With `guarded`, it is the egress guard's
    connection step (providers/egress.py): the host's addresses are resolved once, every one is judged, and the
    connection goes only to those judged addresses; httpcore then runs TLS on that socket for the URL's host
    name (SNI and certificate), so a DNS answer that changes between check and connect cannot move it."""

    def __init__(self, *, guarded: bool = False) -> None:
        self._inner = httpcore.SyncBackend()
        self._guarded = guarded

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            wait = _left(timeout, httpcore.ConnectTimeout)
            addresses = egress.check(host, port, wait) if self._guarded else egress.lookup(host, port, wait)
        except egress.LookupTimedOut as exc:
            raise httpcore.ConnectTimeout(str(exc)) from exc
        except egress.LookupFailed as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        failed: httpcore.ConnectError | None = None
        for address in addresses:  # each in turn, as socket.create_connection does
            try:
                stream = self._inner.connect_tcp(
                    address, port, _left(timeout, httpcore.ConnectTimeout), local_address, socket_options
                )
            except httpcore.ConnectError as exc:
                failed = exc
                continue
            return _DeadlineStream(stream)
        assert failed is not None  # a lookup answers at least one address or raises
        raise failed

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise httpcore.UnsupportedProtocol("providers are reached over TCP")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class _Transport(httpx.HTTPTransport):
    """httpx's sync transport over `_DeadlineBackend` (httpx takes no network backend of its own: its pool is
    replaced as it was made, with the same settings)."""

    def __init__(self, ssl_context: ssl.SSLContext, limits: httpx.Limits, *, guarded: bool) -> None:
        super().__init__(verify=ssl_context, trust_env=False, limits=limits)
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_DeadlineBackend(guarded=guarded),
        )


@cache
def _ssl_context() -> ssl.SSLContext:
    import certifi

    return ssl.create_default_context(cafile=certifi.where())  # httpx's own default trust store


@cache
def _client(*, guarded: bool = False) -> httpx.Client:
    """The client for the catalog's providers (operator-set URLs), or with `guarded` the one for users' own
    endpoints, whose every connection passes the egress guard. Each made once per process; one trust store."""
    limits = httpx.Limits(max_connections=20, max_keepalive_connections=10, keepalive_expiry=60)
    return httpx.Client(
        transport=_Transport(_ssl_context(), limits, guarded=guarded),
        follow_redirects=False,
        trust_env=False,
        headers={"user-agent": USER_AGENT},
    )


@instance.keeps
def reset_clients() -> None:
    """Forget the provider clients and their pooled connections; the next request makes them again. The trust
    store stays: it is the layer's CA bundle, read the same by every instance."""
    _client.cache_clear()


def call(request: WireRequest, provider: str, timeout_seconds: float) -> CallResult:
    started = time.monotonic()
    try:
        with _until(started + timeout_seconds):
            return _call_with_retry(_client(), request, provider, started + timeout_seconds)
    except TimeoutError:
        return CallResult(None, _timed_out(started))


# ---- users' own endpoints, through the egress guard ------------------------------------------------------------


def _ask_guarded(request: WireRequest, timeout_seconds: float) -> tuple[int, httpx.Headers, bytes] | str:
    """One request to a user's own endpoint through the guard (no retry, no redirect, one deadline, 1 MB): its
    answer, or why none came, as a short message. A URL or an address the guard refuses raises egress.Refused."""
    started = time.monotonic()
    try:
        with _until(started + timeout_seconds):
            return _send(_client(guarded=True), request, timeout_seconds, guarded=True)
    except httpx.TimeoutException:
        return _timed_out(started)
    except (httpx.HTTPError, _TooLarge) as exc:
        return _transport_error(exc)


def call_custom(request: WireRequest, provider: str, timeout_seconds: float) -> CallResult:
    """A model call to a user's own endpoint (a test), through the guard."""
    try:
        answer = _ask_guarded(request, timeout_seconds)
    except egress.Refused as exc:
        return CallResult(None, str(exc))
    if isinstance(answer, str):
        return CallResult(None, answer)
    status, headers, body = answer
    if 200 <= status < 300:
        return _read(request, body)
    return CallResult(None, describe_status(status, headers, body, provider))


class ModelList(NamedTuple):
    """What a custom endpoint's model list said: `accepted` as KeyVerdict's, and its model ids when it answered."""

    accepted: bool | None
    models: list[str] | None
    error: str | None


def list_models(request: WireRequest, provider: str, timeout_seconds: float) -> ModelList:
    """GET a custom endpoint's model list through the guard (the check on save): its `data[].id`, when it answers
    one. egress.Refused passes on: the URL's rule, a 400 of its own."""
    answer = _ask_guarded(request, timeout_seconds)
    if isinstance(answer, str):
        return ModelList(None, None, answer)
    status, headers, body = answer
    if status in (401, 403):
        return ModelList(False, None, describe_status(status, headers, body, provider))
    if not 200 <= status < 300:
        return ModelList(None, None, describe_status(status, headers, body, provider))
    try:
        doc = json.loads(body)
        ids = [entry["id"] for entry in doc["data"]]
    except (ValueError, RecursionError, KeyError, TypeError):
        return ModelList(True, None, "unexpected response from provider (no model list)")
    return ModelList(True, [i for i in ids if isinstance(i, str)], None)


def check_key(request: WireRequest, provider: str, timeout_seconds: float) -> KeyVerdict:
    """Ask the provider once, with no retry and no redirect followed, whether the key of `request` works."""
    started = time.monotonic()
    try:
        with _until(started + timeout_seconds):
            status, headers, body = _send(_client(), request, timeout_seconds)
    except httpx.TimeoutException:
        return KeyVerdict(None, _timed_out(started))
    except (httpx.HTTPError, _TooLarge) as exc:
        return KeyVerdict(None, _transport_error(exc))
    if 200 <= status < 300:
        return KeyVerdict(True, None)
    return KeyVerdict(False if _rejects_key(status, body) else None, describe_status(status, headers, body, provider))


def _timed_out(started: float) -> str:
    """The message of a call that ran out of time, naming how long it really waited."""
    return f"timed out after {round(time.monotonic() - started, 1):g}s"


def _call_with_retry(client: httpx.Client, request: WireRequest, provider: str, deadline: float) -> CallResult:
    for attempt in (1, 2):
        try:
            status, headers, body = _send(client, request, deadline - time.monotonic())
        except httpx.TimeoutException:
            raise TimeoutError from None
        except (httpx.HTTPError, _TooLarge) as exc:
            return CallResult(None, _transport_error(exc))
        if 200 <= status < 300:
            return _read(request, body)
        wait = _retry_delay(status, headers)
        if attempt == 1 and wait is not None and wait <= MAX_RETRY_WAIT_SECONDS and time.monotonic() + wait < deadline:
            _sleep(wait)
            continue
        return CallResult(None, describe_status(status, headers, body, provider))
    raise AssertionError("unreachable")  # pragma: no cover


class _TooLarge(Exception):
    pass


class _Compressed(_TooLarge):
    """A user's endpoint answered compressed although asked not to: not opened (it could be a bomb)."""


def _transport_error(exc: Exception) -> str:
    """A short message for a request that got no HTTP answer, naming why when the network says."""
    if isinstance(exc, _Compressed):
        return "unexpected response from provider (compressed, though asked not to be)"
    if isinstance(exc, _TooLarge):
        return "unexpected response from provider (too large)"
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)):
        return "provider closed the connection"
    return f"could not reach provider ({_unreachable_reason(exc)})"


def _unreachable_reason(exc: BaseException) -> str:
    """DNS, refused, TLS or network: read from the OS error under httpx's and httpcore's wrappers."""
    seen: BaseException | None = exc
    for _ in range(8):  # the chain is httpx -> httpcore -> OSError; a bound keeps a cycle harmless
        if seen is None:
            break
        if isinstance(seen, (socket.gaierror, egress.LookupFailed)):
            return "DNS lookup failed"
        if isinstance(seen, ssl.SSLError):
            return "TLS handshake failed"
        if isinstance(seen, ConnectionRefusedError):
            return "connection refused"
        seen = seen.__cause__ or seen.__context__
    text = str(exc).lower()
    if "name or service" in text or "nodename" in text or "getaddrinfo" in text:
        return "DNS lookup failed"
    if "ssl" in text or "certificate" in text or "tls" in text:
        return "TLS handshake failed"
    if "refused" in text or "all connection attempts failed" in text:
        return "connection refused"
    if isinstance(exc, httpx.UnsupportedProtocol):
        return "unsupported URL"
    return "network error"


def _send(
    client: httpx.Client, request: WireRequest, seconds: float, *, guarded: bool = False
) -> tuple[int, httpx.Headers, bytes]:
    """One request, read whole up to MAX_RESPONSE_BYTES (`guarded`, a user's endpoint: MAX_CUSTOM_RESPONSE_BYTES,
    as sent: asked for no compression, and not opened when compressed, so no decompression bomb is). Each of
    httpx's phase timeouts is `seconds`, the time left of the caller's deadline; the deadline itself holds every
    socket operation under it (`_until`)."""
    if seconds <= 0:
        raise httpx.TimeoutException("the deadline passed")
    timeout = httpx.Timeout(seconds)
    headers = request.headers | {"accept-encoding": "identity"} if guarded else request.headers
    limit = MAX_CUSTOM_RESPONSE_BYTES if guarded else MAX_RESPONSE_BYTES
    with client.stream(request.method, request.url, headers=headers, json=request.body, timeout=timeout) as response:
        if guarded and response.headers.get("content-encoding", "identity").lower() != "identity":
            raise _Compressed
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_raw() if guarded else response.iter_bytes():
            size += len(chunk)
            if size > limit:
                raise _TooLarge
            chunks.append(chunk)
        return response.status_code, response.headers, b"".join(chunks)


def _read(request: WireRequest, body: bytes) -> CallResult:
    try:
        text = request.read_text(json.loads(body))
    except (ValueError, RecursionError, UnexpectedResponse):
        return CallResult(None, "unexpected response from provider")
    return CallResult(text, None)


def _retry_after(headers: httpx.Headers) -> float | None:
    """Seconds the provider asks us to wait (retry-after-ms or retry-after in seconds), if it says."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        raw = headers.get(name)
        if raw is None:
            continue
        try:
            value = float(raw) * scale
        except ValueError:
            continue
        if math.isfinite(value) and value >= 0:
            return value
    return None


def _retry_delay(status: int, headers: httpx.Headers) -> float | None:
    """How long to wait before the one retry, or None when the provider did not ask for one."""
    if status not in RETRYABLE:
        return None
    should = headers.get("x-should-retry", "").lower()
    if should == "false":
        return None
    delay = _retry_after(headers)
    if delay is not None:
        return delay
    return 0.5 if should == "true" else None


def _error_reason(body: bytes) -> str:
    """The machine-readable reason of a Google error body, if any (never shown as-is)."""
    try:
        doc: Any = json.loads(body)
        error = doc.get("error", {}) if isinstance(doc, dict) else {}
        reasons = [d.get("reason", "") for d in error.get("details", []) if isinstance(d, dict)]
        return " ".join([*reasons, str(error.get("status", "")), str(error.get("message", ""))])
    except (ValueError, RecursionError, AttributeError, TypeError):
        return ""


def _rejects_key(status: int, body: bytes) -> bool:
    """The provider's answer for a key it does not accept: 401/403, or Gemini's 400 API_KEY_INVALID."""
    return status in (401, 403) or (
        status == 400 and ("API_KEY_INVALID" in (reason := _error_reason(body)) or "API key not valid" in reason)
    )


def _retry_hint(wait: float | None) -> str:
    if wait is None:
        return ""
    if wait > MAX_SHOWN_RETRY_AFTER:
        return " (retry after more than a day)"
    return f" (retry after {math.ceil(wait)}s)"


def describe_status(status: int, headers: httpx.Headers, body: bytes, provider: str) -> str:
    """A short, normalised message for a non-2xx answer. The upstream body is read, never echoed."""
    if _rejects_key(status, body):
        return f"invalid API key for {provider}"
    if status == 429:
        wait = _retry_after(headers)
        return "rate limited by provider" + _retry_hint(wait)
    if status >= 500 or status == 529:
        return f"provider unavailable (HTTP {status})"
    if status == 404:
        return "model not found at provider (HTTP 404)"
    if 300 <= status < 400:
        return f"unexpected response from provider (HTTP {status})"
    return f"provider rejected the request (HTTP {status})"
