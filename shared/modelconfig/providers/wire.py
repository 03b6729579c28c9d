"""Each provider's wire format: the request a test sends and how the answer's text is read, and the free,
read-only request that asks whether a key works (its model list)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from modelconfig.catalog import Model

# A test only needs to show the model answers; each token is the user's money.
MAX_TEST_TOKENS = 100
ANTHROPIC_VERSION = "2023-06-01"


class UnexpectedResponse(Exception):
    """A 2xx answer without the shape the wire format promises."""


class WireRequest(NamedTuple):
    url: str
    headers: dict[str, str]
    body: dict[str, Any] | None
    read_text: Callable[[Any], str]
    method: str = "POST"


class Sampling(NamedTuple):
    """What of the merged config a test sends."""

    max_tokens: int | None
    temperature: float | None
    reasoning_effort: str | None


def _cap(max_tokens: int | None) -> int:
    return min(max_tokens or MAX_TEST_TOKENS, MAX_TEST_TOKENS)


def _openai_text(doc: Any) -> str:
    try:
        content = doc["choices"][0]["message"].get("content")
    except (KeyError, IndexError, TypeError, AttributeError) as exc:
        raise UnexpectedResponse from exc
    if content is None:
        return ""
    if not isinstance(content, str):
        raise UnexpectedResponse
    return content


def _anthropic_text(doc: Any) -> str:
    try:
        blocks = doc["content"]
        return "".join(b.get("text", "") for b in blocks if b.get("type") == "text")
    except (KeyError, TypeError, AttributeError) as exc:
        raise UnexpectedResponse from exc


def _gemini_text(doc: Any) -> str:
    try:
        candidates = doc["candidates"]
        parts = candidates[0].get("content", {}).get("parts", [])
        return "".join(p.get("text", "") for p in parts if not p.get("thought"))
    except (KeyError, IndexError, TypeError, AttributeError) as exc:
        raise UnexpectedResponse from exc


# The model list of each wire format: free, read-only, and refused with 401/403 (Gemini: 400 API_KEY_INVALID)
# for a key the provider does not accept.
_MODELS_PATH = {"openai-chat": "/models", "anthropic-messages": "/v1/models", "gemini": "/v1beta/models"}
_KEY_HEADERS: dict[str, Callable[[str], dict[str, str]]] = {
    "openai-chat": lambda key: {"authorization": f"Bearer {key}"} if key else {},  # a custom endpoint may take none
    "anthropic-messages": lambda key: {"x-api-key": key, "anthropic-version": ANTHROPIC_VERSION},
    "gemini": lambda key: {"x-goog-api-key": key},
}


def openai_chat(base_url: str, model: Model, key: str, prompt: str, s: Sampling) -> WireRequest:
    options = model.request
    body: dict[str, Any] = {
        "model": model.api_name,
        "messages": [{"role": "user", "content": prompt}],
        options.get("tokenField", "max_tokens"): _cap(s.max_tokens),
    }
    if s.temperature is not None and not options.get("fixedTemperature"):
        body["temperature"] = s.temperature
    if s.reasoning_effort and options.get("reasoningEffort"):
        body["reasoning_effort"] = s.reasoning_effort
    return WireRequest(
        url=f"{base_url}/chat/completions",
        headers=_KEY_HEADERS["openai-chat"](key),
        body=body,
        read_text=_openai_text,
    )


def anthropic_messages(base_url: str, model: Model, key: str, prompt: str, s: Sampling) -> WireRequest:
    body: dict[str, Any] = {
        "model": model.api_name,
        "max_tokens": _cap(s.max_tokens),
        "messages": [{"role": "user", "content": prompt}],
    }
    if s.temperature is not None:
        body["temperature"] = min(s.temperature, 1.0)  # Anthropic's range is 0-1
    return WireRequest(
        url=f"{base_url}/v1/messages",
        headers=_KEY_HEADERS["anthropic-messages"](key),
        body=body,
        read_text=_anthropic_text,
    )


def gemini(base_url: str, model: Model, key: str, prompt: str, s: Sampling) -> WireRequest:
    generation: dict[str, Any] = {"maxOutputTokens": _cap(s.max_tokens)}
    if s.temperature is not None:
        generation["temperature"] = s.temperature
    if "thinkingBudget" in model.request:
        generation["thinkingConfig"] = {"thinkingBudget": model.request["thinkingBudget"]}
    return WireRequest(
        # The key travels in a header, never in the URL, so it cannot end up in an access log.
        url=f"{base_url}/v1beta/models/{model.api_name}:generateContent",
        headers=_KEY_HEADERS["gemini"](key),
        body={"contents": [{"role": "user", "parts": [{"text": prompt}]}], "generationConfig": generation},
        read_text=_gemini_text,
    )


def _no_text(_doc: Any) -> str:
    return ""


def key_check(wire_format: str, base_url: str, key: str) -> WireRequest:
    """GET the provider's model list with the key, in the same headers as a model call."""
    return WireRequest(
        url=base_url + _MODELS_PATH[wire_format],
        headers=_KEY_HEADERS[wire_format](key),
        body=None,
        read_text=_no_text,
        method="GET",
    )


BUILDERS: dict[str, Callable[[str, Model, str, str, Sampling], WireRequest]] = {
    "openai-chat": openai_chat,
    "anthropic-messages": anthropic_messages,
    "gemini": gemini,
}
