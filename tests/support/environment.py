"""The process environment every test starts from: no real AWS, no developer profile. Applied once, by the
root conftest's pytest_configure, before any test module is imported."""

from __future__ import annotations

import os

TESTING = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "POWERTOOLS_SERVICE_NAME": "model-config",
    "POWERTOOLS_METRICS_NAMESPACE": "ModelConfig",
    "POWERTOOLS_TRACE_DISABLED": "true",
}


def isolate() -> None:
    """No test may reach real AWS or a developer's profile."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_SECRETS_MANAGER"):
        os.environ.pop(name, None)
    os.environ.update(TESTING)
