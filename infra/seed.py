"""`make seed`: sample data for the local user of a running `make run` (PORT, default 3000), through the API
itself: an Anthropic key (the provider stand-in accepts it; a real Anthropic would check it) and three
overrides, one of them on that key. Run it again to reset them to the same values."""

from __future__ import annotations

import os
import sys

import httpx

from infra.local_api import sample_token

SUB = os.environ.get("SUB") or "local-user"
SAMPLE_KEY = "sk-ant-local-sample-key-000000000000"  # a sample, not a real key
STEPS = [
    ("PUT", "/api/byok-keys/anthropic", {"apiKey": SAMPLE_KEY}),
    ("PUT", "/api/model-configs/blueprint", {"modelName": "anthropic/claude-opus-4-5", "maxTokens": 8000}),
    ("PUT", "/api/model-configs/conversationalResponse", {"modelName": "google-ai-studio/gemini-2.5-flash"}),
    ("PUT", "/api/model-configs/fastCodeFixer", {"modelName": "disabled"}),
]


def main() -> int:
    base = f"http://127.0.0.1:{os.environ.get('PORT') or 3000}"
    headers = {"authorization": f"Bearer {sample_token(SUB)}"}
    try:
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            for method, path, body in STEPS:
                reply = client.request(method, path, json=body)
                error = reply.json().get("error", {}).get("message", "") if reply.status_code >= 400 else ""
                print(f"{method} {path} -> {reply.status_code} {error}".rstrip())
    except httpx.ConnectError:
        print(f"nothing answers at {base}: start `make run` first (or set PORT)", file=sys.stderr)
        return 1
    print(f"seeded user {SUB!r}; `make dump` shows what is stored")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
