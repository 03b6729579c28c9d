"""`make bench`: what each request costs, printed and written to docs/benchmarks.md.

1. AWS calls per warm request for every route, counted at botocore (service.Operation).
2. Cold start as Lambda pays it: a fresh process imports a function's handler and serves its sample event
   (AWS on a loopback moto server), against a fresh process that imports boto3, makes one client and one call.
   Both run on the base interpreter with Lambda's path: the layer's requirements, then the runtime's boto3.
   Runs interleaved, each round shuffled; medians; per function the median over rounds of its ratio to the
   same round's floor.
3. Warm latency per route in-process against moto, as a ratio to the bare boto3 calls the route makes; and
   ResolveFunction's, for 1 and 13 actions, on a secret-cache hit and a miss.
4. The local API under load: requests per second, p50 and p99 of the list route with 4 concurrent clients.
5. The sweep at 100,000 overrides: items per second and DynamoDB calls per 1,000 items.
6. Hostile input: the fuzzer's findings.
7. The bill: each route's cost per 1M requests, and a month for 10,000 and 100,000 users (benchmarks/cost.py).

Figures are wall-clock on this machine (2 cores); moto stands in for DynamoDB, so absolute latencies are moto's
and the ratios and call counts are what carry over to AWS.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.exceptions import ClientError

from benchmarks import cost
from infra import runtime
from infra.local_api import sample_token
from infra.local_aws import LocalAws
from modelconfig.catalog import CATALOG
from tests.support import environment
from tests.support.api import Api
from tests.support.aws import mocked_aws

BENCH_DIR = runtime.ROOT / ".bench"  # the cold-start runs' Lambda-like sys.path
PRO = "google-ai-studio/gemini-2.5-pro"
# Functions whose sample request needs the platform-enabled providers (the access rule).
PLATFORM_SECRET_READERS = ("PutConfigFunction", "ListByokProvidersFunction")
# Functions also timed with Tracing=Active: a read route and a key write.
TRACED = ("ListConfigsFunction", "PutKeyFunction")
OPUS = "anthropic/claude-opus-4-5"
USER_KEY = "sk-ant-bench-0123456789abcdef"  # the loopback provider accepts it (any key without 'invalid')
rotation = itertools.count()  # a new key for each replace: the same key again leaves the secret as it is
CUSTOM_MODEL = "custom/lab/standin-model"  # the stand-in's one model, on the user's endpoint named `lab`
DOCS = runtime.ROOT / "docs" / "benchmarks.md"
# Limits high enough that repeated requests of one bench user are never refused: each still pays its counter.
HIGH_LIMITS = {
    "TEST_LIMIT_PER_MINUTE": "100000",
    "PLATFORM_TEST_LIMIT_PER_DAY": "100000",
    "KEY_WRITE_LIMIT_PER_MINUTE": "100000",
}


AUDIT_ENTRIES = 2000  # a long-standing user's trail (SPEC section 12's benchmark)
BEFORE_AUDIT = {  # version 1.1.0's figures (docs/benchmarks.md of that version), for what the audit trail costs
    "PUT /api/model-configs/{agentAction}": "9.65 ms (one UpdateItem; bare boto3 8.41 ms); $1.89 per 1M",
}


def seed_audit(user_id: str, count: int) -> None:
    """`count` audit entries of the user, as config saves write them, put 25 per BatchWriteItem."""
    from modelconfig.records import USER, Change
    from modelconfig.storage import audit, dynamo

    row = {"modelName": PRO, "agentActionName": "blueprint", "userId": user_id}
    puts = [
        audit.entry(user_id, USER, Change("config.put", {"agentAction": "blueprint"}, row, row)) for _ in range(count)
    ]
    dynamo.batch_write([{"PutRequest": {"Item": p["Put"]["Item"]}} for p in puts], table=audit.table_name())


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


@contextmanager
def in_process_aws(**env: str) -> Iterator[tuple[Any, Counter[str]]]:
    """The tests' mocked AWS (moto's mock_aws, the template's table, the platform secret, a call counter)."""
    with pytest.MonkeyPatch.context() as mp, mocked_aws(mp, POWERTOOLS_LOG_LEVEL="ERROR", **env) as aws:
        yield aws.dynamodb, aws.calls


# ---- 1. AWS calls per warm request ------------------------------------------------------------------------


def calls_per_route() -> list[tuple[str, dict[str, int]]]:
    from tests.provider_server import ProviderServer

    provider = ProviderServer()
    try:
        allowed = {"CUSTOM_PROVIDER_ALLOWED_HOSTS": f"127.0.0.1:{provider.server_address[1]}"}
        with in_process_aws(**provider.base_urls(), **HIGH_LIMITS, **allowed) as (_ddb, calls):
            api = Api("bench-user")
            seed_audit("bench-user", AUDIT_ENTRIES)  # a long trail: no config read below may pay for it
            endpoint = f"{provider.base}/openai/v1"  # the stand-in as the user's own endpoint, allowlisted

            def add_custom(name: str = "lab", key: bool = True) -> Any:
                # a new key each time: the same key again leaves the secret as it is
                body = {"baseUrl": endpoint} | ({"apiKey": f"sk-bench-custom-{next(rotation):08d}"} if key else {})
                return api.put(f"/api/custom-providers/{name}", body)

            def put_all() -> None:
                for key, action in CATALOG.actions.items():
                    api.put(f"/api/model-configs/{key}", {"modelName": action.default.name})

            steps: list[tuple[str, Callable[[], Any], Callable[[], Any] | None]] = [
                ("GET /api/model-configs", lambda: api.get("/api/model-configs"), None),
                ("GET /api/model-configs/defaults", lambda: api.get("/api/model-configs/defaults"), None),
                ("GET /api/model-configs/byok-providers", lambda: api.get("/api/model-configs/byok-providers"), None),
                ("GET /api/model-configs/{agentAction}", lambda: api.get("/api/model-configs/blueprint"), None),
                (
                    "PUT /api/model-configs/{agentAction} (platform model)",
                    lambda: api.put("/api/model-configs/blueprint", {"modelName": PRO}),
                    None,
                ),
                ("GET /api/byok-keys", lambda: api.get("/api/byok-keys"), None),
                (
                    "PUT /api/byok-keys/{provider} (first key again after the last was deleted: restores the secret)",
                    lambda: api.put("/api/byok-keys/anthropic", {"apiKey": USER_KEY}),
                    lambda: api.delete("/api/byok-keys/anthropic"),
                ),
                (
                    "PUT /api/byok-keys/{provider} (replace; the key check is one GET to the provider)",
                    # a new key each time: the same key again leaves the secret as it is (no PutSecretValue)
                    lambda: api.put("/api/byok-keys/anthropic", {"apiKey": f"{USER_KEY}-{next(rotation)}"}),
                    None,
                ),
                (
                    "PUT /api/model-configs/{agentAction} (BYOK model: reads key status)",
                    lambda: api.put("/api/model-configs/deepDebugger", {"modelName": OPUS}),
                    None,
                ),
                (
                    "POST /api/model-configs/test (platform key)",
                    lambda: api.post("/api/model-configs/test", {"agentActionName": "blueprint"}),
                    None,
                ),
                (
                    "POST /api/model-configs/test (user key)",
                    lambda: api.post("/api/model-configs/test", {"agentActionName": "deepDebugger"}),
                    None,
                ),
                (
                    "DELETE /api/model-configs/{agentAction}",
                    lambda: api.delete("/api/model-configs/blueprint"),
                    lambda: api.put("/api/model-configs/blueprint", {"modelName": PRO}),
                ),
                (
                    "DELETE /api/model-configs/{agentAction} (404)",
                    lambda: api.delete("/api/model-configs/screenshotAnalysis"),
                    None,
                ),
                (
                    "POST /api/model-configs/reset-all (13 overrides)",
                    lambda: api.post("/api/model-configs/reset-all"),
                    put_all,
                ),
                ("PUT /api/custom-providers/{name} (a key; the check is one GET through the guard)", add_custom, None),
                ("PUT /api/custom-providers/{name} (no key: no secret written)", lambda: add_custom("open", 0), None),
                ("GET /api/custom-providers", lambda: api.get("/api/custom-providers"), None),
                (
                    "PUT /api/model-configs/{agentAction} (a custom model)",
                    lambda: api.put("/api/model-configs/phaseImplementation", {"modelName": CUSTOM_MODEL}),
                    None,
                ),
                (
                    "DELETE /api/custom-providers/{name} (one Query for affectedActions)",
                    lambda: api.delete("/api/custom-providers/lab"),
                    add_custom,
                ),
                (
                    "DELETE /api/byok-keys/{provider} (last key: deletes the secret; one Query for affectedActions)",
                    lambda: api.delete("/api/byok-keys/anthropic"),
                    lambda: api.put("/api/byok-keys/anthropic", {"apiKey": USER_KEY}),
                ),
                ("GET /api/audit (a page of 50 of 2,000+ entries)", lambda: api.get("/api/audit"), None),
                (
                    "GET /api/me/export (13 overrides, 1 key, 2,000+ audit entries: one Query per 1 MB page)",
                    lambda: api.get("/api/me/export"),
                    None,
                ),
            ]
            results = []
            for label, request, prepare in steps:
                request()  # warm: the function's first request, client creation, platform key cache
                if prepare:
                    prepare()
                calls.clear()
                reply = request()
                assert reply.status < 500, (label, reply.body)
                results.append((label, dict(sorted(calls.items()))))
            return results
    finally:
        provider.stop()


