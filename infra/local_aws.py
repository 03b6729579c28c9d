"""AWS for local runs: moto in server mode inside this process (the default), or whatever AWS_ENDPOINT_URL
points at (DynamoDB Local, LocalStack), or real AWS with --real-aws. Creates the template's table and the
platform keys secret where they are missing; platform keys come from OPENAI_API_KEY, ANTHROPIC_API_KEY,
GOOGLE_AI_STUDIO_API_KEY and GROK_API_KEY."""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from infra import runtime
from infra.loopback import host_name, is_loopback
from modelconfig.catalog import CATALOG
from modelconfig.settings import provider_list

LOCAL_TABLE = "model-config-local"
LOCAL_AUDIT_TABLE = "model-config-audit-local"
LOCAL_PLATFORM_SECRET = "model-config/platform-keys"  # noqa: S105 - a secret's name, not a secret
# What `make run` tells a `make invoke` pointed at its embedded AWS: the settings its functions run with (the
# provider stand-in's base URLs among them), kept in that AWS itself, so the two can never disagree.
RUN_SETTINGS_SECRET = "model-config/local-run/settings"  # noqa: S105 - a secret's name, not a secret
RUN_SETTINGS = (
    "PLATFORM_MODEL_PROVIDERS",
    "CUSTOM_PROVIDER_ALLOWED_HOSTS",  # the stand-in's own address, so its OpenAI endpoint can be a custom provider
    *(p.base_url_env for p in CATALOG.providers.values() if p.base_url_env),
)
PLATFORM_KEY_VARS = {
    "openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "google-ai-studio": "GOOGLE_AI_STUDIO_API_KEY",
    "grok": "GROK_API_KEY",
}


