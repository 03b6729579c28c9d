"""A fake network for the egress guard's tests: no traffic ever leaves loopback.

Names resolve from a table the test writes (`answers`; a list of answers is served one per lookup, for DNS
rebinding), loopback names resolve as usual, and anything else fails as an unknown name would. Every connection
is recorded; one to a non-loopback address is refused here, in the test, before it leaves the machine, with its
destination kept in `refused`."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field
from typing import Any

import pytest

LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%")[0]).is_loopback
    except ValueError:
        return False


@dataclass
class FakeNetwork:
    answers: dict[str, list[str] | list[list[str]]] = field(default_factory=dict)
    lookups: list[str] = field(default_factory=list)  # every name looked up, in order
    connects: list[tuple[str, int]] = field(default_factory=list)  # every destination, in order
    refused: list[tuple[str, int]] = field(default_factory=list)  # destinations off loopback, stopped here

    def resolve(self, host: str, addresses: list[str] | list[list[str]]) -> None:
        """`host` resolves to `addresses`; a list of lists is one answer per lookup (the last one repeats)."""
        self.answers[host.lower()] = addresses

    def getaddrinfo(self, real: Any, host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        name = host.decode() if isinstance(host, bytes) else str(host)
        self.lookups.append(name)
        planned = self.answers.get(name.lower())
        if planned is None:
            if name in LOOPBACK_NAMES or _is_loopback(name):
                return real(host, port, *args, **kwargs)
            try:
                ipaddress.ip_address(name.split("%")[0])
            except ValueError:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
            planned = [name]  # an address literal resolves to itself, as getaddrinfo does
        answer = planned
        if planned and isinstance(planned[0], list):
            answer = planned.pop(0) if len(planned) > 1 else planned[0]
        out = []
        for address in answer:
            family = socket.AF_INET6 if ":" in str(address) else socket.AF_INET
            sockaddr = (address, int(port or 0), 0, 0) if family == socket.AF_INET6 else (address, int(port or 0))
            out.append((family, socket.SOCK_STREAM, 6, "", sockaddr))
        return out

    def headed_off_loopback(self) -> list[tuple[str, int]]:
        return list(self.refused)


@pytest.fixture
def network(monkeypatch: pytest.MonkeyPatch) -> FakeNetwork:
    fake = FakeNetwork()
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        return fake.getaddrinfo(real_getaddrinfo, host, port, *args, **kwargs)

    def connect(sock: socket.socket, address: Any) -> None:
        if isinstance(address, tuple):
            host, port = str(address[0]), int(address[1])
            fake.connects.append((host, port))
            if not _is_loopback(host):
                fake.refused.append((host, port))
                raise ConnectionRefusedError(111, "refused by the test: off loopback")
        real_connect(sock, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    return fake
