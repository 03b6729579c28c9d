"""The egress guard: the one gate for every server-side request to a URL a user chose (SPEC section 13).

A user's custom provider is a URL the service calls with the user's key: the check on save, a model test, and
the address check before resolve hands a key out. Every one of them passes here:

- The URL is made and checked by httpx, the library that sends the request, so no second parser can read it
  differently: absolute, `https` (plain `http` only for a host on the operator's allowlist), no user info, no
  fragment, at most 2,048 characters.
- Every address its host resolves to must be public: loopback, private, link-local, carrier-grade NAT,
  multicast, reserved and unspecified addresses are refused, and an IPv4 address inside an IPv6 one (mapped,
  IPv4-compatible, 6to4, NAT64, Teredo) is unwrapped and judged as IPv4. One refused address refuses the host.
  A host on `CUSTOM_PROVIDER_ALLOWED_HOSTS` (`host` or `host:port`) may resolve anywhere: the operator's choice.
- The connection goes to an address this check passed (the provider client's guarded backend resolves, checks
  and connects in one step, with TLS verified for the host name), so a DNS answer that changes between check
  and connect cannot move it.

A refusal names the rule, never an address: a user must not learn the service's internal network by probing.
The Lambda Runtime API (`AWS_LAMBDA_RUNTIME_API`, on loopback) is out of reach by the same rule, and stays out of
reach even when an operator allowlists a loopback host: its port on this machine is always refused.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import threading
import time
from typing import TYPE_CHECKING, NamedTuple

from modelconfig import instance
from modelconfig.settings import settings

if TYPE_CHECKING:
    import httpx

MAX_URL_LENGTH = 2048
RECHECK_SECONDS = 60.0  # how long resolve trusts an address check (SPEC section 11 and 13)
_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


class Refused(Exception):
    """A URL or an address the guard refuses. The message names the rule, fit to show a user; never an address."""


class LookupFailed(Exception):
    """The host's name did not resolve: nothing was judged, nothing was sent."""


class LookupTimedOut(LookupFailed):
    """The OS resolver did not answer before the deadline."""


# ---- the URL ----------------------------------------------------------------------------------------------------


def parse(raw: str) -> httpx.URL:
    """`raw` as the URL every request will be built from (no trailing slash), or Refused naming the rule."""
    import httpx

    if len(raw) > MAX_URL_LENGTH:
        raise Refused(f"baseUrl: at most {MAX_URL_LENGTH} characters")
    try:
        url = httpx.URL(raw.strip())
    except (httpx.InvalidURL, TypeError, ValueError):
        raise Refused("baseUrl: not a valid URL") from None
    if not url.is_absolute_url or not url.host:
        raise Refused("baseUrl: must be an absolute URL such as https://api.example.com/v1")
    if url.scheme not in ("https", "http"):
        raise Refused("baseUrl: must use https")
    if url.scheme == "http" and not allowlisted(url):
        raise Refused("baseUrl: must use https (plain http only for a host the operator allowlists)")
    if url.userinfo:
        raise Refused("baseUrl: must not carry user info (user:password@); send the key as apiKey")
    if url.fragment or "#" in raw:
        raise Refused("baseUrl: must not carry a fragment (#...)")
    if url.query:
        raise Refused("baseUrl: must not carry a query (?...)")
    return url.copy_with(path=url.path.rstrip("/"))


def allowlisted(url: httpx.URL) -> bool:
    """Whether the operator allowlists the URL's host (`host`, or `host:port` for its port)."""
    return allowlisted_host(url.host, port_of(url))


def allowlisted_host(host: str, port: int) -> bool:
    hosts = settings().custom_provider_allowed_hosts
    if not hosts:
        return False
    shown = f"[{host.lower()}]" if ":" in host else host.lower()
    return shown in hosts or f"{shown}:{port}" in hosts


def port_of(url: httpx.URL) -> int:
    return url.port or (443 if url.scheme == "https" else 80)


# ---- addresses --------------------------------------------------------------------------------------------------


