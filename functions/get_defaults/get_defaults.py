"""GET /api/model-configs/defaults: defaults, agent constraints and the model catalog (no AWS call)."""

from modelconfig import configs
from modelconfig.api.http import create_app, handler, route_responses
from modelconfig.schemas import DefaultsData, Ok

app = create_app()


@app.get(
    "/api/model-configs/defaults",
    responses=route_responses(),
    summary="Defaults, agents and models",
    operation_id="getDefaults",
    tags=["configs"],
)
def get_defaults() -> Ok[DefaultsData]:
    return Ok(data=configs.defaults_view())


lambda_handler = handler(app)
