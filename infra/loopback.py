"""What "only this machine" means for the local servers (the API and its embedded AWS): a loopback `Host`, so
a DNS-rebinding page cannot address them by its own name, and no cross-origin caller but a local page."""

from __future__ import annotations

import ipaddress
import re
import socket
from http.server import BaseHTTPRequestHandler
from typing import Any

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


class KeepAliveHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 keep-alive with TCP_NODELAY (without it a keep-alive answer waits ~40 ms on delayed ACKs),
    and no per-request stderr line from the standard library."""

    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *_args: Any) -> None:
        pass
