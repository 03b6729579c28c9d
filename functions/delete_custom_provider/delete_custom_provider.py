"""DELETE /api/custom-providers/{name}: remove the caller's custom provider and its key."""

from typing import Annotated

from modelconfig import custom
from modelconfig.api.http import Path, actor, create_app, handler, route_responses, user_id
from modelconfig.schemas import CUSTOM_NAME, KeyDeletedData, Ok

app = create_app()


@app.delete(
    "/api/custom-providers/<name>",
    responses=route_responses(429, 404),
    summary="Delete a custom provider",
    operation_id="deleteCustomProvider",
    tags=["custom providers"],
)
def delete_custom_provider(
    name: Annotated[str, Path(pattern=f"^{CUSTOM_NAME}$", description="Your name for the endpoint")],
) -> Ok[KeyDeletedData]:
    return Ok(data=custom.delete_provider(user_id(app), name, actor(app)))


lambda_handler = handler(app)
