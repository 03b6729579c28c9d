"""The README's deploy block, run as written with recording stand-ins for `aws` and `sam` on the PATH: the
platform secret it creates is the one the stack is told to read, in the region it names, and every parameter
it passes is one the template has, in the form the template accepts (issue 22's first blocker)."""

from __future__ import annotations

import json
import os
import re
import shlex
import stat
import subprocess

from infra import runtime

RECORDER = """#!/usr/bin/env python3
import json, os, sys
with open(os.environ["RECORD"], "a") as out:
    out.write(json.dumps([os.path.basename(sys.argv[0]), *sys.argv[1:]]) + "\\n")
"""


def deploy_block() -> str:
    text = (runtime.ROOT / "README.md").read_text()
    section = text[text.index("## Deploy, in one block") :].split("\n## ", 1)[0]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)


def run_recorded(tmp_path) -> list[list[str]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("aws", "sam"):
        path = bin_dir / tool
        path.write_text(RECORDER)
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    record = tmp_path / "calls.jsonl"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MAKE"))}
    env |= {"PATH": f"{bin_dir}:{env['PATH']}", "RECORD": str(record), "SAM_CLI": str(bin_dir / "sam")}
    done = subprocess.run(
        ["bash", "-e", "-c", deploy_block()], cwd=runtime.ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return [json.loads(line) for line in record.read_text().splitlines()]


def option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def test_the_deploy_block_creates_the_platform_secret_and_passes_it_to_the_stack_in_one_region(tmp_path):
    calls = run_recorded(tmp_path)
    aws = [c for c in calls if c[0] == "aws"]
    sam = [c for c in calls if c[0] == "sam"]
    ((_, *create),) = aws
    assert create[:2] == ["secretsmanager", "create-secret"]
    secret_name, region = option(create, "--name"), option(create, "--region")
    assert json.loads(option(create, "--secret-string"))  # a JSON object of the platform's keys
    assert [c[1] for c in sam] == ["build", "deploy"]  # make deploy builds first
    deploy = sam[1]
    assert option(deploy, "--region") == region  # the same region as the secret: the stack can read it
    overrides = deploy[deploy.index("--parameter-overrides") + 1 :]
    params = dict(p.split("=", 1) for p in overrides)
    assert params["PlatformKeysSecretId"] == secret_name  # the blocker: the stack read no platform secret
    template = runtime.template()["Parameters"]
    assert set(params) <= set(template), set(params) - set(template)
    required = {name for name, p in template.items() if "Default" not in p}
    assert required <= set(params)  # JwtIssuer and JwtAudience
    assert re.fullmatch(template["JwtIssuer"]["AllowedPattern"], params["JwtIssuer"])
    assert f".{region}." in params["JwtIssuer"]  # a Cognito pool of that region
    assert params["CorsAllowOrigins"].startswith("https://")  # the web client's origin, not the default *
    assert set(params["PlatformModelProviders"].split(",")) <= set(json.loads(option(create, "--secret-string")))


def test_the_makefile_forces_no_region_on_a_deploy(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    sam = bin_dir / "sam"
    sam.write_text('#!/bin/sh\necho "region=${AWS_DEFAULT_REGION:-unset} $*"\n')
    sam.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MAKE"))} | {"SAM_CLI": str(sam)}
    out = subprocess.run(
        ["make", "-s", "sam", "ARGS=deploy"], cwd=runtime.ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert out.stdout.strip() == "region=unset deploy"  # the profile's region decides, as the AWS CLI's would
    shlex.split(out.stdout)  # one line, nothing else printed
