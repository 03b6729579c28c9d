"""`make run` closed to everything but this machine's own tools (issue 21): its embedded AWS answers no web
page, the API answers broken framing in the envelope, the data file is its owner's alone and checked on load,
and `make invoke` beside a running server adopts its providers and overwrites nothing."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import threading
from http.server import SimpleHTTPRequestHandler

import boto3
import httpx
import pytest

from infra import runtime
from infra.local_api import running, sample_token
from tests.e2e.conftest import local_env

SECRET_CALL = {"x-amz-target": "secretsmanager.GetSecretValue", "content-type": "application/x-amz-json-1.1"}
PLATFORM = json.dumps({"SecretId": "model-config/platform-keys"})


def embedded_aws(lines: list[str]) -> str:
    return re.search(r"embedded moto server at (http://127\.0\.0\.1:\d+)", "".join(lines)).group(1)


def aws_client(endpoint: str, service: str):
    return boto3.client(
        service, endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
    )


def test_the_embedded_aws_answers_no_web_page_and_no_foreign_host(local_api):
    _base, lines = local_api
    moto = embedded_aws(lines)
    page = {"origin": "http://attacker.example", "sec-fetch-site": "cross-site", "sec-fetch-mode": "cors"}
    preflight = httpx.options(
        moto,
        headers={**page, "access-control-request-method": "POST", "access-control-request-headers": "x-amz-target"},
    )
    assert preflight.status_code == 403 and "access-control-allow-origin" not in preflight.headers
    for headers in (
        page,  # a page's call as the browser sends it
        {"origin": "http://localhost:5173"},  # even a local page: only SDKs and tools talk to it
        {"host": "attacker.example"},  # DNS rebinding: the page's own name, resolved to 127.0.0.1
        {"host": "attacker.example", "authorization": "AWS4-HMAC-SHA256 Credential=made/up"},
    ):
        reply = httpx.post(moto, headers={**SECRET_CALL, **headers}, content=PLATFORM)
        assert reply.status_code == 403, headers
        assert "sk-" not in reply.text and "access-control-allow-origin" not in reply.headers
        assert reply.json()["__type"] == "AccessDeniedException"
    for target in ("secretsmanager.ListSecrets", "DynamoDB_20120810.Scan"):
        reply = httpx.post(moto, headers={"x-amz-target": target, "host": "attacker.example"}, content=b"{}")
        assert reply.status_code == 403
    # The SDK on this machine still works: botocore sends a loopback Host and never an Origin.
    keys = json.loads(
        aws_client(moto, "secretsmanager").get_secret_value(SecretId="model-config/platform-keys")["SecretString"]
    )
    assert set(keys) == {"openai", "anthropic", "google-ai-studio", "grok"}


PAGE = """<!doctype html><html><body><pre id="out">pending</pre><script>
const aws = new URLSearchParams(location.search).get("aws");
fetch(aws, {method: "POST", body: JSON.stringify({SecretId: "model-config/platform-keys"}), headers: {
  "x-amz-target": "secretsmanager.GetSecretValue", "content-type": "application/x-amz-json-1.1",
  "authorization": "AWS4-HMAC-SHA256 Credential=x/20260101/us-east-1/secretsmanager/aws4_request, " +
                   "SignedHeaders=host, Signature=0"}})
  .then(r => r.text()).then(t => { document.getElementById("out").textContent = "READ " + t; })
  .catch(e => { document.getElementById("out").textContent = "BLOCKED " + e; });
</script></body></html>"""


def chromium() -> str:
    """Debian's headless Chromium (.ci/run installs it). CI always has it; elsewhere the test says how to get it."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: .ci/run installs it (apt-get install chromium)")
        pytest.skip("no chromium on this machine (apt-get install chromium); CI runs this test")
    return found


