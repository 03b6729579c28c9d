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


def tour() -> str:
    """The first `sh` block after the heading of the tour."""
    text = README.read_text()
    section = text[text.index("### A tour: every route with curl") :]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)


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


def test_every_curl_of_the_tour_works_as_written(local_api):
    base, _lines = local_api
    script = tour().replace("BASE=http://127.0.0.1:3000", f"BASE={base}", 1)
    # Each curl also prints its status after its answer; nothing else of the block changes.
    wrapper = f'curl() {{ command curl -w "\\n{STATUS_MARK}%{{http_code}}\\n" "$@"; }}\n'
    done = subprocess.run(
        [shutil.which("bash") or "/bin/bash", "-e", "-c", wrapper + script],
        cwd=runtime.ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    answers = re.findall(rf"(.*)\n{re.escape(STATUS_MARK)}(\d+)", done.stdout)
    assert len(answers) == tour().count("\ncurl ")
    for body, status in answers:
        assert status == "200", body
        assert json.loads(body)["success"] is True, body
    bodies = [json.loads(body)["data"] for body, _status in answers]
    tested = next(b["testResult"] for b in bodies if "testResult" in b)
    assert tested["success"] is True and tested["keySource"] == "user"  # offline: the stand-in answered
    saved_key = next(b for b in bodies if b.get("provider") == "anthropic" and "keyPreview" in b)
    assert "verifiedAt" in saved_key  # checked with the (stand-in) provider on save
    assert bodies[-1]["affectedActions"] == []  # the override was reset before the key went
