"""The HTTP side of every route function: identity, body limits, the response envelope and error mapping.

A route module does three things: `app = create_app()`, one decorated route that calls one domain function
and returns `Ok(data=...)`, and `lambda_handler = handler(app)`. It takes Powertools' parameter markers (`Body`,
`Path`, `Query`) from here, so that its first import is the layer's (see `modelconfig/__init__.py`).
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler import Response as Response  # re-exported for the routes
from aws_lambda_powertools.event_handler.exceptions import ServiceError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestUnsupportedContentType, RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Body as Body  # re-exported for the routes
from aws_lambda_powertools.event_handler.openapi.params import Header as Header
from aws_lambda_powertools.event_handler.openapi.params import Path as Path
from aws_lambda_powertools.event_handler.openapi.params import Query as Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from modelconfig.api import envelope
from modelconfig.api.coldstart import entry_point
from modelconfig.api.envelope import JSON, Rendered
from modelconfig.errors import (
    DomainError,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    Unauthenticated,
    describe,
)
from modelconfig.identity import is_subject
from modelconfig.observability import logger
from modelconfig.records import Actor
from modelconfig.schemas import ErrorEnvelope, Ok

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

    from modelconfig.configs import Tagged

MAX_BODY_BYTES = 1024 * 1024
SEND_JSON = "send the body as JSON with content-type: application/json"
ETAG = "The override's version: a new one on every write; the same fixed tag for an action without one"
IF_MATCH = (
    "Only while the override is the version an ETag named (its value, in quotes, or *); otherwise 412 and "
    "nothing is written. Without it, the write happens whatever the version."
)
# The error name of each 4xx status, from the one table, for errors Powertools raises itself (ServiceError).
_NAME_OF_STATUS: dict[int, str] = {int(status): name for status, name in envelope.STATUS.values() if status < 500}


def route_responses(*codes: int, etag: bool = False) -> dict[int, OpenAPIResponse]:
    """A route's OpenAPI responses: 200 with the return annotation's schema (and, with `etag`, its ETag
    header), the error statuses every route has (400, 401, 413, 500, 503), and `codes`."""
    described: dict[int, OpenAPIResponse] = {
        code: {"description": envelope.DESCRIPTIONS[code], "content": {JSON: {"model": ErrorEnvelope}}}
        for code in sorted({400, 401, 413, 500, 503, *codes})
    }
    ok: OpenAPIResponse = {"description": "Success"}
    if etag:
        ok["headers"] = {"ETag": {"description": ETAG, "schema": {"type": "string"}}}
    return {200: ok, **described}


def with_etag[T](answer: Tagged[T]) -> Response[Ok[T]]:
    """A 200 with the answer in the envelope and the ETag of the override it shows (SPEC section 12)."""
    return Response(status_code=200, content_type=JSON, body=Ok(data=answer.data), headers={"ETag": answer.etag})


def _response(rendered: Rendered) -> Response[str]:
    return Response(status_code=rendered.status, content_type=JSON, body=rendered.body, headers=dict(rendered.headers))


def _payload(rendered: Rendered) -> dict[str, Any]:
    """A payload-2.0 answer for errors raised before the resolver runs."""
    return {"statusCode": rendered.status, "headers": rendered.headers, "body": rendered.body, "isBase64Encoded": False}


def _parse_json(body: str | None) -> Any:
    """json.loads whose every failure is a JSONDecodeError, which the validator answers with a 400: deep nesting
    raises RecursionError and a 5,000-digit integer raises ValueError in the standard parser."""
    if not body:
        raise json.JSONDecodeError("the request body is empty", "", 0)
    try:
        return json.loads(body)
    except json.JSONDecodeError:
        raise
    except RecursionError:
        raise json.JSONDecodeError("JSON is nested too deeply", "", 0) from None
    except ValueError as exc:
        raise json.JSONDecodeError(f"unreadable JSON ({exc.__class__.__name__})", "", 0) from None


def subject(event: dict[str, Any]) -> str | None:
    """The caller's user id: the `sub` claim the JWT authorizer put in the request context, or None."""
    ctx = event.get("requestContext")
    authorizer = ctx.get("authorizer") if isinstance(ctx, dict) else None
    jwt = authorizer.get("jwt") if isinstance(authorizer, dict) else None
    claims = jwt.get("claims") if isinstance(jwt, dict) else None
    sub = claims.get("sub") if isinstance(claims, dict) else None
    return sub if is_subject(sub) else None


