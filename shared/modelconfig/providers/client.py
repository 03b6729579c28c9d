"""One bounded provider call: a single deadline over connect, send, wait and read, at most one retry and
only when the provider asks for it, no redirects, and every fault turned into a short human message.

The call runs on httpx's AsyncClient under asyncio.timeout, which is a real overall deadline (httpx's own
timeouts are per phase, so a server that drips bytes could hold a sync call for far longer). httpx's per-phase
timeouts are set to that deadline on every request: left at their default (5 s a phase) they would cut a longer
deadline short, and the message would name a wait that never happened. A timeout's message names the seconds
actually waited. The event loop and the client are made once per thread, which in Lambda means once per cold
start.
"""

from __future__ import annotations

import asyncio
import json
import math
import socket
import ssl
import threading
import time
from typing import Any, NamedTuple

import httpx

from modelconfig.providers.wire import UnexpectedResponse, WireRequest

MAX_RESPONSE_BYTES = 256 * 1024
RETRYABLE = frozenset({429, 500, 502, 503, 504, 529})
MAX_RETRY_WAIT_SECONDS = 2.0  # a provider asking for a longer wait gets no retry: the test answers at once
MAX_SHOWN_RETRY_AFTER = 86_400  # a provider's retry-after above a day is shown as "over a day", not as 309 digits
USER_AGENT = "model-config-service"


class CallResult(NamedTuple):
    text: str | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.error is None


class _Local(threading.local):
    loop: asyncio.AbstractEventLoop | None = None
    client: httpx.AsyncClient | None = None


_local = _Local()


def _runtime() -> tuple[asyncio.AbstractEventLoop, httpx.AsyncClient]:
    if _local.loop is None or _local.client is None or _local.loop.is_closed():
        _local.loop = asyncio.new_event_loop()
        _local.client = httpx.AsyncClient(
            follow_redirects=False,
            trust_env=False,
            headers={"user-agent": USER_AGENT},
            limits=httpx.Limits(max_connections=20, max_keepalive_connections=10, keepalive_expiry=60),
        )
    return _local.loop, _local.client


class KeyVerdict(NamedTuple):
    accepted: bool | None  # True: the provider accepted the key; False: it rejected it; None: no answer
    error: str | None  # why, when not accepted


def call(request: WireRequest, provider: str, timeout_seconds: float) -> CallResult:
    loop, client = _runtime()
    return loop.run_until_complete(_bounded(client, request, provider, timeout_seconds))


def check_key(request: WireRequest, provider: str, timeout_seconds: float) -> KeyVerdict:
    """Ask the provider once, with no retry and no redirect followed, whether the key of `request` works."""
    loop, client = _runtime()
    return loop.run_until_complete(_check(client, request, provider, timeout_seconds))


async def _check(client: httpx.AsyncClient, request: WireRequest, provider: str, timeout: float) -> KeyVerdict:
    started = time.monotonic()
    try:
        async with asyncio.timeout(timeout):
            status, headers, body = await _send(client, request, timeout)
    except (TimeoutError, httpx.TimeoutException):
        return KeyVerdict(None, _timed_out(started))
    except (httpx.HTTPError, _TooLarge) as exc:
        return KeyVerdict(None, _transport_error(exc))
    if 200 <= status < 300:
        return KeyVerdict(True, None)
    return KeyVerdict(False if _rejects_key(status, body) else None, describe_status(status, headers, body, provider))


def _timed_out(started: float) -> str:
    """The message of a call that ran out of time, naming how long it really waited."""
    return f"timed out after {round(time.monotonic() - started, 1):g}s"


async def _bounded(client: httpx.AsyncClient, request: WireRequest, provider: str, timeout: float) -> CallResult:
    started = time.monotonic()
    try:
        async with asyncio.timeout(timeout):
            return await _call_with_retry(client, request, provider, started + timeout)
    except TimeoutError:
        return CallResult(None, _timed_out(started))


async def _call_with_retry(
    client: httpx.AsyncClient, request: WireRequest, provider: str, deadline: float
) -> CallResult:
    for attempt in (1, 2):
        try:
            status, headers, body = await _send(client, request, deadline - time.monotonic())
        except httpx.TimeoutException:
            raise TimeoutError from None
        except (httpx.HTTPError, _TooLarge) as exc:
            return CallResult(None, _transport_error(exc))
        if 200 <= status < 300:
            return _read(request, body)
        wait = _retry_delay(status, headers)
        if attempt == 1 and wait is not None and wait <= MAX_RETRY_WAIT_SECONDS and time.monotonic() + wait < deadline:
            await asyncio.sleep(wait)
            continue
        return CallResult(None, describe_status(status, headers, body, provider))
    raise AssertionError("unreachable")  # pragma: no cover


class _TooLarge(Exception):
    pass


def _transport_error(exc: Exception) -> str:
    """A short message for a request that got no HTTP answer, naming why when the network says."""
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
        if isinstance(seen, socket.gaierror):
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


async def _send(client: httpx.AsyncClient, request: WireRequest, seconds: float) -> tuple[int, httpx.Headers, bytes]:
    """One request, read whole up to MAX_RESPONSE_BYTES. Each of httpx's phase timeouts is `seconds`, the time
    left of the caller's deadline, so only that deadline (asyncio.timeout around this) ever ends a call."""
    timeout = httpx.Timeout(max(seconds, 0.001))
    async with client.stream(
        request.method, request.url, headers=request.headers, json=request.body, timeout=timeout
    ) as response:
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > MAX_RESPONSE_BYTES:
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
