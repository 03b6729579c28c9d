"""ResolveFunction, invoked with Lambda `Invoke` by the builder's services (never through the HTTP API): for one
user and up to 13 agent actions, the effective config and the key to call each model with (SPEC section 11).

Bad input is an answer (`{"error": {"name": "ValidationError", ...}}`), never a raised exception. The event is
read with pydantic directly (`resolve.parse_event`): Powertools' parser would import every event source's
models, about 50 ms of each cold start (measured), to read two fields. The answer carries keys, so neither it
nor the event is logged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from modelconfig import resolve  # first: the layer's import starts the cold start (see modelconfig/__init__.py)
from modelconfig.api import envelope
from modelconfig.api.coldstart import entry_point
from modelconfig.errors import DomainError
from modelconfig.observability import logger

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


@logger.inject_lambda_context(clear_state=True)
def _handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    try:
        request = resolve.parse_event(event)
        logger.append_keys(userId=request.userId)
        return resolve.resolve(request.userId, [a.value for a in request.agentActions])
    except DomainError as exc:
        logger.warning("resolve refused", extra={"error": type(exc).__name__, "reason": exc.message})
        return envelope.invoked(exc, context.aws_request_id)


lambda_handler = entry_point(_handler)
