"""GET /api/model-configs/{agentAction}: the caller's merged config for one action."""

from typing import Annotated

from modelconfig import configs
from modelconfig.api.http import Path, create_app, handler, route_responses, user_id
from modelconfig.catalog import AgentActionName
from modelconfig.schemas import ConfigData, Ok

app = create_app()


@app.get(
    "/api/model-configs/<agentAction>",
    responses=route_responses(),
    summary="Get one merged config",
    operation_id="getConfig",
    tags=["configs"],
)
def get_config(agentAction: Annotated[AgentActionName, Path()]) -> Ok[ConfigData]:
    return Ok(data=configs.get_config(user_id(app), agentAction))


lambda_handler = handler(app)
