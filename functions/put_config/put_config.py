"""PUT /api/model-configs/{agentAction}: replace the caller's override for one action."""

from typing import Annotated

from modelconfig import configs
from modelconfig.api.http import Body, Path, create_app, handler, route_responses, user_id
from modelconfig.catalog import AgentActionName
from modelconfig.schemas import Ok, SavedConfigData, UpdateBody

app = create_app()


@app.put(
    "/api/model-configs/<agentAction>",
    responses=route_responses(403),
    summary="Save an override",
    operation_id="putConfig",
    tags=["configs"],
)
def put_config(
    agentAction: Annotated[AgentActionName, Path()], body: Annotated[UpdateBody, Body()]
) -> Ok[SavedConfigData]:
    return Ok(data=configs.update_config(user_id(app), agentAction, body))


lambda_handler = handler(app)
