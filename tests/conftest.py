"""Shared fixtures: AWS under moto's mock_aws with the template's own table, and an in-process API client
that routes requests through template.yaml to each function's real handler."""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from moto import mock_aws

from infra import runtime
from tests import iam

# No test may reach real AWS or a developer's profile.
for _var in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_SECRETS_MANAGER"):
    os.environ.pop(_var, None)
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_SESSION_TOKEN="testing",
    AWS_DEFAULT_REGION="us-east-1",
    POWERTOOLS_SERVICE_NAME="model-config",
    POWERTOOLS_METRICS_NAMESPACE="ModelConfig",
    POWERTOOLS_TRACE_DISABLED="true",
)

from modelconfig.settings import settings  # noqa: E402
from modelconfig.storage import aws as aws_clients  # noqa: E402
from modelconfig.storage import secrets  # noqa: E402

PLATFORM_SECRET = "model-config/platform-keys"
PLATFORM_KEYS = {"google-ai-studio": "AIzaPLATFORM-google-key-000000000"}


# Every AWS call made inside a function's invocation, as IAM would see it (tests/iam.py; test_iam_drift).
PERFORMED: list[iam.Call] = []
_load_handler = runtime.handler


def _attributed_handler(fn: runtime.Function) -> Any:
    """runtime.handler, with the function's logical id set while it serves an event."""
    inner = _load_handler(fn)

    def serve(event: Any, context: Any) -> Any:
        token = iam.current_function.set(fn.logical_id)
        try:
            return inner(event, context)
        finally:
            iam.current_function.reset(token)

    return serve


runtime.handler = _attributed_handler


def _record_for_iam(params: dict[str, Any], model: Any, **_: Any) -> None:
    function = iam.current_function.get()
    if function is not None:
        PERFORMED.extend(iam.calls_of(function, model.service_model.service_name, model.name, params, os.environ))


def reset_caches() -> None:
    settings.cache_clear()
    aws_clients.reset_clients()
    secrets.reset_platform_cache()


@dataclass
class Aws:
    table: str
    dynamodb: Any
    secretsmanager: Any
    calls: Counter[str] = field(default_factory=Counter)

    def count_calls(self) -> Counter[str]:
        """Start counting AWS calls (service.Operation) made by the code under test from now on."""
        self.calls.clear()
        return self.calls

    def items(self) -> list[dict[str, Any]]:
        return self.dynamodb.scan(TableName=self.table)["Items"]

    def user_secret(self, user_id: str) -> dict[str, str] | None:
        try:
            value = self.secretsmanager.get_secret_value(SecretId=secrets.secret_name(user_id))
        except (
            self.secretsmanager.exceptions.ResourceNotFoundException,
            self.secretsmanager.exceptions.InvalidRequestException,  # scheduled for deletion
        ):
            return None
        return json.loads(value["SecretString"])


@contextlib.contextmanager
def mocked_aws(monkeypatch: pytest.MonkeyPatch, **env: str) -> Iterator[Aws]:
    """moto's mock_aws with the template's table and the platform keys secret, the service's environment set
    through `monkeypatch` (so it is undone with the caller's own changes), and AWS calls counted."""
    with mock_aws():
        table = f"configs-{uuid.uuid4().hex[:8]}"
        defaults = {
            "TABLE_NAME": table,
            "USER_SECRET_PREFIX": "model-config/byok/",
            "PLATFORM_KEYS_SECRET_ID": PLATFORM_SECRET,
            "PLATFORM_MODEL_PROVIDERS": "google-ai-studio",
        }
        for name, value in (defaults | env).items():
            monkeypatch.setenv(name, value)
        reset_caches()
        session = boto3.session.Session()
        ddb = session.client("dynamodb", region_name="us-east-1")
        sm = session.client("secretsmanager", region_name="us-east-1")
        runtime.create_table(ddb, table)
        sm.create_secret(Name=PLATFORM_SECRET, SecretString=json.dumps(PLATFORM_KEYS))
        counted = Aws(table=table, dynamodb=ddb, secretsmanager=sm)

        def record(model: Any, **_: Any) -> None:
            counted.calls[f"{model.service_model.service_name}.{model.name}"] += 1

        # Clients of the code under test come from the service's own session; count only theirs.
        aws_clients.session().register("before-call", record)
        aws_clients.session().register("before-parameter-build", _record_for_iam, unique_id="iam-drift")
        try:
            yield counted
        finally:
            aws_clients.session().unregister("before-call", record)  # else every later call counts here too
            reset_caches()