# ---- 2. cold start ----------------------------------------------------------------------------------------


Cold = tuple[str, float, float, float, float, float]  # name, wall ms, x floor, CPU ms, x floor, x floor (1.1 method)


Breakdown = dict[str, dict[str, float]]  # function -> part of its cold start -> median ms


def cold_starts(runs: int) -> tuple[list[Cold], Breakdown]:
    """Per function: median wall and CPU ms over `runs` pairs, each pair a floor then the function, run back to
    back; its ratio is the median of its times over the median of the floors it was paired with. Beside it, the
    1.1 method's ratio from the same runs: the median over rounds of its time over that round's floor."""
    from tests.provider_server import ProviderServer

    provider = ProviderServer()
    try:
        return _cold_starts(runs, provider)
    finally:
        provider.stop()


def _cold_starts(runs: int, provider: Any) -> tuple[list[Cold], Breakdown]:
    with LocalAws.start(embedded=True) as aws, tempfile.TemporaryDirectory() as scratch:
        fns = runtime.functions(aws.refs)
        cold = str(runtime.ROOT / "benchmarks" / "cold.py")
        python, path = lambda_sys_path()
        base_env = {k: v for k, v in os.environ.items() if not k.startswith(("POWERTOOLS_LOG", "_", "VIRTUAL_ENV"))}
        base_env |= {"POWERTOOLS_LOG_LEVEL": "ERROR", "PYTHONPATH": path, "PYTHONNOUSERSITE": "1"}
        # The layer ships compiled bytecode (see template.yaml); let the warm-up pass write it here too.
        base_env.pop("PYTHONDONTWRITEBYTECODE", None)
        floor = ("floor", [python, "-S", cold, "floor"], base_env | {"TABLE_NAME": aws.refs["ConfigTable"]})
        jobs: list[tuple[str, list[str], dict[str, str]]] = []
        for fn in fns:
            events = sorted((runtime.ROOT / "infra" / "events").glob(f"{fn.logical_id}*.json"))
            handler = fn.handler.rsplit(".", 1)[1]
            argv = [python, "-S", cold, fn.logical_id, str(fn.source), handler, str(events[0])]
            # Every round writes the sample user's key again: under the template's 10 key writes a minute, later
            # rounds would time a 429 instead of the write and its key check (benchmarks/cold.py refuses a 429).
            env = base_env | fn.environment | lambda_variables(fn) | HIGH_LIMITS
            jobs.append((fn.logical_id, argv, env))
            if fn.logical_id in PLATFORM_SECRET_READERS and not env.get("PLATFORM_MODEL_PROVIDERS"):
                # The template default reads the platform secret to learn the enabled providers; naming them
                # saves that read on a cold start.
                named = env | {"PLATFORM_MODEL_PROVIDERS": "google-ai-studio"}
                jobs.append((f"{fn.logical_id}, PLATFORM_MODEL_PROVIDERS set", argv, named))
            if fn.logical_id == "TestConfigFunction":
                jobs.append(_calling_test(argv, env, events[0], Path(scratch), provider.base_urls()))
            if fn.logical_id == "PutKeyFunction":
                jobs.append(_checking_put(argv, env, events[0], Path(scratch), provider.base_urls()))
            if fn.logical_id == "PutCustomProviderFunction":
                jobs.append(_checking_custom(argv, env, events[0], Path(scratch), provider.base))
            if fn.logical_id in TRACED:
                # Tracing=Active: Powertools' Tracer and the X-Ray SDK load at import (no daemon here: the
                # segments go nowhere, which costs nothing on the cold start).
                traced = env | {"POWERTOOLS_TRACE_DISABLED": "false", "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR"}
                jobs.append((f"{fn.logical_id}, tracing on", argv, traced))
            if fn.logical_id == "ListConfigsFunction":
                jobs += _references(argv, env, Path(scratch))
        for _name, argv, env in [floor, *jobs]:  # one unmeasured pass fills the page cache and writes .pyc files
            _time_to_ready(argv, env)
        pairs: dict[str, list[tuple[tuple[float, float], tuple[float, float]]]] = {name: [] for name, _a, _e in jobs}
        round_floors: list[list[float]] = []
        order = random.Random(7)  # each round in its own order: no function always follows the same one
        for _ in range(runs):
            floors = []
            for name, argv, env in order.sample(jobs, len(jobs)):
                measured_floor = _time_to_ready(floor[1], floor[2])
                pairs[name].append((measured_floor, _time_to_ready(argv, env)))
                floors.append(measured_floor[0])
            round_floors.append(floors)

        breakdown = {name: _where_the_time_goes(argv, env) for name, argv, env in [floor, *jobs] if name in BROKEN_DOWN}
        every_floor = [f for name in pairs for f, _fn in pairs[name]]
        rows: list[Cold] = [
            (
                "boto3 floor",
                median_ms([w for w, _c in every_floor]),
                1.0,
                median_ms([c for _w, c in every_floor]),
                1.0,
                1.0,
            )
        ]
        for name, measured in pairs.items():
            walls, cpus = [fn[0] for _f, fn in measured], [fn[1] for _f, fn in measured]
            floor_walls, floor_cpus = [f[0] for f, _fn in measured], [f[1] for f, _fn in measured]
            old = statistics.median(
                fn[0] / statistics.median(r) for (_f, fn), r in zip(measured, round_floors, strict=True)
            )
            rows.append(
                (
                    name,
                    median_ms(walls),
                    statistics.median(walls) / statistics.median(floor_walls),
                    median_ms(cpus),
                    statistics.median(cpus) / statistics.median(floor_cpus),
                    old,
                )
            )
    return rows, breakdown


