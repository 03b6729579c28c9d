"""GET /api/byok-keys: which providers the caller has a key for (status from DynamoDB only)."""

from modelconfig import keys
from modelconfig.api.http import create_app, handler, route_responses, user_id
from modelconfig.schemas import KeysData, Ok

app = create_app()


@app.get(
    "/api/byok-keys",
    responses=route_responses(),
    summary="Key status per BYOK provider",
    operation_id="listKeys",
    tags=["keys"],
)
def list_keys() -> Ok[KeysData]:
    return Ok(data=keys.list_keys(user_id(app)))


lambda_handler = handler(app)
