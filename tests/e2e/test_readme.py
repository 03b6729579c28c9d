"""The README's tour, run as written against `make run`: every route answers, a model test succeeds with no
network (the provider stand-in), and every curl's answer is the success envelope."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

from infra import runtime

README = runtime.ROOT / "README.md"
STATUS_MARK = "@@status="


def blocks() -> list[str]:
    """The `sh` blocks of the tour's section, in order: how to start the server, then the curls."""
    text = README.read_text()
    section = text[text.index("### A tour: every route with curl") :].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", section, re.S)


def tour() -> str:
    return next(block for block in blocks() if "BASE=" in block)


def server_env() -> dict[str, str]:
    """The variables the tour starts `make run` with (`NAME=value make run`)."""
    start = next(block for block in blocks() if "make run" in block)
    return dict(re.findall(r"(\w+)=(\S+)", start.split("make run")[0]))


def expected_status(line: str) -> str:
    """A curl the tour marks with a trailing `# 403` is expected to answer that; every other one 200."""
    mark = re.search(r"#\s*(\d{3})\s*$", line)
    return mark.group(1) if mark else "200"


def test_the_tour_has_a_curl_for_every_route():
    curls = [line for line in tour().splitlines() if line.startswith("curl ")]
    covered = set()
    for line in curls:
        method = re.search(r"-X (\w+)", line)
        path = re.search(r"\$BASE(/[^\s\"?]*)", line).group(1)
        found = runtime.find_route(method.group(1) if method else "GET", path)
        assert found is not None, line
        covered.add(found[0].key)
    assert covered == {route.key for route, _fn in runtime.routes()}


def test_the_tour_starts_the_server_as_a_deployment_usually_runs_it():
    assert server_env() == {"PLATFORM_MODEL_PROVIDERS": "google-ai-studio"}


def test_every_curl_of_the_tour_works_as_written(tmp_path):
    from infra.local_api import running
    from tests.e2e.conftest import local_env

    with running(local_env(tmp_path / "state.json") | server_env()) as (base, lines):
        endpoint = re.search(r"custom\s+(http://127\.0\.0\.1:\d+/openai/v1)", "".join(lines)).group(1)
        done = run_tour(base, endpoint)
    assert done.returncode == 0, done.stderr
    answers = re.findall(rf"(.*)\n{re.escape(STATUS_MARK)}(\d+)", done.stdout)
    curls = [line for line in tour().splitlines() if line.startswith("curl ")]
    assert [status for _body, status in answers] == [expected_status(line) for line in curls]
    assert "403" in [status for _body, status in answers]  # the BYOK story: refused, key added, then saved
    for body, status in answers:
        assert json.loads(body)["success"] is (status == "200"), body
    refused = next(json.loads(body) for body, status in answers if status == "403")
    assert "anthropic" in refused["message"] and "PUT /api/byok-keys/anthropic" in refused["message"]
    bodies = [json.loads(body)["data"] for body, status in answers if status == "200"]
    tested = next(b["testResult"] for b in bodies if "testResult" in b)
    assert tested["success"] is True and tested["keySource"] == "user"  # offline: the stand-in answered
    saved_key = next(b for b in bodies if b.get("provider") == "anthropic" and "keyPreview" in b)
    assert "verifiedAt" in saved_key  # checked with the (stand-in) provider on save
    custom = next(b for b in bodies if b.get("name") == "lab")
    assert custom["models"] == ["standin-model"] and "verifiedAt" in custom  # checked through the egress guard
    own = [b["testResult"] for b in bodies if "testResult" in b][-1]
    assert own == own | {"success": True, "keySource": "user", "modelUsed": "custom/lab/standin-model"}
    gone = next(b for b in bodies if b.get("message") == "custom provider 'lab' deleted")
    assert gone["affectedActions"] == ["deepDebugger"]
    deleted, trail, export = bodies[-3:]
    assert deleted["affectedActions"] == []  # the override was reset before the key went
    # Every change, newest first: the refused PUT and the reset of nothing left no entry.
    assert [e["action"] for e in trail["entries"]] == [
        "key.delete", "custom_provider.delete", "config.put", "custom_provider.put", "config.delete"
    ]  # fmt: skip
    assert trail["nextCursor"]  # five of the seven changes
    assert export["userId"] == "local-user" and export["audit"][:5] == trail["entries"] and export["keys"] == []
    assert export["customProviders"] == []


def run_tour(base: str, endpoint: str) -> subprocess.CompletedProcess[str]:
    script = tour().replace("BASE=http://127.0.0.1:3000", f"BASE={base}", 1)
    script = script.replace("ENDPOINT=http://127.0.0.1:3002/openai/v1", f"ENDPOINT={endpoint}", 1)
    # Each curl also prints its status after its answer; nothing else of the block changes.
    wrapper = f'curl() {{ command curl -w "\\n{STATUS_MARK}%{{http_code}}\\n" "$@"; }}\n'
    return subprocess.run(
        [shutil.which("bash") or "/bin/bash", "-e", "-c", wrapper + script],
        cwd=runtime.ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