@pytest.fixture(scope="session", autouse=True)
def _logs_to_this_sessions_stdout() -> None:
    """Powertools' handler keeps the stdout it was made with. A second pytest session in the same process
    (mutmut runs several) would log to the first one's closed capture, and logging would print its traceback."""
    from modelconfig.observability import logger

    logger.registered_handler.stream = sys.stdout  # type: ignore[attr-defined]  (setStream would flush the closed one)


@pytest.fixture
def log_lines(monkeypatch: pytest.MonkeyPatch) -> Callable[[], list[dict[str, Any]]]:
    """The service's JSON log lines written from now on in this test."""
    from modelconfig.observability import logger

    stream = io.StringIO()
    monkeypatch.setattr(logger.registered_handler, "stream", stream)
    return lambda: [json.loads(line) for line in stream.getvalue().splitlines()]


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    with mocked_aws(monkeypatch, MODEL_TEST_TIMEOUT_SECONDS="2") as counted:
        yield counted


@dataclass
class Reply:
    status: int
    body: dict[str, Any]
    raw: dict[str, Any]

    @property
    def data(self) -> Any:
        assert self.body.get("success") is True, self.body
        return self.body["data"]

    @property
    def error(self) -> dict[str, Any]:
        assert self.body.get("success") is False, self.body
        assert self.body["message"] == self.body["error"]["message"]
        return self.body["error"]


