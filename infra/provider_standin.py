"""A loopback stand-in for the four providers, so that `make run` works offline, `/test` included.

It speaks each wire format the service uses: OpenAI and Grok chat completions, Anthropic messages, Gemini
`generateContent`, and each provider's model list, which the key check on PUT reads. A key containing
`invalid` is rejected as a provider would (401, or Gemini's 400 `API_KEY_INVALID`). `make run` starts it for
every provider that has neither a key (`OPENAI_API_KEY`, ...) nor a base URL (`OPENAI_BASE_URL`, ...) set,
and makes those providers platform-enabled with a stand-in key; a real key or base URL switches it off for
that provider. Its OpenAI endpoint (`/openai/v1`) also serves as a custom provider: `make run` allowlists the
stand-in's host:port (CUSTOM_PROVIDER_ALLOWED_HOSTS) and nothing else of this machine. The tests' provider
server (tests/provider_server.py) extends it with misbehaviours.
"""

from __future__ import annotations

import json
import os
import threading
from http.server import ThreadingHTTPServer
from typing import Any

from infra.local_aws import PLATFORM_KEY_VARS as KEY_VARS
from infra.local_aws import is_free, listed_providers
from infra.loopback import KeepAliveHandler
from modelconfig.catalog import CATALOG

# Per provider: where its stand-in lives under the server, and the variables that switch it off.
PREFIXES = {"openai": "/openai/v1", "anthropic": "/anthropic", "google-ai-studio": "/google", "grok": "/grok/v1"}
BASE_URL_VARS = {p: CATALOG.providers[p].base_url_env or "" for p in PREFIXES}  # the catalog names them
# The platform keys of stood-in providers: each of its provider's shape, none a real key.
KEYS = {
    "openai": "sk-standin-openai-000000",
    "anthropic": "sk-ant-standin-anthropic-0000",
    "google-ai-studio": "AIza-standin-google-00000000000",
    "grok": "xai-standin-grok-000000",
}


def reply_body(path: str, text: str) -> dict[str, Any]:
    """A successful model answer in the wire format of `path`."""
    if "/chat/completions" in path:
        return {
            "id": "chatcmpl-standin",
            "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        }
    if path.endswith("/v1/messages"):
        content = [{"type": "text", "text": text}]
        return {"id": "msg_standin", "type": "message", "role": "assistant", "content": content}
    if ":generateContent" in path:
        return {"candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP"}]}
    return {"error": {"message": "unknown path"}}


def models_body(path: str) -> dict[str, Any]:
    """A provider's model list (what a key check reads)."""
    if path.startswith(PREFIXES["google-ai-studio"]):
        return {"models": [{"name": "models/gemini-2.5-flash"}]}
    return {"object": "list", "data": [{"id": "standin-model", "object": "model"}]}


def rejects(headers: dict[str, str]) -> bool:
    """A key containing 'invalid' is one the stand-in does not accept."""
    return any("invalid" in headers.get(h, "") for h in ("authorization", "x-api-key", "x-goog-api-key"))


def rejection(path: str) -> tuple[int, dict[str, Any]]:
    if path.startswith(PREFIXES["google-ai-studio"]):
        details = [{"reason": "API_KEY_INVALID"}]
        return 400, {"error": {"code": 400, "status": "INVALID_ARGUMENT", "details": details}}
    return 401, {"error": {"message": "Incorrect API key provided"}}


def provider_of(path: str) -> str:
    return next((p for p, prefix in PREFIXES.items() if path.startswith(prefix + "/")), "provider")


class StandInHandler(KeepAliveHandler):
    def headers_seen(self) -> dict[str, str]:
        return {k.lower(): v for k, v in self.headers.items()}

    def body_seen(self) -> Any:
        raw = self.rfile.read(int(self.headers.get("content-length", "0")))
        try:
            return json.loads(raw)
        except ValueError:
            return raw.decode("utf-8", "replace")

    def do_GET(self) -> None:
        if rejects(self.headers_seen()):
            self.send_json(*rejection(self.path))
            return
        self.send_json(200, models_body(self.path))

    def do_POST(self) -> None:
        self.body_seen()
        if rejects(self.headers_seen()):
            self.send_json(*rejection(self.path))
            return
        self.send_json(200, reply_body(self.path, f"OK, this is the {provider_of(self.path)} stand-in answering."))

    def send_json(self, status: int, doc: Any, headers: dict[str, str] | None = None) -> None:
        self.send_raw(status, json.dumps(doc).encode(), headers or {})

    def send_raw(self, status: int, payload: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for k, v in ({"content-type": "application/json"} | headers).items():
            self.send_header(k, v)
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class ProviderStandIn(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, handler: type[StandInHandler] = StandInHandler, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), handler)
        self.stood_in: list[str] = []  # the providers `make run` points here
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def base_urls(self) -> dict[str, str]:
        """The base URL variable of each provider, pointing at this server."""
        return {BASE_URL_VARS[p]: self.base + prefix for p, prefix in PREFIXES.items()}

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


def stand_in_for_unset(
    environ: os._Environ[str] | dict[str, str] = os.environ, port: int = 0
) -> ProviderStandIn | None:
    """Start the stand-in for every provider with neither a key nor a base URL in `environ`, and point those
    providers at it, with a stand-in platform key for those that are platform-enabled (all of them, unless
    PLATFORM_MODEL_PROVIDERS lists some: the others are BYOK-only, and the stand-in answers their users' keys).
    It listens on `port` when that is free (`make run` asks for its own port + 2, so the README's custom-provider
    URL holds), else on any free port. Returns the server (None when every provider is real)."""
    missing = [p for p in PREFIXES if not environ.get(KEY_VARS[p]) and not environ.get(BASE_URL_VARS[p])]
    if not missing:
        return None
    listed = listed_providers(environ)
    server = ProviderStandIn(port=port if port and is_free(port) else 0)
    urls = server.base_urls()
    for p in missing:
        environ[BASE_URL_VARS[p]] = urls[BASE_URL_VARS[p]]
        if listed is None or p in listed:
            environ[KEY_VARS[p]] = KEYS[p]
    server.stood_in = missing
    # Its OpenAI-compatible endpoint can be added as a custom provider, offline: the operator's allowlist gets the
    # stand-in's own host:port (plain http, on loopback), and nothing else on this machine.
    allowed = [h for h in environ.get("CUSTOM_PROVIDER_ALLOWED_HOSTS", "").split(",") if h.strip()]
    environ["CUSTOM_PROVIDER_ALLOWED_HOSTS"] = ",".join([*allowed, f"127.0.0.1:{server.server_address[1]}"])
    return server
