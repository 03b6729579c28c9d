"""POST /api/model-configs/test: send a tiny prompt to the configured model and report whether it works."""

from typing import Annotated

from modelconfig import modeltest
from modelconfig.api.http import Body, create_app, handler, route_responses, user_id
from modelconfig.schemas import Ok, TestBody, TestData

app = create_app()


@app.post(
    "/api/model-configs/test",
    responses=route_responses(429),
    summary="Test a config with a real call",
    operation_id="testConfig",
    tags=["test"],
)
def test_config(body: Annotated[TestBody, Body()]) -> Ok[TestData]:
    context = app.lambda_context
    return Ok(
        data=modeltest.run_test(user_id(app), body, time_left=lambda: context.get_remaining_time_in_millis() / 1000)
    )


lambda_handler = handler(app)