def _wrapped(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, Teredo's client, NAT64, IPv4-compatible)."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if any(ip in network for network in _NAT64) or (ip in _IPV4_COMPATIBLE and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _as_judged(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """`address` as the rules judge it: an IPv4 address inside an IPv6 one unwrapped; None when unreadable."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    return (_wrapped(ip) if isinstance(ip, ipaddress.IPv6Address) else None) or ip


def refusal(address: str) -> str | None:
    """Why `address` may not be called (a category, never the address), or None for a public address."""
    ip = _as_judged(address)
    if ip is None:
        return "an address that cannot be read"
    checks = (
        (ip.is_unspecified, "an unspecified address"),
        (ip.is_loopback, "a loopback address"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_multicast, "a multicast address"),
        (isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT, "a carrier-grade NAT address"),
        (ip.is_reserved, "a reserved address"),
        (ip.is_private, "a private address"),
        (not ip.is_global, "an address that is not public"),
    )
    return next((why for refused, why in checks if refused), None)


_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")


def judge(addresses: list[str]) -> None:
    """Refused when any of the host's addresses is not public: one inside address refuses the host."""
    for address in addresses:
        why = refusal(address)
        if why is not None:
            raise Refused(f"baseUrl: its host resolves to {why}; a custom provider must be on the public internet")


def judge_literal(url: httpx.URL) -> None:
    """Judge a host written as an address (checked even when nothing is sent: `?verify=false`)."""
    try:
        ipaddress.ip_address(url.host)
    except ValueError:
        return
    if not allowlisted(url):
        judge([url.host])


def lookup(host: str, port: int, timeout: float) -> list[str]:
    """Every address `host` resolves to, waiting at most `timeout` for the OS resolver (which has no timeout of
    its own: a thread does the lookup, and a lookup still running at the deadline is left to finish alone).
    LookupFailed when it fails, or LookupTimedOut when it takes too long."""
    found: list[list[str] | OSError] = []

    def resolve() -> None:
        try:
            found.append([str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)])
        except OSError as exc:
            found.append(exc)

    worker = threading.Thread(target=resolve, daemon=True)
    worker.start()
    worker.join(max(timeout, 0))
    if not found:
        raise LookupTimedOut("name lookup timed out")
    if isinstance(found[0], OSError) or not found[0]:
        raise LookupFailed("DNS lookup failed")
    return found[0]


def check(host: str, port: int, timeout: float) -> list[str]:
    """The host's addresses, each judged (unless the operator allowlists the host): the only addresses a
    guarded request may connect to. Refused or LookupFailed."""
    addresses = lookup(host, port, timeout)
    if not allowlisted_host(host, port):
        judge(addresses)
    if port == _runtime_api_port() and any(_on_this_machine(a) for a in addresses):
        # Even an allowlisted host: a request to the Runtime API could take the next invocation's event.
        raise Refused("baseUrl: that is the Lambda runtime's own endpoint, which no request may reach")
    return addresses


def _runtime_api_port() -> int | None:
    """The port of the Lambda Runtime API on this machine (`AWS_LAMBDA_RUNTIME_API`, host:port), if any."""
    _, _, port = os.environ.get("AWS_LAMBDA_RUNTIME_API", "").rpartition(":")
    return int(port) if port.isdigit() else None


def _on_this_machine(address: str) -> bool:
    ip = _as_judged(address)
    return ip is not None and (ip.is_loopback or ip.is_unspecified)


# ---- resolve's re-check, cached ---------------------------------------------------------------------------------


class _Verdict(NamedTuple):
    error: str | None
    until: float


_verdicts: dict[tuple[str, int], _Verdict] = {}
MAX_CACHED_HOSTS = 1000


def recheck(base_url: str, timeout: float = 2.0) -> str | None:
    """Whether the stored `base_url`'s host still resolves only to addresses it may use: None, or why not (fit to
    show). A verdict is reused for at most RECHECK_SECONDS per host and port."""
    try:
        url = parse(base_url)
    except Refused as exc:
        return str(exc)
    key = (url.host.lower(), port_of(url))
    now = time.monotonic()
    cached = _verdicts.get(key)
    if cached is not None and cached.until > now:
        return cached.error
    try:
        check(url.host, key[1], timeout)
        error = None
    except (Refused, LookupFailed) as exc:
        error = str(exc)
    if len(_verdicts) >= MAX_CACHED_HOSTS:
        _verdicts.clear()
    _verdicts[key] = _Verdict(error, now + RECHECK_SECONDS)
    return error


@instance.keeps
def reset_cache() -> None:
    _verdicts.clear()
