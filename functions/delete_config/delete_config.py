"""DELETE /api/model-configs/{agentAction}: drop the caller's override; the action uses its default again
(If-Match: only while it is the version the caller read)."""

from typing import Annotated

from modelconfig import configs
from modelconfig.api.http import IF_MATCH, Header, Path, actor, create_app, handler, route_responses, user_id
from modelconfig.catalog import AgentActionName
from modelconfig.schemas import MessageData, Ok

app = create_app()


@app.delete(
    "/api/model-configs/<agentAction>",
    responses=route_responses(404, 412),
    summary="Reset one override",
    operation_id="deleteConfig",
    tags=["configs"],
)
def delete_config(
    agentAction: Annotated[AgentActionName, Path()],
    if_match: Annotated[str | None, Header(description=IF_MATCH)] = None,
) -> Ok[MessageData]:
    return Ok(data=configs.delete_config(user_id(app), agentAction, if_match, actor(app)))


lambda_handler = handler(app)
