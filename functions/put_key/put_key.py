"""PUT /api/byok-keys/{provider}: store or replace the caller's key for one provider."""

from typing import Annotated

from modelconfig import keys
from modelconfig.api.http import Body, Path, create_app, handler, route_responses, user_id
from modelconfig.catalog import ByokProvider
from modelconfig.schemas import KeyBody, Ok, SavedKeyData

app = create_app()


@app.put("/api/byok-keys/<provider>", responses=route_responses(429), summary="Store a provider key")
def put_key(provider: Annotated[ByokProvider, Path()], body: Annotated[KeyBody, Body()]) -> Ok[SavedKeyData]:
    return Ok(data=keys.put_key(user_id(app), provider, body.apiKey.get_secret_value()))


lambda_handler = handler(app)
