"""POST /api/model-configs/reset-all: drop every override of the caller."""

from modelconfig import configs
from modelconfig.api.http import actor, create_app, handler, route_responses, user_id
from modelconfig.schemas import Ok, ResetData

app = create_app()


@app.post(
    "/api/model-configs/reset-all",
    responses=route_responses(),
    summary="Reset every override",
    operation_id="resetAllConfigs",
    tags=["configs"],
)
def reset_all() -> Ok[ResetData]:
    return Ok(data=configs.reset_all(user_id(app), actor(app)))


lambda_handler = handler(app)
