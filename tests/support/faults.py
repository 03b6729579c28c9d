"""The one way tests inject an AWS fault: the answer AWS would give, returned from one of botocore's own
events, so error parsing and our fault handling run as they would for real. Never by replacing our own
functions, and never botocore's Stubber (which fails every call it was not told about, so a test of one fault
would end at the first unrelated call).

- `fail`: at `before-call`, the answer of a whole call (the SDK's retries do not see it);
- `throttle`: at `before-send`, the answer of one HTTP attempt, so the SDK's retry layer runs as against AWS.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from botocore.awsrequest import AWSResponse


def fail(
    client: Any,
    operation: str,
    code: str,
    message: str = "",
    *,
    status: int = 400,
    times: int = 1,
    when: Callable[[dict[str, Any]], bool] = lambda params: True,
    extra: dict[str, Any] | None = None,
) -> list[int]:
    """Answer the next `times` calls of `operation` (whose params pass `when`) with AWS's error `code` (and the
    error's `extra` fields, such as a cancelled transaction's CancellationReasons). Returns a one-item list: the
    faults not yet given."""
    left = [times]

    def respond(params: dict[str, Any], **_kw: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        if left[0] <= 0 or not when(params):
            return None
        left[0] -= 1
        error = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}
        error |= extra or {}
        return AWSResponse("https://aws.invalid", status, {}, None), error  # type: ignore[arg-type]

    service = client.meta.service_model.service_name
    client.meta.events.register_first(f"before-call.{service}.{operation}", respond)
    return left


def always(client: Any, operation: str, code: str, message: str = "", *, status: int = 400) -> list[int]:
    """Every call of `operation` fails with `code`, retries included (a fault that persists)."""
    return fail(client, operation, code, message, status=status, times=1_000)


def cancelled(client: Any, *reasons: str, times: int = 1) -> list[int]:
    """The next `times` TransactWriteItems cancelled, with one reason code per item as AWS gives them."""
    return fail(
        client,
        "TransactWriteItems",
        "TransactionCanceledException",
        "Transaction cancelled",
        times=times,
        extra={"CancellationReasons": [{"Code": r} for r in reasons]},
    )


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_kw: Any) -> Iterator[bytes]:
        yield self._body


def throttle(client: Any, operations: list[str], *, times: int) -> list[str]:
    """Answer the first `times` HTTP attempts of `operations` with DynamoDB's throttling error, before the request
    leaves botocore, so the SDK's own retry logic runs exactly as against AWS."""
    seen: list[str] = []

    def respond(request: Any, **_kw: Any) -> AWSResponse | None:
        operation = request.headers.get("X-Amz-Target", b"")
        operation = operation.decode() if isinstance(operation, bytes) else operation
        if not any(operation.endswith(op) for op in operations) or len(seen) >= times:
            return None
        seen.append(operation)
        body = json.dumps({"__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException", "message": "slow down"})
        return AWSResponse(request.url, 400, {"x-amzn-errortype": "ThrottlingException"}, _Raw(body.encode()))

    client.meta.events.register_first("before-send.dynamodb", respond)
    return seen