def test_a_web_page_in_a_real_browser_cannot_read_the_embedded_aws(local_api, tmp_path):
    """The attack as it happens: a page (another origin, here a loopback port of its own) asks the embedded AWS
    for the platform keys with fetch(). The browser's preflight is refused, so the page reads nothing."""
    from functools import partial
    from http.server import ThreadingHTTPServer

    _base, lines = local_api
    (tmp_path / "index.html").write_text(PAGE)
    pages = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietFiles, directory=str(tmp_path)))
    threading.Thread(target=pages.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{pages.server_address[1]}/index.html?aws={embedded_aws(lines)}/"
        dom = subprocess.run(
            [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000", "--dump-dom", url],
            capture_output=True, text=True, timeout=60,
        ).stdout  # fmt: skip
    finally:
        pages.shutdown()
        pages.server_close()
    out = re.search(r'<pre id="out">(.*?)</pre>', dom, re.S).group(1)
    assert out.startswith("BLOCKED"), out  # unguarded, moto answers the preflight and the page reads the keys
    assert "standin" not in dom


class _QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, *_args) -> None:
        pass


def raw_exchange(base: str, request: bytes) -> tuple[int, dict]:
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(request)
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


@pytest.mark.parametrize(
    ("request_bytes", "status", "name"),
    [
        (b"GET /api/model-configs HTTP/1.1\r\nHost: localhost\r\nContent-Length: abc\r\n\r\n", 400, "ValidationError"),
        (b"PUT /api/model-configs/x HTTP/1.1\r\nHost: localhost\r\nContent-Length: -5\r\n\r\n", 400, "ValidationError"),
        (b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n", 431, "PayloadTooLarge"),
        (b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: localhost\r\n\r\n", 414, "PayloadTooLarge"),
        (b"GET / HTTP/9.9\r\nHost: localhost\r\n\r\n", 505, "ValidationError"),
    ],
)
def test_broken_framing_is_answered_in_the_envelope(local_api, request_bytes, status, name):
    base, _lines = local_api
    token = f"Authorization: Bearer {sample_token('framing')}\r\n".encode()
    got, body = raw_exchange(base, request_bytes.replace(b"Host: localhost\r\n", b"Host: localhost\r\n" + token))
    assert got == status
    assert body["success"] is False and body["error"]["name"] == name
    assert body["message"] == body["error"]["message"]


# ---- the local data file --------------------------------------------------------------------------------------


def test_the_data_file_is_created_0600_in_a_0700_folder_with_no_window(tmp_path, monkeypatch):
    from infra import local_state

    created = []
    real_open = os.open

    def spy(path, flags, mode=0o777, **kw):
        created.append((os.fspath(path), flags, mode))
        return real_open(path, flags, mode, **kw)

    monkeypatch.setattr(local_state.os, "open", spy)
    old = os.umask(0)  # the loosest umask: the mode must come from the open itself
    try:
        path = tmp_path / "new" / "deeper" / "state.json"
        monkeypatch.setattr(local_state, "_clients", lambda: (_Empty(), _Empty()))
        local_state.save({"ConfigTable": "t", "UserSecretPrefix": "p/"}, path)
    finally:
        os.umask(old)
    ((tmp, flags, mode),) = created
    assert tmp.endswith("state.tmp") and mode == 0o600 and flags & os.O_CREAT and flags & os.O_EXCL
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


class _Empty:
    """A table and a secret store with nothing in them."""

    def scan(self, **_kw):
        return {"Items": []}

    def get_paginator(self, _name):
        return self

    def paginate(self):
        return [{"SecretList": []}]


DAMAGED = {
    "truncated": '{"items": [{"pk": {"S": "USER#a"}, "sk"',
    "a list": "[]",
    "an item without sk": json.dumps({"items": [{"pk": {"S": "USER#a"}}], "secrets": {}}),
    "the platform secret": json.dumps({"items": [], "secrets": {"model-config/platform-keys": "{}"}}),
    "a path outside the prefix": json.dumps({"items": [], "secrets": {"../../../etc/passwd": "{}"}}),
    "a name outside the prefix": json.dumps({"items": [], "secrets": {"other/app/secret": "{}"}}),
    "not a DynamoDB value": json.dumps({"items": [{"pk": {"S": "USER#a"}, "sk": {"S": "x"}, "v": 3}], "secrets": {}}),
}


@pytest.mark.parametrize("case", DAMAGED)
def test_a_damaged_data_file_stops_the_start_with_one_line(tmp_path, case):
    data = tmp_path / "state.json"
    data.write_text(DAMAGED[case])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    done = subprocess.run(
        [sys.executable, "-m", "infra.local_api", "--port", str(port)],
        cwd=runtime.ROOT,
        env=local_env(data),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stdout
    (line,) = done.stderr.strip().splitlines()  # one line, no traceback
    assert line.startswith(f"{data} is damaged (") and line.endswith("start empty with make run FRESH=1")
    assert "Traceback" not in done.stdout


# ---- make invoke beside a running server -----------------------------------------------------------------------


def test_make_invoke_beside_a_running_server_uses_its_providers_and_overwrites_nothing(tmp_path):
    env = local_env(tmp_path / "state.json") | {"PLATFORM_MODEL_PROVIDERS": "google-ai-studio"}
    user = {"authorization": f"Bearer {sample_token('auth0|sample-user')}"}  # the samples' user
    with running(env) as (base, lines):
        moto = embedded_aws(lines)
        secrets = aws_client(moto, "secretsmanager")
        before = secrets.get_secret_value(SecretId="model-config/platform-keys")["SecretString"]
        key = {"apiKey": "sk-ant-local-invoke-key-0000000000"}
        assert httpx.put(f"{base}/api/byok-keys/anthropic", json=key, headers=user).status_code == 200
        body = {"modelName": "anthropic/claude-opus-4-5"}
        assert httpx.put(f"{base}/api/model-configs/blueprint", json=body, headers=user).status_code == 200
        tested = httpx.post(f"{base}/api/model-configs/test", json={"agentActionName": "blueprint"}, headers=user)
        assert tested.json()["data"]["testResult"]["keySource"] == "user"
        done = subprocess.run(  # as the README shows it: make, without -s, piped
            ["make", "invoke", "FN=ResolveFunction"],
            cwd=runtime.ROOT,
            env={k: v for k, v in env.items() if k != "PLATFORM_MODEL_PROVIDERS"} | {"AWS_ENDPOINT_URL": moto},
            capture_output=True,
            text=True,
            timeout=120,
        )
        after = secrets.get_secret_value(SecretId="model-config/platform-keys")["SecretString"]
        standin = re.search(r"STAND-IN on (http://127\.0\.0\.1:\d+)", "".join(lines)).group(1)
    assert done.returncode == 0, done.stderr
    resolved = json.loads(done.stdout)["resolved"]["blueprint"]  # stdout is the answer alone
    assert resolved["config"]["isUserOverride"] is True  # the server's data, and its view of it
    assert (resolved["keySource"], resolved["baseUrl"]) == ("user", f"{standin}/anthropic")
    assert after == before  # the platform secret as the server stored it (it was overwritten with {})


def test_make_run_honours_platform_model_providers_and_the_stand_in_answers_user_keys(tmp_path):
    env = local_env(tmp_path / "state.json") | {"PLATFORM_MODEL_PROVIDERS": "google-ai-studio"}
    user = {"authorization": f"Bearer {sample_token('byok')}"}
    body = {"modelName": "anthropic/claude-opus-4-5"}
    with running(env) as (base, lines):
        banner = "".join(lines)
        assert "platform   google-ai-studio; BYOK only (users' own keys): openai, anthropic, grok" in banner
        refused = httpx.put(f"{base}/api/model-configs/blueprint", json=body, headers=user)
        assert refused.status_code == 403 and "anthropic" in refused.json()["message"]
        rejected = httpx.put(
            f"{base}/api/byok-keys/anthropic", json={"apiKey": "sk-ant-invalid-000000000"}, headers=user
        )
        assert rejected.status_code == 400  # the stand-in checks user keys as the provider would
        stored = httpx.put(f"{base}/api/byok-keys/anthropic", json={"apiKey": "sk-ant-mine-0000000000"}, headers=user)
        assert stored.status_code == 200 and stored.json()["data"]["verifiedAt"]
        assert httpx.put(f"{base}/api/model-configs/blueprint", json=body, headers=user).status_code == 200
        tested = httpx.post(f"{base}/api/model-configs/test", json={"agentActionName": "blueprint"}, headers=user)
    result = tested.json()["data"]["testResult"]
    assert (result["success"], result["keySource"]) == (True, "user")


def test_make_invoke_and_make_dump_print_the_answer_alone_and_end_quietly_on_a_closed_pipe(tmp_path):
    data = tmp_path / "state.json"
    data.write_text(json.dumps({"items": [{"pk": {"S": "USER#a"}, "sk": {"S": "CONFIG#blueprint"}}], "secrets": {}}))
    env = local_env(data)

    def bash(script: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-o", "pipefail", "-c", script],
            cwd=runtime.ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    answer = bash("make invoke FN=GetDefaultsFunction")  # without -s, as the README shows it
    assert json.loads(answer.stdout)["statusCode"] == 200  # no echoed recipe line, no make chatter
    for script in ("make invoke FN=GetDefaultsFunction | true", "make dump | true"):
        done = bash(script)  # `true` has closed the pipe long before the answer is written
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr
    assert bash("make dump").stdout.startswith(f"{data}: 1 items, 0 audit entries, 0 user secrets")
