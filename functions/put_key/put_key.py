"""PUT /api/byok-keys/{provider}: check the caller's key with the provider, then store or replace it."""

from typing import Annotated

from modelconfig import keys
from modelconfig.api.http import Body, Path, Query, actor, create_app, handler, route_responses, user_id
from modelconfig.catalog import ByokProvider
from modelconfig.schemas import KeyBody, Ok, SavedKey

app = create_app()


@app.put(
    "/api/byok-keys/<provider>",
    responses=route_responses(429),
    summary="Check and store a provider key",
    operation_id="putKey",
    tags=["keys"],
    description="Asks the provider whether the key works (GET of its model list) before storing it: a key the "
    "provider rejects is a 400 and is not stored; when the check itself fails, the key is stored without "
    "verifiedAt and the answer says why in verifyError. `verify=false` stores without asking.",
)
def put_key(
    provider: Annotated[ByokProvider, Path()],
    body: Annotated[KeyBody, Body()],
    verify: Annotated[bool, Query(description="Ask the provider whether the key works before storing it")] = True,
) -> Ok[SavedKey]:
    context = app.lambda_context
    return Ok(
        data=keys.put_key(
            user_id(app),
            provider,
            body.apiKey.get_secret_value(),
            expires_at=body.expiresAt,
            check=verify,
            time_left=lambda: context.get_remaining_time_in_millis() / 1000,
            by=actor(app),
        )
    )


lambda_handler = handler(app)
