"""GET /api/model-configs/byok-providers: key status per BYOK provider and the models each makes usable."""

from typing import Annotated

from modelconfig import configs
from modelconfig.api.http import Query, create_app, handler, route_responses, user_id
from modelconfig.catalog import AgentActionName
from modelconfig.schemas import ByokProvidersData, Ok

app = create_app()


@app.get(
    "/api/model-configs/byok-providers",
    responses=route_responses(),
    summary="BYOK providers and models",
    operation_id="listByokProviders",
    tags=["keys"],
)
def list_byok_providers(agentAction: Annotated[AgentActionName | None, Query()] = None) -> Ok[ByokProvidersData]:
    return Ok(data=configs.byok_providers(user_id(app), agentAction))


lambda_handler = handler(app)
