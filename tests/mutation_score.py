"""The score of a `make mutate` run, from `mutmut results --all true` on stdin.

Prints killed and survived per module and every survivor by name (`mutmut show NAME` in .mutate/ shows its
diff), and exits 1 when fewer than 90% of the mutants were killed. A timeout counts as killed: the tests
noticed that the mutant hangs. "no tests" counts as survived: no test reaches that code.
"""

from __future__ import annotations

import sys
from collections import Counter, defaultdict

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
    print(f"{'module':32} {'killed':>7} {'survived':>9} {'score':>7}")
    total: Counter[str] = Counter()
    for module, counts in sorted(by_module.items()):
        total.update(counts)
        print(f"{module:32} {counts['killed']:7} {counts['survived']:9} {_score(counts):7.1%}")
    print(f"{'all':32} {total['killed']:7} {total['survived']:9} {_score(total):7.1%}")
    if total["not run"]:
        print(f"{total['not run']} mutants were not run (interrupted?)")
    for survivor in survivors:
        print("survived:", survivor)
    return 0 if _score(total) >= TARGET and not total["not run"] else 1


def _score(counts: Counter[str]) -> float:
    tried = counts["killed"] + counts["survived"]
    return counts["killed"] / tried if tried else 0.0


if __name__ == "__main__":
    sys.exit(main())
