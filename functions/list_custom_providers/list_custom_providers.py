"""GET /api/custom-providers: the caller's own OpenAI-compatible endpoints (keys as previews only)."""

from modelconfig import custom
from modelconfig.api.http import create_app, handler, route_responses, user_id
from modelconfig.schemas import CustomProvidersData, Ok

app = create_app()


@app.get(
    "/api/custom-providers",
    responses=route_responses(),
    summary="Your custom providers",
    operation_id="listCustomProviders",
    tags=["custom providers"],
)
def list_custom_providers() -> Ok[CustomProvidersData]:
    return Ok(data=custom.list_providers(user_id(app)))


lambda_handler = handler(app)