BROKEN_DOWN = (
    "floor",
    "ListConfigsFunction",
    "TestConfigFunction, calling a provider",
    "PutCustomProviderFunction, checking the endpoint",
)


def _group(module: str) -> str | None:
    """The part of the cold start a module belongs to, for the breakdown; None for the standard library, whose
    modules count for whoever imported them first (asyncio for Powertools' AppSync resolver, ssl for httpx)."""
    top = module.split(".", 1)[0]
    if top == "aws_lambda_powertools":
        part = module.split(".")[1] if "." in module else ""
        return {
            "event_handler": "Powertools event handler (all its resolvers, validation)",
            "logging": "Powertools Logger",
            "metrics": "Powertools Metrics",
            "tracing": "Powertools Tracer",
        }.get(part, "Powertools, shared parts")
    groups = {
        ("botocore", "boto3", "s3transfer", "jmespath", "dateutil", "urllib3"): "boto3 and botocore",
        ("pydantic", "pydantic_core", "annotated_types", "typing_extensions", "typing_inspection"): "pydantic",
        ("httpx", "httpcore", "h11", "idna", "sniffio", "anyio"): "httpx and httpcore",
        ("ssl", "_ssl", "certifi"): "TLS: ssl and the trust store (botocore's too)",
        ("modelconfig", "handler_module"): "the service's own modules",
    }
    found = next((label for tops, label in groups.items() if top in tops), None)
    if found is None and top not in sys.stdlib_module_names and not top.startswith("_"):
        return f"other: {top}"
    return found


