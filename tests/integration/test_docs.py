"""The docs stay true to what they describe: each check reads the thing itself (the template, the prices, the
version) so a figure or a list in a page cannot drift from it."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib

import pytest

from benchmarks.cost import PRICES
from infra import openapi, runtime

ROOT = runtime.ROOT
DOCS = ROOT / "docs"
PAGES = ("local.md", "deploying.md", "operating.md", "web-client.md", "resolve.md", "architecture.md")


def read(name: str) -> str:
    return (DOCS / name).read_text()


def test_the_readme_is_short_and_points_to_every_page():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) < 250
    for page in (*PAGES, "benchmarks.md", "api.md"):
        assert f"(docs/{page})" in readme, page
    for name in ("LICENSE", "CHANGELOG.md", "CONTRIBUTING.md"):
        assert (ROOT / name).exists() and f"({name})" in readme, name


def test_the_license_is_mit_and_the_version_lives_in_pyproject_only():
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert openapi.document()["info"]["version"] == version
    newest = re.search(r"^## (\S+) \(", (ROOT / "CHANGELOG.md").read_text(), re.M).group(1)
    assert newest == version  # the changelog's newest entry is the version being built


def table_rows(text: str, heading: str) -> list[list[str]]:
    section = text[text.index(heading) :].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("|---")]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows[1:]]


def test_every_template_parameter_is_documented_with_its_default():
    params = runtime.template()["Parameters"]
    rows = {row[0].strip("`"): row[1] for row in table_rows(read("deploying.md"), "## Every parameter")}
    assert set(rows) == set(params)
    for name, spec in params.items():
        shown = rows[name].strip("`")
        if "Default" not in spec:
            assert shown == "(required)", name
        elif spec["Default"] == "":
            assert shown == "empty", name
        else:
            assert shown == str(spec["Default"]), name


def test_every_alarm_has_a_runbook():
    alarms = {n for n, r in runtime.template()["Resources"].items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    runbooks = set(re.findall(r"^### (\w+Alarm)$", read("operating.md"), re.M))
    assert runbooks == alarms


def test_the_security_scan_table_lists_exactly_the_checks_the_template_skips():
    skipped = {
        check["id"]
        for resource in runtime.template()["Resources"].values()
        for check in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    }
    listed = {
        re.match(r"(CKV_AWS_\d+)", row[0]).group(1)
        for row in table_rows(read("architecture.md"), "## Template security scan")
    }
    assert listed == skipped


@pytest.mark.parametrize("page", [*PAGES, "../README.md", "../CONTRIBUTING.md"])
def test_every_price_quoted_outside_the_benchmarks_is_a_price_the_cost_model_uses(page):
    prices = {f"{v:.2f}" for v in PRICES.values()}
    for quoted in re.findall(r"\$(\d+\.\d{2})\b", read(page)):
        assert quoted in prices, f"{page} quotes ${quoted}, which benchmarks/cost.py does not price"


def test_web_clients_learn_every_answer_api_gateway_gives_outside_the_envelope():
    rows = {row[0] for row in table_rows(read("web-client.md"), "## The answers that do not come from the service")}
    assert {"401", "429", "503", "500"} <= rows


def test_the_resolve_snippet_defines_every_name_it_uses_and_checks_function_errors(tmp_path):
    snippet = re.search(r"```python\n(.*?)```", read("resolve.md"), re.S).group(1)
    assert '"FunctionError" in reply' in snippet
    path = tmp_path / "snippet.py"
    path.write_text(snippet)
    ruff = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--isolated", "--select", "F,E9", str(path)],
        capture_output=True,
        text=True,
    )
    assert ruff.returncode == 0, ruff.stdout  # e.g. F821: RESOLVE_ARN was never defined
