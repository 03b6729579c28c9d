"""PUT /api/model-configs/{agentAction}: replace the caller's override for one action (If-Match: only while
it is the version the caller read)."""

from typing import Annotated

from modelconfig import configs
from modelconfig.api.http import (
    IF_MATCH,
    Body,
    Header,
    Path,
    Response,
    actor,
    create_app,
    handler,
    route_responses,
    user_id,
    with_etag,
)
from modelconfig.catalog import AgentActionName
from modelconfig.schemas import Ok, SavedConfigData, UpdateBody

app = create_app()


@app.put(
    "/api/model-configs/<agentAction>",
    responses=route_responses(403, 412, etag=True),
    summary="Save an override",
    operation_id="putConfig",
    tags=["configs"],
)
def put_config(
    agentAction: Annotated[AgentActionName, Path()],
    body: Annotated[UpdateBody, Body()],
    if_match: Annotated[str | None, Header(description=IF_MATCH)] = None,
) -> Response[Ok[SavedConfigData]]:
    return with_etag(configs.update_config(user_id(app), agentAction, body, if_match, actor(app)))


lambda_handler = handler(app)
