"""The bill before a deploy: what 1M requests of each route cost, and a month for 10,000 and 100,000 users.

Every figure comes from this run's own measurements:
- the Lambda duration is the route's median warm duration in-process against moto (which stands in for the
  AWS calls' latency), billed by the ms at the template's memory, on arm64;
- DynamoDB request units come from the calls the route made and the sizes of the items they touched, counted
  by DynamoDB's rules (reads round up to 4 KB, half for eventually consistent; writes round up to 1 KB; twice
  for a transaction; a write refused by its condition still costs its unit);
- Secrets Manager calls are counted per request; the secrets themselves are priced per user-month.

CloudWatch Logs are left out of the per-request figure and priced on their own line: their volume depends on
the log level and retention an operator picks.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from typing import Any, NamedTuple

from infra import runtime

PRICES_AS_OF = "2026-11-30"
PRICES = {  # us-east-1 list prices
    "api_per_million": 1.00,  # API Gateway HTTP API, first 300M requests a month
    "lambda_per_million": 0.20,  # Lambda requests
    "lambda_gb_second_arm64": 0.0000133334,
    "ddb_wru_per_million": 0.625,  # DynamoDB on-demand, since the November 2024 price cut
    "ddb_rru_per_million": 0.125,
    "secrets_per_10k_calls": 0.05,
    "secret_month": 0.40,
    "logs_per_gb": 0.50,  # CloudWatch Logs ingestion
    "ddb_storage_gb_month": 0.25,  # DynamoDB Standard table storage
    "ddb_pitr_gb_month": 0.20,  # continuous backups (point-in-time recovery), which both tables keep
    # The optional edge layer (EdgeLayer=On): CloudFront HTTPS requests (North America and Europe) and WAF.
    "cloudfront_per_million": 1.00,  # $0.0100 per 10,000 HTTPS requests
    "waf_per_million": 0.60,
    "waf_acl_month": 5.00,
    "waf_rule_month": 1.00,  # each of its two rate-based rules
    # The optional SnapStart (SnapStart=PublishedVersions), as of 2026-12-02: the snapshot cache, and each restore.
    "snapstart_cache_gb_second": 0.0000015046,
    "snapstart_restore_gb": 0.0001397998,
}
EDGE_RULES = 2
MEMORY_MB = int(runtime.template()["Globals"]["Function"]["MemorySize"])  # what the functions are billed at
LOG_BYTES_PER_REQUEST = 900  # the function's request line (about 600 bytes) and the stage's access line
PROVIDER_SECONDS = 2.0  # a model test waits this long for the provider's answer (the loopback one answers at once)


class Measured(NamedTuple):
    label: str
    ms: float  # median warm duration
    rru: float
    wru: float
    secret_calls: int


class Priced(NamedTuple):
    label: str
    ms: float
    rru: float
    wru: float
    secret_calls: int
    api: float
    lambda_: float
    dynamodb: float
    secrets: float

    @property
    def total(self) -> float:
        return self.api + self.lambda_ + self.dynamodb + self.secrets


# ---- DynamoDB's sizes and units ---------------------------------------------------------------------------


def value_size(value: dict[str, Any]) -> int:
    (kind, v), *_ = value.items()
    if kind == "S":
        return len(v.encode())
    if kind == "N":
        digits = v.lstrip("-").replace(".", "").lstrip("0") or "0"
        return math.ceil(len(digits) / 2) + 1
    if kind == "B":
        return len(v)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(k.encode()) + value_size(x) for k, x in v.items())
    if kind == "L":
        return 3 + sum(1 + value_size(x) for x in v)
    if kind in ("SS", "NS", "BS"):
        return sum(value_size({kind[0]: x}) for x in v)
    raise ValueError(kind)


def item_size(item: dict[str, Any] | None) -> int:
    return sum(len(name.encode()) + value_size(value) for name, value in (item or {}).items())


def read_units(size: int, consistent: bool) -> float:
    return max(1, math.ceil(size / 4096)) * (1.0 if consistent else 0.5)


def write_units(size: int) -> float:
    return max(1, math.ceil(size / 1024))


class Meter:
    """Counts the request units and Secrets Manager calls of the calls the service's clients make.

    Sizes are read with a separate client, which the meter does not count: the item before a write (a delete
    or an overwrite pays for the larger of before and after), and everything a Query's key condition reads
    (its projection and filter do not lower the bill)."""

    def __init__(self, ddb: Any) -> None:
        self.ddb = ddb
        self.active = True  # off while a route is timed: the meter's own reads must not count as its duration
        self.rru = 0.0
        self.wru = 0.0
        self.secret_calls = 0

    def reset(self) -> None:
        self.rru = self.wru = 0.0
        self.secret_calls = 0

    def register(self, client: Any) -> None:
        client.meta.events.register("before-parameter-build", self.before)
        client.meta.events.register("after-call", self.after)

    def before(self, model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if not self.active:
            return
        service, op = model.service_model.service_name, model.name
        if service == "secretsmanager":
            self.secret_calls += 1
            return
        consistent = params.get("ConsistentRead", False)
        if op == "GetItem":
            self.rru += read_units(self._size(params["TableName"], params["Key"]), consistent)
        elif op == "Query":
            read = self.ddb.query(**_key_condition_only(params))["Items"]
            self.rru += read_units(sum(item_size(i) for i in read), consistent)
        targets = _write_targets(op, params)
        context["meter"] = [(table, key, factor, self._size(table, key)) for table, key, factor in targets]

    def after(self, model: Any, context: dict[str, Any], **_: Any) -> None:
        for table, key, factor, before in context.pop("meter", []):
            self.wru += write_units(max(before, self._size(table, key))) * factor  # refused writes pay too

    def _size(self, table: str, key: dict[str, Any]) -> int:
        return item_size(self.ddb.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item"))


def _key_of(body: dict[str, Any]) -> dict[str, Any]:
    return body.get("Key") or {k: body["Item"][k] for k in ("pk", "sk")}


def _write_targets(op: str, params: dict[str, Any]) -> list[tuple[str, dict[str, Any], float]]:
    """(table, key, units per KB) of every item a write touches: a transaction pays twice."""
    if op in ("PutItem", "UpdateItem", "DeleteItem"):
        return [(params["TableName"], _key_of(params), 1.0)]
    if op == "TransactWriteItems":
        return [(body["TableName"], _key_of(body), 2.0) for item in params["TransactItems"] for body in item.values()]
    if op == "BatchWriteItem":
        return [
            (table, _key_of(r.get("DeleteRequest") or r["PutRequest"]), 1.0)
            for table, requests in params["RequestItems"].items()
            for r in requests
        ]
    return []


def _key_condition_only(params: dict[str, Any]) -> dict[str, Any]:
    """The Query without projection or filter: what DynamoDB reads, and bills (a Limit stops the read itself)."""
    condition = params["KeyConditionExpression"]
    kept = ("TableName", "KeyConditionExpression", "ExclusiveStartKey", "Limit", "ScanIndexForward")
    query = {k: params[k] for k in kept if k in params}
    for field in ("ExpressionAttributeNames", "ExpressionAttributeValues"):
        used = {name: v for name, v in params.get(field, {}).items() if name in condition}
        if used:
            query[field] = used
    return query


def measure(label: str, request: Callable[[], Any], meter: Meter, runs: int) -> Measured:
    request()  # warm
    meter.reset()
    meter.active = True
    request()
    meter.active = False
    rru, wru, secret_calls = meter.rru, meter.wru, meter.secret_calls
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        request()
        times.append(time.perf_counter() - started)
    return Measured(label, statistics.median(times) * 1000, rru, wru, secret_calls)


def price(m: Measured, *, provider_wait: bool = False) -> Priced:
    """The cost of 1M requests of one route; a model test also pays its wait for the provider."""
    billed_ms = math.ceil(m.ms + (PROVIDER_SECONDS * 1000 if provider_wait else 0))
    gb_seconds = MEMORY_MB / 1024 * billed_ms / 1000 * 1_000_000
    return Priced(
        *m,
        api=PRICES["api_per_million"],
        lambda_=PRICES["lambda_per_million"] + gb_seconds * PRICES["lambda_gb_second_arm64"],
        dynamodb=m.rru * PRICES["ddb_rru_per_million"] + m.wru * PRICES["ddb_wru_per_million"],
        secrets=m.secret_calls * 100 * PRICES["secrets_per_10k_calls"],
    )


# A month of one active user of the app builder: what the web client does in a typical month.
PROFILE = {
    "GET /api/model-configs": 60,  # the settings page, on each visit
    "GET /api/model-configs/defaults": 20,
    "GET /api/model-configs/byok-providers": 20,
    "PUT /api/model-configs/{agentAction}": 10,
    "DELETE /api/model-configs/{agentAction}": 2,
    "GET /api/byok-keys": 20,
    "PUT /api/byok-keys/{provider}": 1,
    "POST /api/model-configs/test": 10,
}
BYOK_SHARE = 0.3  # users holding at least one key: one secret each
AUDITED = (
    "PUT /api/model-configs/{agentAction}",
    "DELETE /api/model-configs/{agentAction}",
    "PUT /api/byok-keys/{provider}",
)
ITEM_OVERHEAD = 100  # bytes DynamoDB adds to each item's stored size
DAYS_PER_MONTH = 30.44


def audit_storage(entry_bytes: float, retention_days: int) -> list[str]:
    """The audit trail's storage: one entry per audited change of the month's profile, kept `retention_days`."""
    P = PRICES
    per_month = sum(PROFILE[route] for route in AUDITED)
    kept = per_month * retention_days / DAYS_PER_MONTH
    gb_per_user = kept * (entry_bytes + ITEM_OVERHEAD) / 1e9
    per_gb = P["ddb_storage_gb_month"] + P["ddb_pitr_gb_month"]
    users = ", ".join(f"${gb_per_user * n * per_gb:,.2f} a month for {n:,} users" for n in (10_000, 100_000))
    return [
        f"The audit trail: {per_month} entries per active user a month (the profile's audited writes, each one "
        f"entry written in its change's transaction, whose units the table above counts). Kept {retention_days} "
        f"days, that is {kept:,.0f} entries of {entry_bytes:,.0f} bytes (measured) per user, "
        f"{gb_per_user * 1e6:,.0f} KB, priced at ${P['ddb_storage_gb_month']:.2f} per GB-month of storage and "
        f"${P['ddb_pitr_gb_month']:.2f} of continuous backup: {users}. TTL deletes expired entries for free.",
        "",
    ]


def month(priced: dict[str, Priced], users: int) -> dict[str, float]:
    requests = sum(PROFILE.values()) * users
    per_user = sum(priced[route].total * n / 1_000_000 for route, n in PROFILE.items())
    secrets = users * BYOK_SHARE * PRICES["secret_month"]
    logs = requests * LOG_BYTES_PER_REQUEST / 1e9 * PRICES["logs_per_gb"]
    return {"requests": requests, "requests_cost": per_user * users, "secrets": secrets, "logs": logs}


def report(
    priced: list[Priced], entry_bytes: float | None = None, retention_days: int = 400, init_seconds: float = 0.75
) -> list[str]:
    P = PRICES  # the prose quotes the very prices the figures used
    by_route = {p.label.split(" (")[0]: p for p in priced}
    lines = [
        f"## The bill (us-east-1 list prices as of {PRICES_AS_OF})",
        "",
        "Per 1M requests of each route, from this run: the median warm duration billed by the ms at "
        f"{MEMORY_MB} MB on arm64, DynamoDB request units from the calls made and the sizes of the items they "
        f"touched, Secrets Manager calls. Prices: API Gateway HTTP API ${P['api_per_million']:.2f} per million; "
        f"Lambda ${P['lambda_per_million']:.2f} per million and ${P['lambda_gb_second_arm64']:.10f} per GB-second "
        f"(arm64); DynamoDB on-demand ${P['ddb_wru_per_million']} per million write and "
        f"${P['ddb_rru_per_million']} per million read request units; Secrets Manager "
        f"${P['secrets_per_10k_calls']:.2f} per 10,000 calls and ${P['secret_month']:.2f} per secret a month; "
        f"CloudWatch Logs ${P['logs_per_gb']:.2f} per GB ingested.",
        "",
        "| route | ms | RRU | WRU | SM calls | API | Lambda | DynamoDB | Secrets | total per 1M |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for p in priced:
        lines.append(
            f"| {p.label} | {p.ms:.1f} | {p.rru:g} | {p.wru:g} | {p.secret_calls} | ${p.api:.2f} | "
            f"${p.lambda_:.3f} | ${p.dynamodb:.3f} | ${p.secrets:.2f} | **${p.total:.2f}** |"
        )
    profile = ", ".join(f"{n} x {route}" for route, n in PROFILE.items())
    lines += ["", f"A month of one active user: {profile}; {BYOK_SHARE:.0%} of users hold a key (one secret).", ""]
    lines += ["| active users | requests | requests cost | secrets | logs | month |", "|---|---|---|---|---|---|"]
    for users in (10_000, 100_000):
        m = month(by_route, users)
        total = m["requests_cost"] + m["secrets"] + m["logs"]
        lines.append(
            f"| {users:,} | {m['requests']:,} | ${m['requests_cost']:,.2f} | ${m['secrets']:,.2f} | "
            f"${m['logs']:,.2f} | **${total:,.2f}** |"
        )
    lines += ["", *edge_layer(by_route["GET /api/model-configs"].total)]
    lines += snapstart(by_route["GET /api/model-configs"].total, init_seconds)
    if entry_bytes is not None:
        lines += audit_storage(entry_bytes, retention_days)
    return lines


def snapstart(list_total: float, init_seconds: float) -> list[str]:
    """SnapStart on paper: a cached snapshot per function version, all month; a charge per restore, against the
    init it replaces, billed as duration on an on-demand cold start."""
    P = PRICES
    month_seconds = DAYS_PER_MONTH * 86_400  # the month the audit trail's storage is priced over
    memory = [fn.memory_mb / 1024 for fn in runtime.functions()]
    one = MEMORY_MB / 1024 * month_seconds * P["snapstart_cache_gb_second"]
    stack = sum(gb * month_seconds * P["snapstart_cache_gb_second"] for gb in memory)
    restore = MEMORY_MB / 1024 * P["snapstart_restore_gb"]
    init = MEMORY_MB / 1024 * init_seconds * P["lambda_gb_second_arm64"]
    return [
        f"SnapStart (`SnapStart=PublishedVersions`, off by default; docs/deploying.md) on paper: the snapshot cache "
        f"at ${P['snapstart_cache_gb_second']:.10f} per GB-second is ${one:.2f} a month for one {MEMORY_MB} MB "
        f"function version and ${stack:.2f} a month for the stack's {len(memory)} functions, with no traffic at "
        f"all; a restore at ${P['snapstart_restore_gb']:.10f} per GB is ${restore:.7f}, against ${init:.7f} for "
        f"the {init_seconds:.2f} s init it replaces (this run's median cold start, billed as duration): "
        f"{restore / init:.0f} times as much. It buys latency, never money: the cache alone is the bill of "
        f"{stack / list_total:.0f} million list requests.",
        "",
    ]


def edge_layer(list_total: float) -> list[str]:
    """What the optional edge layer adds: per request, and a fixed monthly fee for the web ACL and its rules."""
    P = PRICES
    per_million = P["cloudfront_per_million"] + P["waf_per_million"]
    fixed = P["waf_acl_month"] + EDGE_RULES * P["waf_rule_month"]
    return [
        f"The edge layer (`EdgeLayer=On`, off by default) adds ${per_million:.2f} per million requests (CloudFront "
        f"${P['cloudfront_per_million']:.2f} for HTTPS requests in North America and Europe, WAF "
        f"${P['waf_per_million']:.2f}) and ${fixed:.2f} a month (the web ACL ${P['waf_acl_month']:.2f} and its "
        f"{EDGE_RULES} rate-based rules ${P['waf_rule_month']:.2f} each): a list request then costs "
        f"${list_total + per_million:.2f} per million instead of ${list_total:.2f}. Data transfer out is left out: "
        "answers are a few KB.",
        "",
    ]
