"""Hostile input through the local API: schemathesis generates requests from /openapi.json, valid and
deliberately invalid, and no answer may be a 5xx or break the documented schema (issue 7).

schemathesis' pytest plugin does not run under pytest 9, so its strategies are driven with hypothesis here.
"""

import os
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from infra import runtime
from infra.local_api import sample_token

EXAMPLES = 100  # per operation and mode: 11 operations x 2 modes x 100 = 2,200 requests
SCHEMA = schemathesis.openapi.from_path(runtime.ROOT / "docs" / "openapi.json")  # kept equal to /openapi.json
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]
SENT: list[int] = []


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: f"{op.method.upper()} {op.path}")
def test_no_5xx_and_every_answer_matches_the_schema(operation, mode, local_api):
    base, _lines = local_api
    headers = {"authorization": f"Bearer {sample_token('fuzz-user')}"}

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,  # the same requests on every run: a CI failure reproduces
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case):
        response = case.call(base_url=base, headers=headers)
        SENT.append(response.status_code)
        assert response.status_code < 500, (
            case.method,
            case.formatted_path,
            repr(case.body)[:300],
            case.headers,
            case.query,
        )
        case.validate_response(
            response, checks=[status_code_conformance, content_type_conformance, response_schema_conformance]
        )

    check()


def test_fuzzing_sent_at_least_2000_requests():
    if not SENT:
        pytest.skip("run with the fuzz tests (this totals them)")
    if report := os.environ.get("FUZZ_REPORT"):
        statuses = ", ".join(f"{s} x {SENT.count(s)}" for s in sorted(set(SENT)))
        Path(report).write_text(
            f"schemathesis {schemathesis.__version__}, valid and invalid requests generated from /openapi.json "
            f"against `make run`'s server: **{len(SENT)} requests, no 5xx, every answer matching the schema** "
            f"(statuses: {statuses}).\n"
        )
    assert len(SENT) >= 2000, len(SENT)
