"""GET /api/audit: the caller's own audit entries, newest first, a page at a time."""

from typing import Annotated

from modelconfig import accountability
from modelconfig.api.http import Query, create_app, handler, route_responses, user_id
from modelconfig.schemas import AuditData, Ok

app = create_app()


@app.get(
    "/api/audit",
    responses=route_responses(),
    summary="Your audit trail",
    operation_id="listAudit",
    tags=["accountability"],
    description="Every change to what you stored (configs, keys, resets by the sweep), newest first, kept "
    "AUDIT_RETENTION_DAYS. Keys appear only as their previews. Pass `nextCursor` back as `cursor` for the next "
    "page; a cursor is good only for the user it was given to.",
)
def list_audit(
    limit: Annotated[int, Query(ge=1, le=100, description="Entries per page")] = 50,
    cursor: Annotated[
        str | None, Query(min_length=1, max_length=512, description="nextCursor of the last page")
    ] = None,
) -> Ok[AuditData]:
    return Ok(data=accountability.audit_page(user_id(app), limit, cursor))


lambda_handler = handler(app)
