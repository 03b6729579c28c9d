"""The score of a `make mutate` run, from `mutmut results --all true` on stdin.

Prints killed and survived per module and every survivor by name (`mutmut show NAME` in .mutate/ shows its
diff), and exits 1 when fewer than 90% of the mutants were killed. A timeout counts as killed: the tests
noticed that the mutant hangs. "no tests" counts as survived: no test reaches that code.

With `--write FILE`, the table also replaces the "## Mutation testing" section of FILE (docs/benchmarks.md),
which `make bench` carries over when it rewrites the rest.
"""

from __future__ import annotations

import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

TARGET = 0.90
KILLED = {"killed", "timeout"}
SURVIVED = {"survived", "no tests", "suspicious", "segfault"}


def main() -> int:
    by_module: dict[str, Counter[str]] = defaultdict(Counter)
    survivors: list[str] = []
    for line in sys.stdin:
        name, sep, status = line.strip().rpartition(": ")
        if not sep or "__mutmut_" not in name:
            continue
        module = name.split(".x_")[0].split(".xǁ")[0]
        if status in KILLED:
            by_module[module]["killed"] += 1
        elif status in SURVIVED:
            by_module[module]["survived"] += 1
            survivors.append(f"{name} ({status})")
        else:
            by_module[module]["not run"] += 1
    if not by_module:
        print("no mutants found: run `make mutate`", file=sys.stderr)
        return 1
    rows = ["| module | killed | survived | score |", "|---|---|---|---|"]
    total: Counter[str] = Counter()
    for module, counts in sorted(by_module.items()):
        total.update(counts)
        rows.append(f"| {module} | {counts['killed']} | {counts['survived']} | {_score(counts):.1%} |")
    rows.append(f"| **all** | {total['killed']} | {total['survived']} | **{_score(total):.1%}** |")
    print("\n".join(rows))
    if total["not run"]:
        print(f"{total['not run']} mutants were not run (interrupted?)")
    for survivor in survivors:
        print("survived:", survivor)
    if len(sys.argv) == 3 and sys.argv[1] == "--write":
        _write(Path(sys.argv[2]), rows, survivors)
    return 0 if _score(total) >= TARGET and not total["not run"] else 1


SECTION = "## Mutation testing"


def _write(doc: Path, rows: list[str], survivors: list[str]) -> None:
    text = doc.read_text(encoding="utf-8") if doc.exists() else ""
    before, _, rest = text.partition(SECTION)
    after = rest[rest.find("\n## ") :] if "\n## " in rest else ""
    section = [
        SECTION,
        "",
        f"`make mutate` on {time.strftime('%Y-%m-%d')}: mutmut on the domain modules, each mutant against the unit "
        "and integration tests that reach it (not the cold-start probes or the twenty-process race). A timeout "
        "counts as killed. Survivors are listed by name: `mutmut show NAME` in `.mutate/` shows each diff.",
        "",
        *rows,
        "",
        *(f"- `{s}`" for s in survivors),
        "",
    ]
    doc.write_text(before.rstrip("\n") + "\n\n" + "\n".join(section) + after, encoding="utf-8")


def _score(counts: Counter[str]) -> float:
    tried = counts["killed"] + counts["survived"]
    return counts["killed"] / tried if tried else 0.0


if __name__ == "__main__":
    sys.exit(main())