def _import_groups(stderr: str) -> dict[str, float]:
    """`-X importtime`'s self times summed per group; a standard-library module counts for its nearest importer
    that is not one (the report is post-order: a line's children are the deeper lines just before it)."""
    nodes: list[tuple[int, str, float]] = []
    for line in stderr.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if len(parts) == 3 and parts[0].strip().isdigit():
            name = parts[2]
            nodes.append(((len(name) - len(name.lstrip()) - 1) // 2, name.strip(), int(parts[0]) / 1000))
    totals: dict[str, float] = {}
    inherited: dict[int, str] = {}  # depth -> the group children at depth + 1 inherit, known once their parent is
    # Walk backwards: a parent comes after its children, so backwards each node follows its parent.
    for depth, name, ms in reversed(nodes):
        parent = inherited.get(depth - 1, "the interpreter's start and the standard library")
        group = _group(name) or parent
        inherited[depth] = group
        totals[group] = totals.get(group, 0.0) + ms
    return totals


def _where_the_time_goes(argv: list[str], env: dict[str, str], runs: int = 5) -> dict[str, float]:
    """Median ms of: the import (of the handler, or of boto3 for the floor), the first request (or the floor's
    client and call), and each group's own import time (`_import_groups`)."""
    samples: list[dict[str, float]] = []
    for _ in range(runs):
        done = subprocess.run(
            [argv[0], "-X", "importtime", *argv[1:]], env=env, capture_output=True, text=True, timeout=120, check=True
        )
        found = _import_groups(done.stderr)
        split = next((line.split() for line in done.stdout.splitlines() if line.startswith("split ")), None)
        if split is not None:
            found[IMPORT], found[FIRST] = float(split[1]) * 1000, float(split[2]) * 1000
        samples.append(found)
    keys = {k for sample in samples for k in sample}
    return {k: statistics.median(sample.get(k, 0.0) for sample in samples) for k in keys}


IMPORT, FIRST = "import (the handler's; the floor's boto3)", "first request (the floor's: client and call)"


def lambda_sys_path() -> tuple[str, str]:
    """The interpreter and PYTHONPATH a function has on Lambda: the layer (our package and its requirements),
    then the runtime's boto3 and botocore. Not the development virtualenv, whose extra packages change what some
    imports load (httpx imports its command line, click and rich, when they are installed), and whose hundred
    distributions pydantic scans for plugins. Installed once under .bench/ for this machine."""
    from importlib.metadata import version

    requirements = runtime.SHARED / "requirements.txt"
    sdk = f"boto3=={version('boto3')}"  # the SDK the tests run against
    wanted = requirements.read_text() + sdk
    marker = BENCH_DIR / "installed"
    if not marker.exists() or marker.read_text() != wanted:
        shutil.rmtree(BENCH_DIR, ignore_errors=True)
        pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--target"]
        subprocess.run([*pip, str(BENCH_DIR / "layer"), "--requirement", str(requirements)], check=True)
        subprocess.run([*pip, str(BENCH_DIR / "runtime"), sdk], check=True)
        marker.write_text(wanted)
    python = Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    return str(python), os.pathsep.join(str(p) for p in (runtime.SHARED, BENCH_DIR / "layer", BENCH_DIR / "runtime"))


BARE_STACK = "the stack alone: Powertools resolver with validation, Logger, pydantic, one client and call"
TRIMMED = "ListConfigsFunction, Powertools' event_handler package importing only its API Gateway resolvers"


def _references(argv: list[str], env: dict[str, str], scratch: Path) -> list[tuple[str, list[str], dict[str, str]]]:
    """Two rows that say where the floor of this design lies. `benchmarks/bare_stack.py`, served the list's sample:
    what Powertools, pydantic and one AWS call cost with none of the service. And the list again, its layer's
    Powertools changed in one place (a copy, for this run only): `aws_lambda_powertools.event_handler`'s package
    imports the API Gateway resolvers alone, not every resolver Powertools has (AppSync's imports asyncio)."""
    bare = [*argv[:3], BARE_STACK, str(runtime.ROOT / "benchmarks" / "bare_stack.py"), "lambda_handler", argv[-1]]
    copy = scratch / "trimmed"
    shutil.copytree(BENCH_DIR / "layer" / "aws_lambda_powertools", copy / "aws_lambda_powertools")
    (copy / "aws_lambda_powertools" / "event_handler" / "__init__.py").write_text(
        "from aws_lambda_powertools.event_handler.api_gateway import (\n"
        "    ALBResolver, APIGatewayHttpResolver, ApiGatewayResolver, APIGatewayRestResolver, CORSConfig, Response\n"
        ")\n"
    )
    trimmed = env | {"PYTHONPATH": os.pathsep.join([str(runtime.SHARED), str(copy), env["PYTHONPATH"]])}
    return [(BARE_STACK, bare, env), (TRIMMED, argv, trimmed)]


def _against_the_stack(rows: list[Cold]) -> list[str]:
    """The cold table read against its reference rows: what the stack costs before any of the service, the list
    on it, and the list without Powertools' unused resolvers."""
    by_name = {row[0]: row for row in rows}
    bare, listed, trimmed = by_name.get(BARE_STACK), by_name.get("ListConfigsFunction"), by_name.get(TRIMMED)
    if bare is None or listed is None or trimmed is None:
        return []

    def ratios(row: Cold) -> str:
        return f"{row[2]:.2f}x wall, {row[4]:.2f}x CPU"

    return [
        f"Read against the reference rows: the stack alone is at {ratios(bare)} the floor, before a line of the "
        f"service runs; the list function, on that stack, at {ratios(listed)}; the list with Powertools' "
        f"`event_handler` package importing only the API Gateway resolvers at {ratios(trimmed)}. Between runs on "
        "this machine the floor's median moves by up to 20% and a ratio by about 0.1, so read differences under "
        "that as noise; the runs behind version 1.4.0 put the stack alone between 1.19x and 1.38x. Powertools' "
        "package imports every resolver it has where the service uses the HTTP API's (the AppSync resolver "
        "pulls in asyncio): a cost of the library's packaging, of the kind its maintainers fixed when "
        "`ApiGatewayResolver` imported boto3 (powertools-lambda-python issue 2352), which the service cannot "
        "remove without patching Powertools. A bound of 1.3x for every function leaves at most "
        f"{1.3 - bare[2]:.2f}x (wall, this run) for all of a function's own code on this stack.",
        "",
    ]


def _calling_test(
    argv: list[str], env: dict[str, str], sample: Path, scratch: Path, base_urls: dict[str, str]
) -> tuple[str, list[str], dict[str, str]]:
    """The model test's sample switches its action off. A real test also reads the platform key and calls
    the provider, here the loopback stand-in over plain HTTP: httpx and its TLS context
    load too."""
    event = json.loads(sample.read_text())
    event["body"] = json.dumps({"agentActionName": "blueprint", "testPrompt": "Reply with OK."})
    calling = scratch / "TestConfigFunction-calling.json"
    calling.write_text(json.dumps(event))
    keys_id = "model-config/bench-platform-keys"
    keys = {"google-ai-studio": "AIza-bench-0123456789abcdefghij"}
    boto3.client("secretsmanager").create_secret(Name=keys_id, SecretString=json.dumps(keys))
    env = env | base_urls | {"PLATFORM_KEYS_SECRET_ID": keys_id}
    return "TestConfigFunction, calling a provider", [*argv[:-1], str(calling)], env


def _checking_put(
    argv: list[str], env: dict[str, str], sample: Path, scratch: Path, base_urls: dict[str, str]
) -> tuple[str, list[str], dict[str, str]]:
    """The key PUT's sample skips the provider's check (`?verify=false`) so that it succeeds anywhere; a real
    PUT checks the key with one GET to the provider, here the loopback stand-in: httpx loads too."""
    event = json.loads(sample.read_text())
    event["rawQueryString"], event["queryStringParameters"] = "", {}
    checking = scratch / "PutKeyFunction-checking.json"
    checking.write_text(json.dumps(event))
    return "PutKeyFunction, checking the key with the provider", [*argv[:-1], str(checking)], env | base_urls


def _checking_custom(
    argv: list[str], env: dict[str, str], sample: Path, scratch: Path, standin: str
) -> tuple[str, list[str], dict[str, str]]:
    """The custom provider PUT's sample sends nothing (`?verify=false`); a real one reads the endpoint's model list
    through the egress guard, here from the loopback stand-in, which the operator's allowlist names."""
    event = json.loads(sample.read_text())
    event["rawQueryString"], event["queryStringParameters"] = "", {}
    event["body"] = json.dumps({"baseUrl": f"{standin}/openai/v1", "apiKey": "sk-bench-custom-0123456789"})
    checking = scratch / "PutCustomProviderFunction-checking.json"
    checking.write_text(json.dumps(event))
    allowed = {"CUSTOM_PROVIDER_ALLOWED_HOSTS": standin.removeprefix("http://")}
    return "PutCustomProviderFunction, checking the endpoint", [*argv[:-1], str(checking)], env | allowed


def lambda_variables(fn: runtime.Function) -> dict[str, str]:
    """The variables Lambda itself sets in every function's environment (the ones our code or Powertools read)."""
    return {"AWS_LAMBDA_FUNCTION_NAME": fn.logical_id, "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12"}


def _time_to_ready(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds from spawning the process to its `ready` line (its first answer), and the CPU seconds the
    process had used by then."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = "?"
    while line and not line.startswith("ready "):  # a function may print (logs, EMF metrics) before it answers
        line = proc.stdout.readline()
    elapsed = time.perf_counter() - started
    _out, err = proc.communicate(timeout=60)
    if not line.startswith("ready ") or proc.returncode:
        raise RuntimeError(f"{argv[3]} failed: {err[-2000:]}")
    return elapsed, float(line.split()[1])


# ---- 3. warm latency --------------------------------------------------------------------------------------


def warm_latency(n: int) -> list[tuple[str, float, float | None, float | None]]:
    """Median in-process latency per route, against replaying with bare boto3 clients exactly the AWS calls the
    route made (captured at botocore), so the ratio is this service's own overhead. The model test calls a
    loopback provider, whose answer is in both columns' difference."""
    from tests.provider_server import ProviderServer

    provider = ProviderServer()
    try:
        with in_process_aws(**provider.base_urls(), **HIGH_LIMITS) as (ddb, _calls):
            return _warm_routes(n, ddb)
    finally:
        provider.stop()


def _warm_routes(n: int, ddb: Any) -> list[tuple[str, float, float | None, float | None]]:
    api = Api("bench-user")
    api.put("/api/model-configs/blueprint", {"modelName": PRO})
    api.put("/api/byok-keys/anthropic", {"apiKey": USER_KEY})
    api.put("/api/model-configs/deepDebugger", {"modelName": OPUS})  # its access needs the key status
    captured: list[tuple[str, str, dict[str, Any]]] = []

    def capture(model: Any, params: dict[str, Any], **_: Any) -> None:
        # The API parameters, before serialisation.
        captured.append((model.service_model.service_name, model.name, dict(params)))

    from modelconfig.storage import aws as aws_clients

    for client in (aws_clients.dynamodb(), aws_clients.secretsmanager()):
        client.meta.events.register("before-parameter-build", capture)
    bare = {"dynamodb": ddb, "secretsmanager": boto3.client("secretsmanager", region_name="us-east-1")}
    method_of = {
        service: {api_name: method for method, api_name in client.meta.method_to_api_mapping.items()}
        for service, client in bare.items()
    }
    key_write = {"apiKey": USER_KEY}
    routes: list[tuple[str, Callable[[], Any]]] = [
        ("GET /api/model-configs (configs and key status, one Query)", lambda: api.get("/api/model-configs")),
        ("GET /api/model-configs/defaults", lambda: api.get("/api/model-configs/defaults")),
        ("GET /api/model-configs/byok-providers", lambda: api.get("/api/model-configs/byok-providers")),
        (
            "GET /api/model-configs/{agentAction} (a BYOK override and its key status, one Query)",
            lambda: api.get("/api/model-configs/deepDebugger"),
        ),
        (
            "PUT /api/model-configs/{agentAction}",
            lambda: api.put("/api/model-configs/blueprint", {"modelName": PRO, "maxTokens": 100}),
        ),
        ("DELETE /api/model-configs/{agentAction} (404)", lambda: api.delete("/api/model-configs/fastCodeFixer")),
        ("GET /api/byok-keys", lambda: api.get("/api/byok-keys")),
        (
            "PUT /api/byok-keys/{provider} (replace, with its limit and the key check on a loopback provider)",
            lambda: api.put("/api/byok-keys/anthropic", key_write),
        ),
        (
            "PUT /api/byok-keys/{provider} (replace, with its limit, ?verify=false)",
            lambda: api.put("/api/byok-keys/anthropic", key_write, query={"verify": "false"}),
        ),
        (
            "POST /api/model-configs/test (platform key, both limits, loopback provider)",
            lambda: api.post("/api/model-configs/test", {"agentActionName": "blueprint"}),
        ),
        # Last, after its 2,000 entries are seeded: moto copies every table for each transaction (its rollback),
        # so a long trail would slow moto's writes above, which DynamoDB's do not.
        ("GET /api/audit (a page of 50 of 2,000 entries)", lambda: api.get("/api/audit")),
    ]
    results = []
    for label, route in routes:
        if label.startswith("GET /api/audit"):
            seed_audit("bench-user", AUDIT_ENTRIES)
        route()  # warm
        captured.clear()
        route()
        replay = [(getattr(bare[svc], method_of[svc][op]), params) for svc, op, params in captured]
        route_t, bare_t = [], []
        for _ in range(n):
            started = time.perf_counter()
            reply = route()
            route_t.append(time.perf_counter() - started)
            assert reply.status in (200, 404), (label, reply.body)
            if replay:
                started = time.perf_counter()
                for method, params in replay:
                    # A conditional write the replay repeats fails as cheaply as it succeeds.
                    with contextlib.suppress(ClientError):
                        method(**params)
                bare_t.append(time.perf_counter() - started)
        r = median_ms(route_t)
        b = median_ms(bare_t) if bare_t else None
        results.append((label, r, b, r / b if b else None))
    results.insert(
        5,
        ("PUT /api/model-configs/{agentAction} as 1.1 wrote it: one UpdateItem, bare", 0.0, _one_update(ddb, n), None),
    )
    return results


def _one_update(ddb: Any, n: int) -> float:
    """What 1.1's config PUT cost AWS, in this run: the one UpdateItem it made (no read, no audit entry)."""
    table = os.environ["TABLE_NAME"]
    times = []
    for i in range(n):
        started = time.perf_counter()
        ddb.update_item(
            TableName=table,
            Key={"pk": {"S": "USER#bench-user"}, "sk": {"S": "CONFIG#blueprint"}},
            UpdateExpression="SET maxTokens = :n",
            ExpressionAttributeValues={":n": {"N": str(100 + i % 2)}},
            ReturnValues="ALL_NEW",
        )
        times.append(time.perf_counter() - started)
    return median_ms(times)


# ---- 3b. resolve ------------------------------------------------------------------------------------------


def resolve_latency(n: int) -> list[tuple[str, float, float, dict[str, int]]]:
    """ResolveFunction's warm latency through its handler, for 1 and 13 actions, on a secret-cache hit (one
    Query) and a miss (a fresh instance's cache: the Query and the user's secret), with the calls each made and
    the bare boto3 replay of those calls."""
    with in_process_aws(**HIGH_LIMITS) as (ddb, calls):
        from modelconfig import resolve

        api = Api("bench-user")
        api.put("/api/byok-keys/anthropic", {"apiKey": USER_KEY}, query={"verify": "false"})
        api.put("/api/model-configs/blueprint", {"modelName": OPUS})
        fn = runtime.function("ResolveFunction")
        handler, context = runtime.handler(fn), runtime.Context(fn)
        names = list(CATALOG.actions)
        sm = boto3.client("secretsmanager", region_name="us-east-1")
        from modelconfig.storage import dynamo, secrets

        def bare(miss: bool) -> None:
            ddb.query(
                TableName=dynamo.table_name(),
                KeyConditionExpression="pk = :pk AND sk < :below",
                ExpressionAttributeValues={":pk": {"S": "USER#bench-user"}, ":below": {"S": "LIMIT#"}},
            )
            if miss:
                sm.get_secret_value(SecretId=secrets.secret_name("bench-user"))

        rows = []
        for label, wanted in (("1 action (blueprint, a user key)", ["blueprint"]), ("13 actions", names)):
            event = {"userId": "bench-user", "agentActions": wanted}
            handler(event, context)  # warm: the function's first request, its clients, the platform keys
            for miss in (False, True):
                took, replay = [], []
                for _ in range(n):
                    if miss:
                        resolve.reset_cache()
                    calls.clear()
                    started = time.perf_counter()
                    answer = handler(event, context)
                    took.append(time.perf_counter() - started)
                    assert "resolved" in answer, answer
                    seen = dict(calls)
                    started = time.perf_counter()
                    bare(miss)
                    replay.append(time.perf_counter() - started)
                what = "cache miss (a fresh instance)" if miss else "cache hit"
                rows.append((f"{label}, {what}", median_ms(took), median_ms(replay), dict(sorted(seen.items()))))
        return rows


# ---- 7. the bill ------------------------------------------------------------------------------------------


def cost_model(runs: int) -> tuple[list[cost.Priced], float]:
    """Each route's units and warm duration, priced (benchmarks/cost.py), for a user with a few overrides
    and a key, as the month's profile assumes."""
    from modelconfig.storage import aws as aws_clients
    from tests.provider_server import ProviderServer

    provider = ProviderServer()
    try:
        with in_process_aws(**provider.base_urls(), **HIGH_LIMITS) as (ddb, _calls):
            api = Api("cost-user")
            for action in ("blueprint", "phaseImplementation", "conversationalResponse"):
                api.put(f"/api/model-configs/{action}", {"modelName": PRO})
            api.put("/api/byok-keys/anthropic", {"apiKey": USER_KEY})
            meter = cost.Meter(ddb)
            meter.register(aws_clients.dynamodb())
            meter.register(aws_clients.secretsmanager())
            routes: list[tuple[str, Callable[[], Any]]] = [
                ("GET /api/model-configs", lambda: api.get("/api/model-configs")),
                ("GET /api/model-configs/defaults", lambda: api.get("/api/model-configs/defaults")),
                ("GET /api/model-configs/byok-providers", lambda: api.get("/api/model-configs/byok-providers")),
                (
                    "PUT /api/model-configs/{agentAction}",
                    lambda: api.put("/api/model-configs/blueprint", {"modelName": PRO}),
                ),
                (
                    "DELETE /api/model-configs/{agentAction} (404: the read alone)",
                    lambda: api.delete("/api/model-configs/fastCodeFixer"),
                ),
                ("GET /api/byok-keys", lambda: api.get("/api/byok-keys")),
                (
                    "PUT /api/byok-keys/{provider} (replace)",
                    lambda: api.put("/api/byok-keys/anthropic", {"apiKey": f"{USER_KEY}-{next(rotation)}"}),
                ),
                (
                    f"POST /api/model-configs/test (platform key; plus {cost.PROVIDER_SECONDS:g} s for the provider)",
                    lambda: api.post("/api/model-configs/test", {"agentActionName": "blueprint"}),
                ),
                ("GET /api/audit (a page of 50)", lambda: api.get("/api/audit")),
            ]
            measured = [cost.measure(label, request, meter, runs) for label, request in routes]
            priced = [cost.price(m, provider_wait=m.label.startswith("POST /api/model-configs/test")) for m in measured]
            entries = ddb.scan(TableName=os.environ["AUDIT_TABLE_NAME"])["Items"]
            return priced, statistics.mean(cost.item_size(e) for e in entries)
    finally:
        provider.stop()


# ---- 4. the local API under load --------------------------------------------------------------------------


def load_local_api(seconds: float, clients: int) -> dict[str, float]:
    from infra.local_api import running

    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k not in runtime.TABLES.values()}
    env |= {"GOOGLE_AI_STUDIO_API_KEY": "AIza-bench-platform-key-000000000", "POWERTOOLS_LOG_LEVEL": "ERROR"}
    headers = {"authorization": f"Bearer {sample_token('load-user')}"}
    with running(env) as (base, _lines):
        with httpx.Client(base_url=base) as c:
            c.put("/api/model-configs/blueprint", headers=headers, json={"modelName": PRO})
            for _ in range(20):
                c.get("/api/model-configs", headers=headers)
        latencies: list[float] = []
        lock = threading.Lock()
        stop = time.monotonic() + seconds

        def client() -> None:
            mine = []
            with httpx.Client(base_url=base) as c:
                while time.monotonic() < stop:
                    started = time.perf_counter()
                    reply = c.get("/api/model-configs", headers=headers)
                    mine.append(time.perf_counter() - started)
                    assert reply.status_code == 200
            with lock:
                latencies.extend(mine)

        threads = [threading.Thread(target=client) for _ in range(clients)]
        started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
        "clients": clients,
        "seconds": elapsed,
    }


# ---- 5. the sweep -----------------------------------------------------------------------------------------


def sweep_bench(count: int) -> dict[str, float]:
    from modelconfig import sweep
    from modelconfig.storage import overrides
    from tests.factories import config_row

    with in_process_aws() as (_ddb, calls):
        actions = [
            "blueprint",
            "deepDebugger",
            "phaseImplementation",
            "firstPhaseImplementation",
            "agenticProjectBuilder",
        ]
        models = [PRO, "openai/gpt-4-retired", OPUS, PRO, "google-ai-studio/gemini-2.5-flash"]
        rows = [
            config_row(f"user-{i // len(actions):06d}", actions[i % len(actions)], models[i % len(models)], id=f"c{i}")
            for i in range(count)
        ]
        seeded = time.perf_counter()
        overrides.put_many(rows)
        seed_s = time.perf_counter() - seeded
        calls.clear()
        started = time.perf_counter()
        result = sweep.sweep(sweep.SweepRequest(run_id="bench"), time_left_ms=lambda: 900_000)
        elapsed = time.perf_counter() - started
        total_calls = sum(calls.values())
        return {
            "overrides": count,
            "reset": result["reset"],
            "seconds": elapsed,
            "items_per_s": result["scanned"] / elapsed,
            "calls": dict(calls),
            "calls_per_1000": total_calls / (result["scanned"] / 1000),
            "seed_seconds": seed_s,
        }


def erasure_bench() -> dict[str, Any]:
    """One user with 13 overrides, 4 keys and 2,000 audit entries erased through EraseUserFunction's handler."""
    from tests.support.constants import ANTHROPIC_KEY, GROK_KEY, OPENAI_KEY

    keys = {
        "openai": OPENAI_KEY,
        "anthropic": ANTHROPIC_KEY,
        "grok": GROK_KEY,
        "google-ai-studio": "AIzaSy-bench-0000000000",
    }
    with in_process_aws(**HIGH_LIMITS) as (_ddb, calls):
        api = Api("erased-user")
        for provider, key in keys.items():
            api.put(f"/api/byok-keys/{provider}", {"apiKey": key}, query={"verify": "false"})
        for key, action in CATALOG.actions.items():
            api.put(f"/api/model-configs/{key}", {"modelName": action.default.name})
        seed_audit("erased-user", AUDIT_ENTRIES)
        fn = runtime.function("EraseUserFunction")
        calls.clear()
        started = time.perf_counter()
        result = runtime.handler(fn)({"userId": "erased-user"}, runtime.Context(fn, timeout_seconds=300))
        elapsed = time.perf_counter() - started
        return {"result": result, "seconds": elapsed, "calls": dict(sorted(calls.items()))}


def sweep_with_audit(users: int, per_user: int) -> dict[str, Any]:
    """The same sweep twice, without and with `per_user` audit entries for each user: the Scan reads the config
    table alone, so its calls and items scanned must not move."""
    from modelconfig import sweep
    from modelconfig.storage import overrides
    from tests.factories import config_row

    runs = {}
    for entries in (0, per_user):
        with in_process_aws() as (_ddb, calls):
            rows = [config_row(f"user-{u:04d}", a, m) for u in range(users)
                    for a, m in (("blueprint", PRO), ("deepDebugger", "openai/gpt-4-retired"))]  # fmt: skip
            overrides.put_many(rows)
            for u in range(users if entries else 0):
                seed_audit(f"user-{u:04d}", entries)
            calls.clear()
            result = sweep.sweep(sweep.SweepRequest(run_id=f"audit-{entries}"), time_left_ms=lambda: 900_000)
            runs[entries] = {
                "scanned": result["scanned"],
                "reset": result["reset"],
                "calls": dict(sorted(calls.items())),
            }
    return {"users": users, "per_user": per_user, "runs": runs}


# ---- 6. hostile input --------------------------------------------------------------------------------------


def guard_bench(n: int) -> dict[str, Any]:
    """What the egress guard adds to a request to a user's endpoint: judging addresses, reading the URL, the name
    lookup (the OS resolver in a thread, with the machine's warm cache: `localhost` from /etc/hosts here), and a
    whole GET of a model list through the guarded client against the unguarded one, on a new connection each time
    (the guard runs once per connection; a kept-alive connection skips it) and on a kept-alive one."""
    import socket

    from modelconfig.providers import client, egress
    from tests.provider_server import ProviderServer

    def per_call_us(fn: Callable[[], Any], count: int) -> float:
        samples = []
        for _ in range(count):
            started = time.perf_counter()
            fn()
            samples.append((time.perf_counter() - started) * 1e6)
        return statistics.median(samples)

    provider = ProviderServer()
    port = provider.server_address[1]
    from modelconfig.settings import settings

    saved = dict(os.environ)
    os.environ |= {  # the settings the guard reads; no AWS call is made here
        "TABLE_NAME": "bench-configs",
        "AUDIT_TABLE_NAME": "bench-audit",
        "CUSTOM_PROVIDER_ALLOWED_HOSTS": f"127.0.0.1:{port},localhost:{port}",
    }
    settings.cache_clear()
    addresses = ["93.184.215.14", "10.0.0.1", "::ffff:127.0.0.1", "2606:4700::1111", "64:ff9b::a00:1"]
    results: dict[str, Any] = {
        "judge_us": per_call_us(lambda: [egress.refusal(a) for a in addresses], n) / len(addresses),
        "parse_us": per_call_us(lambda: egress.parse("https://openrouter.ai/api/v1"), n),
        "getaddrinfo_us": per_call_us(lambda: socket.getaddrinfo("localhost", 443, type=socket.SOCK_STREAM), n),
        "lookup_us": per_call_us(lambda: egress.lookup("localhost", 443, 2.0), n),
    }
    try:
        url = f"http://localhost:{port}/openai/v1/models"
        for label, guarded in (("plain", False), ("guarded", True)):
            http = client._client(guarded=guarded)
            fresh = []
            for _ in range(n // 4):
                http.close()
                client._client.cache_clear()
                http = client._client(guarded=guarded)
                started = time.perf_counter()
                http.get(url).read()
                fresh.append((time.perf_counter() - started) * 1000)
            kept = []
            for _ in range(n // 4):
                started = time.perf_counter()
                http.get(url).read()
                kept.append((time.perf_counter() - started) * 1000)
            results[f"{label}_fresh_ms"] = statistics.median(fresh)
            results[f"{label}_kept_ms"] = statistics.median(kept)
            http.close()
            client._client.cache_clear()
    finally:
        provider.stop()
        os.environ.clear()
        os.environ.update(saved)
        settings.cache_clear()
    return results


def fuzz() -> str:
    """The schemathesis test of `make test`, run here for its count of generated requests."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "fuzz.md"
        subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:logging", "tests/e2e/test_fuzz.py"],
            cwd=runtime.ROOT,
            env=os.environ | {"FUZZ_REPORT": str(report)},
            check=True,
            capture_output=True,
        )
        return report.read_text().strip()


# ---- report -----------------------------------------------------------------------------------------------


def cost_breakdown(costs: Breakdown) -> list[str]:
    """Where a cold start's time goes: each group's import time, and the first request, per function measured."""
    if not costs:
        return []
    names = [n for n in BROKEN_DOWN if n in costs]
    groups = sorted(
        (
            g
            for g in {g for n in names for g in costs[n]} - {IMPORT, FIRST}
            if max(c.get(g, 0) for c in costs.values()) >= 1
        ),
        key=lambda g: -max(costs[n].get(g, 0.0) for n in names),
    )
    lines = [
        "### Where the time goes",
        "",
        "`-X importtime` of the same processes (5 runs each, median ms). Each module's own import time is summed "
        "per group, so nothing counts twice; a standard-library module counts for the package that imported it "
        "first (asyncio for Powertools' AppSync resolver, ssl for httpx). The flag slows imports: read the shares, "
        "not the sums. The last two rows are wall clock without the flag's overhead removed: the import, then the "
        "first request (the SDK's session and first client, which the floor pays too, each model's first "
        "validation, a provider's TLS context and connection).",
        "",
        "| | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for group in [*groups, IMPORT, FIRST]:
        cells = " | ".join(f"{costs[n].get(group, 0.0):.0f}" for n in names)
        lines.append(f"| {group} | {cells} |")
    lines.append("")
    return lines


def report(results: dict[str, Any]) -> str:
    lines = [
        "# Benchmarks",
        "",
        f"`make bench` on {time.strftime('%Y-%m-%d')}, Python {sys.version.split()[0]}, "
        f"{os.cpu_count()} cores. moto stands in for AWS: call counts and ratios carry over, absolute "
        "latencies are moto's.",
        "",
    ]
    if "calls" in results:
        lines += ["## AWS calls per warm request", "", "| route | calls |", "|---|---|"]
        for label, counted in results["calls"]:
            text = ", ".join(f"{op} x {n}" for op, n in counted.items()) or "none"
            lines.append(f"| {label} | {text} |")
        lines.append("")
    if "cold" in results:
        lines += [
            f"## Cold start (fresh process: import + first request; {results['cold_runs']} interleaved pairs each)",
            "",
            "Wall: spawn to first answer. CPU: the process's CPU time at its first answer (interpreter start "
            "included, moto's work in the parent excluded). Every process runs on the base interpreter with "
            "Lambda's path: the layer (our package and `shared/requirements.txt`, its own boto3 and botocore "
            "included), then the runtime's; and without `site` (`-S`), whose start-up here runs a `.pth` file of "
            "this machine's own (it imports certifi, about 55 ms, and with it pathlib, inspect and re) that no "
            "Lambda runtime has: with it, both sides paid 55 ms more and the function found part of its standard "
            "library already loaded, which put every ratio 0.03 to 0.08 lower. "
            "The floor is a fresh process that imports boto3, makes one client "
            "and makes one call (a GetItem on the moto server). Runs are interleaved, floor then function, and "
            "each ratio is the median of the function's times over the median of the floors it was paired "
            "with. The last column is the 1.1 method on the same runs: the median over rounds of the function's "
            "time over the median floor of its round. "
            "Each function serves its sample event from `infra/events/`; the model test's sample is a "
            "switched-off action, so no provider is called; the row after it is a test that reads the platform "
            'key and calls a loopback stand-in of the provider. Rows marked "tracing on" run with Tracing=Active '
            "(Powertools' Tracer and the X-Ray SDK, no daemon). Two reference rows follow the list: "
            "the stack alone (`benchmarks/bare_stack.py`: Powertools' HTTP API resolver with validation, its "
            "Logger, one pydantic model and one GetItem, none of the service), and the list with its layer's "
            "Powertools changed in one place for this run: its `event_handler` package imports only the API "
            "Gateway resolvers, not all of them (the AppSync resolver imports asyncio).",
            "",
            "| function | wall ms | x floor | CPU ms | x floor | x floor, 1.1 method |",
            "|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {n} | {w:.0f} | {wr:.2f} | {c:.0f} | {cr:.2f} | {old:.2f} |" for n, w, wr, c, cr, old in results["cold"]
        ]
        lines.append("")
        lines += _against_the_stack(results["cold"])
        lines += cost_breakdown(results.get("cold_costs", {}))
    if "warm" in results:
        lines += [
            "## Warm latency in-process against moto (median)",
            "",
            "The bare column replays only the AWS calls; a route that calls a provider (the key check, the model "
            "test) has that call in its own column alone. Before the audit trail (1.1.0), for comparison: "
            + "; ".join(f"{route} {figure}" for route, figure in BEFORE_AUDIT.items())
            + ". A config PUT now reads the override it replaces and writes it with its audit entry in one "
            'transaction (docs/architecture.md, "The audit trail").',
            "",
            "| route | route ms | bare boto3 ms | ratio |",
            "|---|---|---|---|",
        ]
        for label, r, b, ratio in results["warm"]:
            lines.append(
                f"| {label} | {f'{r:.2f}' if r else ''} | {'' if b is None else f'{b:.2f}'} | "
                f"{'' if ratio is None else f'{ratio:.2f}'} |"
            )
        lines.append("")
    if "resolve" in results:
        lines += [
            "## Resolve (ResolveFunction through its handler, warm, median)",
            "",
            "The bare column replays the same calls with boto3: the Query, and the user's secret on a miss. A miss is "
            "a fresh instance's cache, or a key status changed since the secret was read; `lastUsedAt` is written at "
            "most once an hour per key, so a warm call seldom writes it.",
            "",
            "| call | ms | bare boto3 ms | ratio | AWS calls |",
            "|---|---|---|---|---|",
        ]
        for label, ms, bare_ms, seen in results["resolve"]:
            counted = ", ".join(f"{k} x {v}" for k, v in seen.items())
            lines.append(f"| {label} | {ms:.2f} | {bare_ms:.2f} | {ms / bare_ms:.2f} | {counted} |")
        lines.append("")
    if "load" in results:
        load = results["load"]
        lines += [
            "## Local API under load (GET /api/model-configs)",
            "",
            f"{load['clients']} concurrent keep-alive clients for {load['seconds']:.1f} s: "
            f"**{load['rps']:.0f} requests/s**, p50 {load['p50_ms']:.1f} ms, p99 {load['p99_ms']:.1f} ms "
            f"({load['requests']} requests).",
            "",
        ]
    if "sweep" in results:
        sw = results["sweep"]
        lines += [
            "## Sweep",
            "",
            f"{sw['overrides']:,} overrides ({sw['reset']:,} to reset): {sw['seconds']:.1f} s, "
            f"**{sw['items_per_s']:,.0f} items/s**, **{sw['calls_per_1000']:.1f} DynamoDB calls per 1,000 items** "
            f"({', '.join(f'{k} x {v}' for k, v in sorted(sw['calls'].items()))}). Each reset is a transaction with "
            "its audit entry, and moto copies every table a transaction touches: items/s here is moto's, and "
            "falls as the table grows, which DynamoDB's does not; the calls per 1,000 items carry over.",
            "",
        ]
    if "sweep_audit" in results:
        sa = results["sweep_audit"]
        without, with_ = sa["runs"][0], sa["runs"][sa["per_user"]]
        shown = [", ".join(f"{k} x {v}" for k, v in r["calls"].items()) for r in (without, with_)]
        lines += [
            f"The audit trail stays out of the Scan: {sa['users']} users, 2 overrides each, swept without audit "
            f"entries ({without['scanned']} scanned, {without['reset']} reset: {shown[0]}) and with "
            f"{sa['per_user']:,} entries each ({with_['scanned']} scanned, {with_['reset']} reset: {shown[1]}).",
            "",
        ]
    if "erasure" in results:
        er = results["erasure"]
        lines += [
            "## Erasure",
            "",
            f"One user with 13 overrides, 4 keys and {AUDIT_ENTRIES:,} audit entries, through EraseUserFunction's "
            f"handler: **{er['seconds']:.2f} s**, answer `{json.dumps(er['result'])}`, "
            f"{sum(er['calls'].values())} AWS calls ({', '.join(f'{k} x {v}' for k, v in er['calls'].items())}).",
            "",
        ]
    if "guard" in results:
        g = results["guard"]
        lines += [
            "## The egress guard (custom providers)",
            "",
            "What the guard adds to a request to a user's endpoint, median of this run. Judging one address "
            f"(unwrapping IPv4 from IPv6 included): {g['judge_us']:.1f} µs; reading the URL with httpx: "
            f"{g['parse_us']:.1f} µs; the name lookup through the OS resolver with a warm cache (`localhost`, from "
            f"/etc/hosts here; on Lambda the VPC resolver, about a millisecond): {g['getaddrinfo_us']:.0f} µs "
            f"direct, {g['lookup_us']:.0f} µs in the guard's thread, which bounds a lookup the OS would let hang. "
            "A GET of a model list from the loopback stand-in, name lookup included:",
            "",
            "| client | new connection ms | kept-alive connection ms |",
            "|---|---|---|",
            f"| the catalog providers' client | {g['plain_fresh_ms']:.2f} | {g['plain_kept_ms']:.2f} |",
            f"| the guarded client (resolve, judge every address, connect to it) | {g['guarded_fresh_ms']:.2f} | "
            f"{g['guarded_kept_ms']:.2f} |",
            "",
            "The guard runs once per connection: a kept-alive connection to a host already judged skips it. The "
            "per-request cost is the judging, microseconds; the lookup is what any client pays for a new connection.",
            "",
        ]
    if "fuzz" in results:
        lines += ["## Hostile input", "", results["fuzz"], ""]
    if "cost" in results:
        priced, entry_bytes = results["cost"]
        # What SnapStart's restore replaces: a cold start's init, as the median function of this run's bench (its
        # sample requests; not the floor, the reference rows or the variants).
        functions = {fn.logical_id for fn in runtime.functions()}
        cold = [wall for name, wall, *_rest in results.get("cold", []) if name in functions]
        lines += cost.report(priced, entry_bytes, init_seconds=statistics.median(cold) / 1000 if cold else 0.75)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--only", nargs="*", choices=["calls", "cold", "warm", "guard", "load", "sweep", "erasure", "fuzz", "cost"]
    )
    parser.add_argument("--runs", type=int, default=7, help="interleaved pairs (floor, function) per function")
    # moto copies every table a transaction touches (its rollback), and each reset is a transaction: its time
    # grows with the table squared, so the sweep is timed at a size moto finishes, and read as moto's.
    parser.add_argument("--overrides", type=int, default=1_000)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    environment.isolate()  # fake AWS credentials for the in-process runs: no bench reaches real AWS
    everything = {"calls", "cold", "warm", "guard", "load", "sweep", "erasure", "fuzz", "cost"}
    wanted = set(args.only or everything)
    results: dict[str, Any] = {}
    if "calls" in wanted:
        results["calls"] = calls_per_route()
    if "cold" in wanted:
        results["cold"], results["cold_costs"] = cold_starts(args.runs)
        results["cold_runs"] = args.runs
    if "warm" in wanted:
        results["warm"] = warm_latency(200)
        results["resolve"] = resolve_latency(200)
    if "guard" in wanted:
        results["guard"] = guard_bench(400)
    if "load" in wanted:
        results["load"] = load_local_api(5.0, 4)
    if "sweep" in wanted:
        results["sweep"] = sweep_bench(args.overrides)
        results["sweep_audit"] = sweep_with_audit(20, AUDIT_ENTRIES)
    if "erasure" in wanted:
        results["erasure"] = erasure_bench()
    if "fuzz" in wanted:
        results["fuzz"] = fuzz()
    if "cost" in wanted:
        results["cost"] = cost_model(100)
    text = report(results)
    print(text)
    if not args.no_write and wanted == everything:
        old = DOCS.read_text() if DOCS.exists() else ""
        mutation = old[old.find("## Mutation testing") :] if "## Mutation testing" in old else ""  # make mutate's
        DOCS.write_text(text + "\n" + (f"\n{mutation}" if mutation else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
