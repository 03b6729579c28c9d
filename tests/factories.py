"""Test data built one way everywhere."""

from typing import Any

from modelconfig.schemas import ConfigRow

CREATED = "2026-01-01T00:00:00.000Z"


def config_row(user_id: str, action: str, model: str, **fields: Any) -> ConfigRow:
    """A stored override as storage returns it; unset fields null, as a PUT leaves them."""
    return ConfigRow(
        **{
            "id": f"{user_id}-{action}",
            "userId": user_id,
            "agentActionName": action,
            "modelName": model,
            "maxTokens": None,
            "temperature": None,
            "reasoningEffort": None,
            "fallbackModel": None,
            "isActive": True,
            "createdAt": CREATED,
            "updatedAt": CREATED,
        }
        | fields
    )
