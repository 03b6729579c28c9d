"""GET /api/model-configs: the caller's merged config for every agent action."""

from modelconfig import configs
from modelconfig.api.http import create_app, handler, route_responses, user_id
from modelconfig.schemas import ConfigsData, Ok

app = create_app()


@app.get(
    "/api/model-configs",
    responses=route_responses(),
    summary="List merged configs and defaults",
    operation_id="listConfigs",
    tags=["configs"],
)
def list_configs() -> Ok[ConfigsData]:
    return Ok(data=configs.list_configs(user_id(app)))


lambda_handler = handler(app)
