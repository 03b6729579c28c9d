"""GET /api/model-configs/{agentAction}: the caller's merged config for one action, and its ETag."""

from typing import Annotated

from modelconfig import configs
from modelconfig.api.http import Path, Response, create_app, handler, route_responses, user_id, with_etag
from modelconfig.catalog import AgentActionName
from modelconfig.schemas import ConfigData, Ok

app = create_app()


@app.get(
    "/api/model-configs/<agentAction>",
    responses=route_responses(etag=True),
    summary="Get one merged config",
    operation_id="getConfig",
    tags=["configs"],
)
def get_config(agentAction: Annotated[AgentActionName, Path()]) -> Response[Ok[ConfigData]]:
    return with_etag(configs.get_config(user_id(app), agentAction))


lambda_handler = handler(app)
