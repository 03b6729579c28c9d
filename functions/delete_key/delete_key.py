"""DELETE /api/byok-keys/{provider}: remove the caller's key for one provider."""

from typing import Annotated

from modelconfig import keys
from modelconfig.api.http import Path, actor, create_app, handler, route_responses, user_id
from modelconfig.catalog import ByokProvider
from modelconfig.schemas import KeyDeletedData, Ok

app = create_app()


@app.delete(
    "/api/byok-keys/<provider>",
    responses=route_responses(429, 404),
    summary="Delete a provider key",
    operation_id="deleteKey",
    tags=["keys"],
)
def delete_key(provider: Annotated[ByokProvider, Path()]) -> Ok[KeyDeletedData]:
    return Ok(data=keys.delete_key(user_id(app), provider, actor(app)))


lambda_handler = handler(app)
