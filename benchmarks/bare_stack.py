"""The cold start's reference below every function: the stack the service is built on, with none of the service.

Powertools' HTTP API resolver with validation on, its Logger, one pydantic response model, and one DynamoDB call
through a botocore client made on the first request, as the functions make theirs. The collector rests through the
cold start, as the layer has it rest (`modelconfig/__init__.py`). `make bench` times it like a function, beside the
floor: what any route on this stack pays before a line of ours runs.
"""

import gc
import os
from functools import cache
from typing import Any

gc.disable()

from aws_lambda_powertools import Logger  # noqa: E402  (after the collector rests, as in the layer)
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver  # noqa: E402
from pydantic import BaseModel  # noqa: E402

logger = Logger()
app = APIGatewayHttpResolver(enable_validation=True)


class Found(BaseModel):
    found: bool


@cache
def dynamodb() -> Any:
    """Made on the first request, once, as the service's clients are (modelconfig/storage/aws.py)."""
    import botocore.session

    return botocore.session.get_session().create_client("dynamodb")


@app.get("/api/model-configs")
def read() -> Found:
    answer = dynamodb().get_item(
        TableName=os.environ["TABLE_NAME"], Key={"pk": {"S": "USER#bare"}, "sk": {"S": "CONFIG#blueprint"}}
    )
    return Found(found="Item" in answer)


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
