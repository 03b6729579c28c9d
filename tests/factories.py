"""Test data built one way everywhere."""

from typing import Any

from modelconfig.records import Override

CREATED = "2026-01-01T00:00:00.000Z"


def config_row(user_id: str, action: str, model: str, **fields: Any) -> Override:
    """A stored override as storage returns it; unset fields null, as a PUT leaves them."""
    return Override(
        **{
            "id": f"{user_id}-{action}",
            "user_id": user_id,
            "action": action,
            "model": model,
            "max_tokens": None,
            "temperature": None,
            "reasoning_effort": None,
            "fallback": None,
            "provider_override": None,
            "created_at": CREATED,
            "updated_at": CREATED,
        }
        | fields
    )
