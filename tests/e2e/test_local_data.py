"""`make run`'s data across restarts (.local/, or LOCAL_DATA), `make seed` and `make dump`, the offline
provider stand-in, and a checkout that stays clean."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import httpx

from infra import runtime
from infra.local_api import running, sample_token
from tests.e2e.conftest import local_env

ALICE = {"authorization": f"Bearer {sample_token('alice')}"}
KEY = "sk-ant-api03-local-e2e-key-0000000000"


def make(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["make", "-s", *args], cwd=runtime.ROOT, env=env, capture_output=True, text=True, timeout=120)


def git_status() -> str:
    return subprocess.run(["git", "status", "--porcelain"], cwd=runtime.ROOT, capture_output=True, text=True).stdout


def test_data_survives_a_restart_and_fresh_starts_empty(tmp_path):
    before = git_status()
    env = local_env(tmp_path / "state.json")
    with running(env) as (base, lines):
        assert "STAND-IN on http://127.0.0.1:" in "".join(lines)  # the banner says the providers are stood in
        assert httpx.put(f"{base}/api/byok-keys/anthropic", json={"apiKey": KEY}, headers=ALICE).status_code == 200
        body = {"modelName": "anthropic/claude-opus-4-5", "maxTokens": 777}
        assert httpx.put(f"{base}/api/model-configs/blueprint", json=body, headers=ALICE).status_code == 200
    assert oct((tmp_path / "state.json").stat().st_mode & 0o777) == "0o600"  # it holds local users' keys
    with running(env) as (base, lines):
        assert "restored 3 items and 1 user secrets" in "".join(lines)
        config = httpx.get(f"{base}/api/model-configs/blueprint", headers=ALICE).json()["data"]["config"]
        assert (config["name"], config["max_tokens"], config["isUserOverride"]) == (body["modelName"], 777, True)
        tested = httpx.post(f"{base}/api/model-configs/test", json={"agentActionName": "blueprint"}, headers=ALICE)
        assert tested.json()["data"]["testResult"]["success"] is True  # the restored key, sent to the stand-in
    with running(env | {"FRESH": "1"}) as (base, lines):
        assert "started empty" in "".join(lines)
        config = httpx.get(f"{base}/api/model-configs/blueprint", headers=ALICE).json()["data"]["config"]
        assert config["isUserOverride"] is False
    assert git_status() == before  # nothing of a run lands in the checkout


def test_make_seed_and_make_dump(tmp_path):
    env = local_env(tmp_path / "state.json")
    with running(env) as (base, _lines):
        port = base.rsplit(":", 1)[1]
        seeded = make("seed", f"PORT={port}", env=env)
        assert seeded.returncode == 0, seeded.stderr
        assert seeded.stdout.splitlines()[0] == "PUT /api/byok-keys/anthropic -> 200"
        dumped = make("dump", env=env)
    assert dumped.returncode == 0, dumped.stderr
    out = dumped.stdout
    assert "USER#local-user  CONFIG#blueprint" in out and "USER#local-user  BYOK#anthropic" in out
    assert "secret model-config/byok/local-user" in out and '"anthropic": "sk-a****0000"' in out
    from infra.seed import SAMPLE_KEY

    assert SAMPLE_KEY not in out and SAMPLE_KEY[4:-4] not in out  # masked


def test_make_seed_without_a_server_says_so(tmp_path):
    env = local_env(tmp_path / "state.json") | {"PORT": "9"}
    out = make("seed", "PORT=9", env=env)
    assert out.returncode != 0
    assert "nothing answers at http://127.0.0.1:9: start `make run` first (or set PORT)" in out.stderr


def test_make_token_makes_a_token_for_any_user():
    out = make("token", "SUB=alice", env=dict(os.environ))
    assert out.stdout.strip() == sample_token("alice")
    assert subprocess.run(
        [sys.executable, "-m", "infra.local_api", "--token", "bob"], cwd=runtime.ROOT, capture_output=True, text=True
    ).stdout.strip() == sample_token("bob")


def test_a_real_key_or_base_url_switches_the_stand_in_off_for_that_provider():
    from infra.provider_standin import KEYS, stand_in_for_unset

    env = {"OPENAI_API_KEY": "sk-real-0000000000", "ANTHROPIC_BASE_URL": "https://proxy.example/anthropic"}
    server = stand_in_for_unset(env)
    try:
        assert server is not None and server.stood_in == ["google-ai-studio", "grok"]
        assert env["OPENAI_API_KEY"] == "sk-real-0000000000" and "OPENAI_BASE_URL" not in env
        assert env["ANTHROPIC_BASE_URL"] == "https://proxy.example/anthropic" and "ANTHROPIC_API_KEY" not in env
        assert env["GOOGLE_AI_STUDIO_API_KEY"] == KEYS["google-ai-studio"]
        assert env["GROK_BASE_URL"] == f"{server.base}/grok/v1"
        models = httpx.get(f"{server.base}/grok/v1/models", headers={"authorization": "Bearer xai-invalid-key"})
        assert models.status_code == 401  # a key containing 'invalid' is rejected, as a provider would
    finally:
        if server is not None:
            server.stop()
    every = {v: "set" for v in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GOOGLE_AI_STUDIO_API_KEY", "GROK_API_KEY")}
    assert stand_in_for_unset(every) is None  # every provider real: no stand-in at all


def test_make_invoke_acts_on_the_running_servers_data_through_the_aws_port_it_prints(tmp_path):
    env = local_env(tmp_path / "state.json")
    with running(env) as (base, lines):
        # port + 1 when it was free; whatever it is, the banner names it.
        moto = re.search(r"embedded moto server at (http://127\.0\.0\.1:\d+)", "".join(lines)).group(1)
        body = {"modelName": "disabled"}
        headers = {"authorization": f"Bearer {sample_token('auth0|sample-user')}"}  # the samples' user
        assert httpx.put(f"{base}/api/model-configs/blueprint", json=body, headers=headers).status_code == 200
        done = subprocess.run(
            [sys.executable, "-m", "infra.invoke", "ResolveFunction"],
            cwd=runtime.ROOT,
            env=env | {"AWS_ENDPOINT_URL": moto},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["resolved"]["blueprint"]["model"] == "disabled"  # the server's data


def test_the_embedded_aws_takes_the_port_asked_for_or_any_free_one_when_it_is_taken():
    import socket

    from infra.local_aws import LocalAws, free_port

    port = free_port()
    with LocalAws.start(embedded=True, provision=False, port=port) as aws:
        assert aws.endpoint == f"http://127.0.0.1:{port}"  # make run asks for its own port + 1
    with socket.socket() as taken:  # the port the embedded moto asks for first is someone else's
        taken.bind(("127.0.0.1", port))
        taken.listen()
        with LocalAws.start(embedded=True, provision=False, port=port) as aws:
            assert aws.endpoint is not None and aws.endpoint != f"http://127.0.0.1:{port}"
