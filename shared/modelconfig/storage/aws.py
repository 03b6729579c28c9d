"""AWS clients, made once per cold start, and the translation of AWS faults into domain errors.

The SDK is imported by the first client, not by this module: a route that makes no AWS call (the defaults)
never loads it. Clients come from botocore's session, which is all `boto3.client` does; importing boto3 on
top would load s3transfer and boto3's resource layer, which no route uses (20 to 25 ms of every cold start).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING, Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from modelconfig import instance
from modelconfig.errors import ServiceUnavailable

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_secretsmanager import SecretsManagerClient

CONFIG_STORE = "the config store"  # how users are told which store failed: the table
KEY_STORE = "the key store"  # the secrets, and the key status and lease beside the configs


TRANSIENT_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "InternalServerError",
        "InternalFailure",
        "InternalServiceError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "TransactionInProgressException",
    }
)
_NETWORK_ERRORS = (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, ConnectionClosedError)


@cache
def session() -> Any:
    """This process's one botocore session: region, credentials and AWS_ENDPOINT_URL resolved as boto3 does."""
    import botocore.session

    return botocore.session.get_session()


def _client(service: str) -> Any:
    from botocore.config import Config

    # Standard retry mode backs off with jitter on throttling and 5xx; three attempts keep a request within its
    # Lambda timeout. Short connect/read timeouts make a stuck endpoint a retry, not a hung request.
    config = Config(
        retries={"mode": "standard", "total_max_attempts": 3},
        connect_timeout=2,
        read_timeout=4,
        tcp_keepalive=True,
    )
    return session().create_client(service, config=config)


@cache
def dynamodb() -> DynamoDBClient:
    client: DynamoDBClient = _client("dynamodb")  # botocore's factory is untyped; the stubs name the client
    return client


@cache
def secretsmanager() -> SecretsManagerClient:
    client: SecretsManagerClient = _client("secretsmanager")
    return client


@cache
def lambda_() -> LambdaClient:
    client: LambdaClient = _client("lambda")
    return client


@instance.keeps
def reset_clients() -> None:
    """Forget this process's clients and their pooled connections (a restored SnapStart instance, tests, the local
    API switching endpoints). The session stays: it reads region and endpoint from the environment for each new
    client, and resolves credentials once, at its first client; a SnapStart init makes none (see
    `api.coldstart.before_snapshot`), so a snapshot's session holds no credentials."""
    for factory in (dynamodb, secretsmanager, lambda_):
        factory.cache_clear()


def error_code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return error_code(exc) in TRANSIENT_CODES or status >= 500
    return isinstance(exc, _NETWORK_ERRORS)


@contextmanager
def unavailable_on_fault(what: str) -> Iterator[None]:
    """Re-raise AWS faults that outlived the SDK's retries as ServiceUnavailable; anything else propagates."""
    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        if is_transient(exc):
            raise ServiceUnavailable(f"{what} is unavailable right now; retry shortly") from exc
        raise