class AtomicMotoServer:
    """moto in server mode, answering one AWS request at a time.

    DynamoDB applies a conditional write atomically; moto's threaded server does not (two conditional puts
    can both pass), which would let two writers share a key lease locally. Serialising requests restores the
    guarantee; HTTP connections are still handled concurrently."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import make_server

        app = DomainDispatcherApplication(create_backend_app)
        lock = threading.Lock()

        def atomic(environ: dict[str, Any], start_response: Any) -> list[bytes]:
            refused = refusal(environ)
            if refused is not None:
                body = json.dumps({"__type": "AccessDeniedException", "message": refused}).encode()
                start_response(
                    "403 Forbidden", [("content-type", "application/json"), ("content-length", str(len(body)))]
                )
                return [body]
            with lock:
                return [b"".join(app(environ, start_response))]

        self._server = make_server(host, port or free_port(host), atomic, threaded=True)
        self.endpoint = f"http://{host}:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def refusal(environ: dict[str, Any]) -> str | None:
    """Why the embedded AWS refuses a request, if it does. It holds the developer's real provider keys (the
    platform secret) and every local user's, and moto answers anyone: so it answers only a loopback `Host`
    (a DNS-rebinding page names its own host) and no browser at all. botocore never sends `Origin` or
    `Sec-Fetch-*`; a browser sends `Origin` on every cross-origin call and preflight."""
    if not is_loopback(host_name(environ.get("HTTP_HOST", ""))):
        return "the embedded AWS answers only requests for a loopback host"
    if "HTTP_ORIGIN" in environ or environ.get("HTTP_SEC_FETCH_SITE", "none") not in ("none", "same-origin"):
        return "the embedded AWS answers no web page: only SDKs and tools on this machine"
    return None


def is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether `port` can be bound now. Asked first because werkzeug, on a taken port, prints a paragraph
    and exits the process instead of raising."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers bind: a TIME_WAIT port is free
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class LocalAws:
    endpoint: str | None
    embedded: bool
    refs: dict[str, str] = field(default_factory=dict)

    @classmethod
    @contextmanager
    def start(cls, *, embedded: bool = True, provision: bool = True, port: int = 0) -> Iterator[LocalAws]:
        """AWS for the duration of the block; the environment it changes is put back afterwards. The embedded
        moto listens on `port` when it is free (`make run` asks for its own port + 1), else on any free port."""
        saved = dict(os.environ)
        server = None
        if embedded:
            import logging

            logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per *API* request is ours to print
            server = AtomicMotoServer(port=port if port and is_free(port) else 0)
            server.start()
            os.environ.update(
                AWS_ENDPOINT_URL=server.endpoint,
                AWS_ACCESS_KEY_ID="local",
                AWS_SECRET_ACCESS_KEY="local",  # noqa: S106 - moto's stand-in credentials
                AWS_DEFAULT_REGION=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
            )
            os.environ.pop("AWS_PROFILE", None)
            os.environ.pop("AWS_SESSION_TOKEN", None)
        os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
        local = cls(endpoint=os.environ.get("AWS_ENDPOINT_URL"), embedded=embedded)
        local.refs = local._refs()
        try:
            if provision and (embedded or local.endpoint):
                # Only the embedded AWS is ours to overwrite: another endpoint (a running `make run`, LocalStack)
                # gets what is missing and keeps what it stores.
                local.provision(overwrite=embedded)
            yield local
        finally:
            if server is not None:
                server.stop()
            os.environ.clear()
            os.environ.update(saved)

    def _refs(self) -> dict[str, str]:
        """Values for the template's Refs: parameter defaults, then local names, then the environment."""
        params = runtime.template().get("Parameters", {})
        refs = {name: str(p.get("Default", "")) for name, p in params.items()}
        refs["ConfigTable"] = os.environ.get("TABLE_NAME") or LOCAL_TABLE
        refs["AuditTable"] = os.environ.get("AUDIT_TABLE_NAME") or LOCAL_AUDIT_TABLE
        refs["PlatformKeysSecretId"] = os.environ.get("PLATFORM_KEYS_SECRET_ID") or LOCAL_PLATFORM_SECRET
        refs["PlatformModelProviders"] = os.environ.get("PLATFORM_MODEL_PROVIDERS", "")
        refs["UserSecretPrefix"] = os.environ.get("USER_SECRET_PREFIX") or refs.get("UserSecretPrefix", "")
        return refs

    def apply_environment(self, *functions: runtime.Function) -> None:
        """Each function's template environment, without overriding what the developer already set."""
        for fn in functions:
            for name, value in fn.environment.items():
                if not os.environ.get(name):
                    os.environ[name] = value

    def provision(self, *, overwrite: bool = True) -> None:
        """The template's tables and the platform keys secret (from the environment's keys), where missing; with
        `overwrite`, the secret is set to this environment's keys even when it exists."""
        import boto3

        ddb = boto3.client("dynamodb")
        existing = ddb.list_tables().get("TableNames", [])
        for logical_id in runtime.TABLES:
            if self.refs[logical_id] not in existing:
                runtime.create_table(ddb, self.refs[logical_id], logical_id)
        sm = boto3.client("secretsmanager")
        keys = {p: os.environ[v] for p, v in PLATFORM_KEY_VARS.items() if os.environ.get(v)}
        secret = self.refs["PlatformKeysSecretId"]
        try:
            sm.create_secret(Name=secret, SecretString=json.dumps(keys))
        except sm.exceptions.ResourceExistsException:
            if overwrite:
                sm.put_secret_value(SecretId=secret, SecretString=json.dumps(keys))

    def publish_settings(self, names: tuple[str, ...]) -> None:
        """Store the settings `make run` runs with (these variables and the table's refs) in its embedded AWS,
        for `make invoke` to adopt (`adopt_settings`)."""
        import boto3

        settings = {n: os.environ[n] for n in names if os.environ.get(n)}
        settings |= {
            "TABLE_NAME": self.refs["ConfigTable"],
            "AUDIT_TABLE_NAME": self.refs["AuditTable"],
            "PLATFORM_KEYS_SECRET_ID": self.refs["PlatformKeysSecretId"],
            "USER_SECRET_PREFIX": self.refs["UserSecretPrefix"],
        }
        sm = boto3.client("secretsmanager")
        try:
            sm.create_secret(Name=RUN_SETTINGS_SECRET, SecretString=json.dumps(settings))
        except sm.exceptions.ResourceExistsException:
            sm.put_secret_value(SecretId=RUN_SETTINGS_SECRET, SecretString=json.dumps(settings))

    @property
    def platform_providers(self) -> list[str]:
        """The providers the local functions take as platform-enabled: PLATFORM_MODEL_PROVIDERS when set (the
        others are BYOK-only), else those with a key in the environment, as the functions decide."""
        listed = listed_providers()
        return [p for p, v in PLATFORM_KEY_VARS.items() if (p in listed if listed is not None else os.environ.get(v))]


def listed_providers(environ: Any = os.environ) -> list[str] | None:
    """PLATFORM_MODEL_PROVIDERS as a list, or None when it is unset or empty: read as the functions read it."""
    listed = provider_list(environ.get("PLATFORM_MODEL_PROVIDERS"))
    return list(listed) if listed is not None else None


def adopt_settings(endpoint: str) -> dict[str, str]:
    """The settings a running `make run` published in the AWS at `endpoint`, put into this process's environment
    (its providers and base URLs win over this shell's, so both answer alike). Empty when none were published."""
    import boto3

    sm = boto3.client("secretsmanager", endpoint_url=endpoint)
    try:
        settings = json.loads(sm.get_secret_value(SecretId=RUN_SETTINGS_SECRET)["SecretString"])
    except sm.exceptions.ResourceNotFoundException:
        return {}
    adopted = {str(k): str(v) for k, v in settings.items() if isinstance(v, str)}
    os.environ.update(adopted)
    if "PLATFORM_MODEL_PROVIDERS" not in adopted:
        os.environ.pop("PLATFORM_MODEL_PROVIDERS", None)
    return adopted
