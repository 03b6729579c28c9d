"""PUT /api/custom-providers/{name}: check the caller's own OpenAI-compatible endpoint, then store or replace it."""

from typing import Annotated

from modelconfig import custom
from modelconfig.api.http import Body, Path, Query, actor, create_app, handler, route_responses, user_id
from modelconfig.schemas import CUSTOM_NAME, CustomProvider, CustomProviderBody, Ok

app = create_app()


@app.put(
    "/api/custom-providers/<name>",
    responses=route_responses(429),
    summary="Check and store a custom provider",
    operation_id="putCustomProvider",
    tags=["custom providers"],
    description="The URL must be https and resolve only to public addresses (an operator's allowlist aside). "
    "Before storing, the endpoint's model list is read (GET {baseUrl}/models with the key) through the egress "
    "guard: a key it rejects is a 400 and nothing is stored; when the check itself fails, the provider is stored "
    "without verifiedAt and says why in verifyError. `verify=false` stores without asking (models required).",
)
def put_custom_provider(
    name: Annotated[str, Path(pattern=f"^{CUSTOM_NAME}$", description="Your name for the endpoint")],
    body: Annotated[CustomProviderBody, Body()],
    verify: Annotated[bool, Query(description="Read the endpoint's model list before storing it")] = True,
) -> Ok[CustomProvider]:
    context = app.lambda_context
    return Ok(
        data=custom.put_provider(
            user_id(app),
            name,
            body,
            check=verify,
            time_left=lambda: context.get_remaining_time_in_millis() / 1000,
            by=actor(app),
        )
    )


lambda_handler = handler(app)