def _text_body(event: dict[str, Any]) -> dict[str, Any]:
    """The event with its body as text. API Gateway base64-encodes bodies it takes for binary; Powertools would
    decode those as UTF-8 unchecked (a 500 on any other bytes), so it happens here, once, and the 1 MB limit
    applies to what was really sent."""
    body = event.get("body")
    if not isinstance(body, str):
        return event
    event = _require_json(event, body)
    too_large = PayloadTooLarge("request body is over 1 MB")
    if event.get("isBase64Encoded"):
        if len(body) * 3 // 4 > MAX_BODY_BYTES + 3:
            raise too_large
        try:
            body = base64.b64decode(body, validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            raise InvalidInput("the body must be UTF-8 JSON") from None
        event = {**event, "body": body, "isBase64Encoded": False}
    if len(body) > MAX_BODY_BYTES or (
        not body.isascii() and len(body.encode("utf-8", "surrogatepass")) > MAX_BODY_BYTES
    ):
        raise too_large
    return event


def _require_json(event: dict[str, Any], body: str) -> dict[str, Any]:
    """A body sent as anything but JSON (curl's `-d` default is a form; multipart, text, XML) is refused with what
    to send, before any parser reads it: a form's fields would read as a missing `modelName`, and multipart
    without a boundary made Powertools' form parser fail. No content type at all is taken as JSON. Returns the
    event with its content type in lower case."""
    headers = event.get("headers")
    sent = headers.get("content-type") if isinstance(headers, dict) else None
    if not body or not isinstance(sent, str):
        return event
    media = sent.split(";", 1)[0].strip().lower()
    if media != "application/json":
        shown = media[:60] or "empty"
        raise InvalidInput(f"{SEND_JSON} (it came as {shown})")
    # Media types are case-insensitive (RFC 9110); Powertools compares them as written.
    return {**event, "headers": {**event["headers"], "content-type": sent.lower()}}


def request_id(event: dict[str, Any] | None, context: LambdaContext | None = None) -> str:
    ctx = (event or {}).get("requestContext") or {}
    rid = ctx.get("requestId") if isinstance(ctx, dict) else None
    return str(rid or getattr(context, "aws_request_id", "") or "unknown")


def create_app() -> APIGatewayHttpResolver:
    app = APIGatewayHttpResolver(enable_validation=True, json_body_deserializer=_parse_json)

    def rid() -> str:
        return request_id(app.current_event.raw_event, app.lambda_context)

    @app.exception_handler(RequestValidationError)
    def _invalid(exc: RequestValidationError) -> Response[str]:
        return _response(envelope.from_domain(InvalidInput(describe(list(exc.errors()))), rid()))

    @app.exception_handler(RequestUnsupportedContentType)
    def _content_type(_exc: RequestUnsupportedContentType) -> Response[str]:
        return _response(envelope.from_domain(InvalidInput(SEND_JSON), rid()))

    @app.exception_handler(ServiceError)
    def _powertools(exc: ServiceError) -> Response[str]:
        name = _NAME_OF_STATUS.get(exc.status_code)
        if name is None:
            return _response(envelope.internal(rid()))
        return _response(envelope.render(exc.status_code, name, str(exc.msg)))

    @app.exception_handler(DomainError)
    def _domain(exc: DomainError) -> Response[str]:
        if isinstance(exc, ServiceUnavailable):
            logger.warning("service unavailable", extra={"reason": exc.message, "cause": type(exc.__cause__).__name__})
        return _response(envelope.from_domain(exc, rid()))

    @app.exception_handler(Exception)
    def _internal(exc: Exception) -> Response[str]:
        # The type and traceback only: messages of third-party exceptions are not ours to vouch for.
        # No exception object, so its message stays out of the log; logging accepts a None value there, which
        # typeshed's exc_info type does not admit: [arg-type] for that reason.
        trace = (type(exc), None, exc.__traceback__)
        logger.error("unhandled error", extra={"error": type(exc).__name__}, exc_info=trace)  # type: ignore[arg-type]
        return _response(envelope.internal(rid()))

    @app.not_found
    def _no_route(_exc: Exception) -> Response[str]:
        return _response(envelope.from_domain(NotFound("no such route"), rid()))

    return app


def user_id(app: APIGatewayHttpResolver) -> str:
    sub: str = app.context["user_id"]  # put there by `handler`, after the identity check
    return sub


MAX_USER_AGENT = 512  # characters of a User-Agent kept in an audit entry


def actor(app: APIGatewayHttpResolver) -> Actor:
    """The user making this request, as an audit entry records them: API Gateway's request id, source IP and
    user agent (from the request context, which the client cannot forge past API Gateway)."""
    ctx = app.current_event.raw_event.get("requestContext")
    ctx = ctx if isinstance(ctx, dict) else {}
    http = ctx.get("http")
    http = http if isinstance(http, dict) else {}

    def text(value: object, limit: int = 200) -> str | None:
        return value[:limit] if isinstance(value, str) and value else None

    return Actor(
        "user",
        request_id=text(ctx.get("requestId")),
        source_ip=text(http.get("sourceIp"), 64),
        user_agent=text(http.get("userAgent"), MAX_USER_AGENT),
    )


def handler(app: APIGatewayHttpResolver) -> Callable[[dict[str, Any], LambdaContext], dict[str, Any]]:
    """The Lambda entry point of one route function: identity first (as API Gateway would), then the body
    limit, then Powertools' routing and validation. Every log line of the request carries its API Gateway
    request id (the one 500/503 messages show) and the user id."""

    @logger.inject_lambda_context(clear_state=True, correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            sub = subject(event)
            if sub is None:
                raise Unauthenticated("missing or invalid identity (JWT sub claim)")
            logger.append_keys(userId=sub)
            event = _text_body(event)
        except DomainError as exc:
            response = _payload(envelope.from_domain(exc, request_id(event, context)))
        else:
            app.append_context(user_id=sub)
            response = app.resolve(event, context)
        logger.info(
            "request",
            extra={
                "route": event.get("routeKey"),
                "status": response.get("statusCode"),
                "ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )
        return response

    return entry_point(lambda_handler)
