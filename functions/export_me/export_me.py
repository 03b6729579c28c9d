"""GET /api/me/export: everything the service stores about the caller, keys as previews only."""

from modelconfig import accountability
from modelconfig.api.http import create_app, handler, route_responses, user_id
from modelconfig.schemas import ExportData, Ok

app = create_app()


@app.get(
    "/api/me/export",
    responses=route_responses(),
    summary="Export your data",
    operation_id="exportMe",
    tags=["accountability"],
    description="Your configs, key status (previews, never keys), custom providers and the whole audit trail "
    "within its retention, in one document.",
)
def export_me() -> Ok[ExportData]:
    return Ok(data=accountability.export(user_id(app)))


lambda_handler = handler(app)
