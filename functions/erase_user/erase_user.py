"""EraseUserFunction, invoked with Lambda `Invoke` or by an EventBridge event (an identity provider's "user
deleted" hook, `detail.userId`): delete everything stored about one user (SPEC section 12).

Bad input is an answer (`{"error": {"name": "ValidationError", ...}}`), never a raised exception. A fault of AWS
that outlived the SDK's retries is raised: the invocation fails, so Lambda retries an asynchronous one and then
puts it in the dead-letter queue (ErasureFailedAlarm); the next run finds only what is left. Its log lines name
the user only by a SHA-256 of the id, as the receipt does."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from modelconfig import accountability  # first: the layer's import starts the cold start
from modelconfig.api import envelope
from modelconfig.api.coldstart import entry_point
from modelconfig.errors import InvalidInput
from modelconfig.observability import logger
from modelconfig.storage.aws import lambda_

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


def _continue(context: LambdaContext) -> Any:
    def invoke_again(request: accountability.EraseRequest) -> None:
        payload = {"userId": request.user_id, "continuation": True}
        lambda_().invoke(
            FunctionName=context.invoked_function_arn, InvocationType="Event", Payload=json.dumps(payload).encode()
        )

    return invoke_again


@logger.inject_lambda_context(clear_state=True)
def _handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    try:
        request = accountability.parse_erase(event)
        return accountability.erase(
            request, time_left_ms=context.get_remaining_time_in_millis, continue_later=_continue(context)
        )
    except InvalidInput as exc:
        logger.warning("erasure refused", extra={"error": type(exc).__name__, "reason": exc.message})
        return envelope.invoked(exc, context.aws_request_id)


lambda_handler = entry_point(_handler, rest_through_first_request=False)  # a run may last minutes
