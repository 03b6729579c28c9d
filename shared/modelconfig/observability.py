"""Logger, Metrics and Tracer, made once per cold start.

The X-Ray SDK costs about half a second of cold start just to import, so the Tracer exists only when tracing
is switched on (POWERTOOLS_TRACE_DISABLED=false, which the template sets when its Tracing parameter is Active).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

if TYPE_CHECKING:
    from aws_lambda_powertools import Metrics, Tracer

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "model-config")
logger = Logger(service=SERVICE)

# At DEBUG, botocore logs every request's parameters (a SecretString holds a user's keys) and the HTTP
# clients log headers (an x-api-key). Whatever log level the function is given, these stay at WARNING.
for _name in ("botocore", "boto3", "urllib3", "s3transfer", "httpx", "httpcore"):
    logging.getLogger(_name).setLevel(logging.WARNING)


def tracing_enabled() -> bool:
    return os.environ.get("POWERTOOLS_TRACE_DISABLED", "true").strip().lower() in ("false", "0")


@cache
def tracer() -> Tracer | None:
    if not tracing_enabled():
        return None
    from aws_lambda_powertools import Tracer

    # Responses and errors stay out of traces: a key route's request carries a key.
    return Tracer(service=SERVICE)


@cache
def metrics() -> Metrics:
    from aws_lambda_powertools import Metrics

    return Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "ModelConfig"), service=SERVICE)


def traced(handler: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a Lambda handler in the Tracer when tracing is on; otherwise return it unchanged."""
    t = tracer()
    if t is None:
        return handler
    return t.capture_lambda_handler(handler, capture_response=False, capture_error=False)