class Api:
    """Calls the API as API Gateway would: route from template.yaml, v2 event with JWT claims, real handler.

    One process is one Lambda execution environment: it serves one event at a time. Tests of concurrent
    clients use worker processes (tests/worker.py), never threads sharing one process's handlers."""

    def __init__(self, sub: str | None = "user-a") -> None:
        self.sub = sub

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw_body: str | bytes | None = None,
        query: dict[str, str] | None = None,
        claims: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        found = runtime.find_route(method, path)
        assert found is not None, f"no route for {method} {path} in template.yaml"
        route, fn, params = found
        if claims is None and self.sub is not None:
            claims = {"sub": self.sub, "iss": "https://issuer.example", "aud": "web"}
        payload = raw_body if raw_body is not None else (None if body is None else json.dumps(body))
        event = runtime.http_event(
            route, path=path, path_parameters=params, claims=claims, body=payload, query=query, headers=headers
        )
        raw = runtime.handler(fn)(event, runtime.Context(fn))
        status, parsed = runtime.parse_response(raw)
        assert raw["headers"].get("Content-Type", raw["headers"].get("content-type", "")).startswith("application/json")
        return Reply(status, parsed, raw)

    def get(self, path: str, **kw: Any) -> Reply:
        return self.request("GET", path, **kw)

    def put(self, path: str, body: Any = None, **kw: Any) -> Reply:
        return self.request("PUT", path, body, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Reply:
        return self.request("POST", path, body, **kw)

    def delete(self, path: str, **kw: Any) -> Reply:
        return self.request("DELETE", path, **kw)


@pytest.fixture
def api(aws: Aws) -> Api:
    return Api("user-a")


# ---- concurrent clients: one process per Lambda execution environment, one moto server for all --------


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    from infra.local_aws import AtomicMotoServer

    server = AtomicMotoServer()
    server.start()
    yield server.endpoint
    server.stop()


@dataclass
class SharedAws:
    """A table and platform secret on the moto server, and worker processes that act on them."""

    endpoint: str
    table: str
    env: dict[str, str]
    logs: list[str] = field(default_factory=list)  # what the workers logged (errors only)

    def client(self, service: str) -> Any:
        return boto3.session.Session().client(service, region_name="us-east-1", endpoint_url=self.endpoint)

    def run_clients(self, jobs: list[tuple[str, list[tuple[str, str, Any]]]], *, timeout: float = 120) -> list[Any]:
        """Run each (sub, requests) job in its own worker process; once every worker has warmed up, all start
        at once. Returns each worker's [status, body] list."""
        import subprocess
        import sys
        import tempfile

        procs = []
        for sub, requests in jobs:
            stderr = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed with the process below
            proc = subprocess.Popen(
                [sys.executable, "-m", "tests.worker", json.dumps({"sub": sub, "requests": requests})],
                cwd=runtime.ROOT,
                env=self.env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
            )
            procs.append((proc, stderr))
        for proc, stderr in procs:
            assert proc.stdout is not None
            if proc.stdout.readline().strip() != "READY":
                proc.wait(timeout)
                stderr.seek(0)
                raise AssertionError(stderr.read()[-3000:])
        for proc, _ in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.close()
        results = []
        for proc, stderr in procs:
            assert proc.stdout is not None
            out = proc.stdout.read()
            proc.wait(timeout)
            stderr.seek(0)
            lines = [line for line in out.splitlines() if line.startswith("RESULT ")]
            errors = stderr.read()
            stderr.close()
            assert proc.returncode == 0 and lines, errors[-3000:]
            results.append(json.loads(lines[-1][len("RESULT ") :]))
            self.logs.extend(line for line in out.splitlines() if not line.startswith(("RESULT ", "READY")))
        return results


@pytest.fixture
def shared_aws(moto_server: str) -> SharedAws:
    table = f"configs-{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    env |= {
        "AWS_ENDPOINT_URL": moto_server,
        "TABLE_NAME": table,
        "USER_SECRET_PREFIX": f"model-config/{table}/",
        "PLATFORM_KEYS_SECRET_ID": PLATFORM_SECRET,
        "PLATFORM_MODEL_PROVIDERS": "google-ai-studio",
        "POWERTOOLS_LOG_LEVEL": "ERROR",
        "KEY_WRITE_LIMIT_PER_MINUTE": "100000",  # twenty clients of one user: the limit is tested on its own
    }
    shared = SharedAws(moto_server, table, env)
    runtime.create_table(shared.client("dynamodb"), table)
    sm = shared.client("secretsmanager")
    with contextlib.suppress(sm.exceptions.ResourceExistsException):
        sm.create_secret(Name=PLATFORM_SECRET, SecretString=json.dumps(PLATFORM_KEYS))
    return shared


TIERS = ("unit", "integration", "e2e")


DRIFT_TEST = "test_iam_drift.py"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Each test is marked by its folder: `make unit`, `make integration` and `make e2e` select on it.

    The IAM drift test judges what every integration test did, so it runs last, and only when every
    integration test runs (a partial run would leave grants looking unused)."""
    for item in items:
        tier = item.path.parent.name
        if tier not in TIERS:
            raise pytest.UsageError(f"{item.nodeid}: a test lives under tests/unit, tests/integration or tests/e2e")
        item.add_marker(tier)
    drift = [item for item in items if item.path.name == DRIFT_TEST]
    if not drift:
        return
    others = [item for item in items if item.path.name != DRIFT_TEST]
    narrowed = config.option.keyword or config.option.deselect or any("::" in arg for arg in config.args)
    if not narrowed and config.option.markexpr in ("", "integration"):
        items[:] = others + drift
    else:
        items[:] = others
        config.hook.pytest_deselected(items=drift)
