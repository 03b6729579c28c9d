"""Least privilege, checked both ways on every full run (moto enforces no IAM; a deploy would).

Runs after every other integration test (tests/conftest.py orders it last, and leaves it out of partial
runs): each AWS call a function made inside its own invocation must be granted by that function's policies in
template.yaml, action and resource; and each action a function is granted must have been performed by some
test of that function.
"""

import json

from infra import runtime
from tests import iam
from tests.support.aws import PERFORMED


def performed() -> dict[str, set[str]]:
    done: dict[str, set[str]] = {}
    for call in PERFORMED:
        done.setdefault(call.function, set()).add(call.action)
    return done


def test_every_call_a_function_made_is_granted_to_it():
    assert PERFORMED, "no AWS call was attributed to a function: the recorder is not wired"
    refused = sorted({f"{c.function}: {c.action} on {c.resource}" for c in set(PERFORMED) if not iam.allowed(c)})
    assert refused == []


def test_every_granted_action_is_performed_by_a_test_of_its_function():
    done = performed()
    iam.PERFORMED_FILE.write_text(json.dumps({fn: sorted(actions) for fn, actions in done.items()}, indent=1))
    unused = {
        fn.logical_id: sorted(iam.all_granted_actions(fn.logical_id) - done.get(fn.logical_id, set()))
        for fn in runtime.functions()
    }
    assert {fn: actions for fn, actions in unused.items() if actions} == {}
