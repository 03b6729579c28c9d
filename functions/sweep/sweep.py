"""The scheduled reset sweep: resets overrides that can no longer work, or every override of named users."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from modelconfig import sweep  # first: the layer's import starts the cold start (see modelconfig/__init__.py)
from modelconfig.api.coldstart import entry_point
from modelconfig.observability import logger, metrics
from modelconfig.storage.aws import lambda_

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

_metrics = metrics()


def _continue(context: LambdaContext) -> Any:
    def invoke_again(request: sweep.SweepRequest) -> None:
        payload = {"runId": request.run_id, "continuation": True, "force": request.force}
        lambda_().invoke(
            FunctionName=context.invoked_function_arn, InvocationType="Event", Payload=json.dumps(payload).encode()
        )

    return invoke_again


@logger.inject_lambda_context(clear_state=True)
@_metrics.log_metrics
def _handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = sweep.parse_request(event, fallback_run_id=context.aws_request_id)
    result = sweep.sweep(request, time_left_ms=context.get_remaining_time_in_millis, continue_later=_continue(context))
    # Counts are cumulative over a run's continuations, so they are published once, when the run completes.
    if result.get("duplicate"):
        _metrics.add_metric(name="SweepDuplicate", unit="Count", value=1)
    elif not result["complete"]:
        _metrics.add_metric(name="SweepPaused", unit="Count", value=1)
    else:
        _metrics.add_metric(name="OverridesScanned", unit="Count", value=result["scanned"])
        _metrics.add_metric(name="OverridesReset", unit="Count", value=result["reset"])
        _metrics.add_metric(name="UsersTouched", unit="Count", value=result["usersTouched"])
        _metrics.add_metric(name="SweepHeld", unit="Count", value=result["held"])
        _metrics.add_metric(name="KeysPurged", unit="Count", value=result["keysPurged"])
        for reason, count in result["resetByReason"].items():
            _metrics.add_metric(name=f"Reset_{reason}", unit="Count", value=count)
    logger.info("sweep finished" if result["complete"] else "sweep paused", extra=result)
    return result


lambda_handler = entry_point(_handler, rest_through_first_request=False)  # a run may last 15 minutes
