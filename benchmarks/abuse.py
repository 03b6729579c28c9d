"""An attacker's minute against `make run`'s server and a loopback provider (issue 12): one user sends 200
platform-key model tests, then a test meets a provider that answers 429 with retry-after: 15.

    .venv/bin/python -m benchmarks.abuse
"""

from __future__ import annotations

import os
import time

import httpx

from infra.local_api import running, sample_token
from tests.provider_server import ProviderServer


def main() -> int:
    provider = ProviderServer()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k not in ("TABLE_NAME", "AUDIT_TABLE_NAME")
    }
    env |= provider.base_urls() | {"GOOGLE_AI_STUDIO_API_KEY": "AIza-abuse-platform-key-000000000"}
    try:
        with running(env) as (base, _lines), httpx.Client(base_url=base, timeout=30) as client:
            attacker = {"authorization": f"Bearer {sample_token('attacker')}"}
            body = {"agentActionName": "blueprint", "useUserKeys": False, "testPrompt": "x" * 4000}
            statuses: dict[int, int] = {}
            started = time.monotonic()
            for _ in range(200):
                status = client.post("/api/model-configs/test", headers=attacker, json=body).status_code
                statuses[status] = statuses.get(status, 0) + 1
            elapsed = time.monotonic() - started
            print(f"200 platform-key tests from one user in {elapsed:.1f} s: statuses {dict(sorted(statuses.items()))}")
            print(f"requests that reached the provider: {len(provider.seen)}")
            provider.reset()
            provider.behave(mode="status", status=429, headers={"retry-after": "15"})
            other = {"authorization": f"Bearer {sample_token('patient-user')}"}
            started = time.monotonic()
            reply = client.post("/api/model-configs/test", headers=other, json={"agentActionName": "blueprint"})
            took = time.monotonic() - started
            print(f"retry-after: 15 test answered in {took:.2f} s: {reply.json()['data']['testResult']['error']}")
    finally:
        provider.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
