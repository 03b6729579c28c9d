"""The template's IAM, read the way IAM would apply it to what the tests make each function do.

moto enforces no IAM, so the tests record every AWS call a function makes (counted at botocore, inside the
function's own invocation) as an IAM action and the ARN it touches. `test_iam_drift` then checks both ways:
each call is granted by that function's policies in template.yaml, and each granted action is performed by
some test of that function.

The template's intrinsics are resolved with the parameters the function's environment carried at the time
of the call (PLATFORM_KEYS_SECRET_ID, PLATFORM_MODEL_PROVIDERS, USER_SECRET_PREFIX, TABLE_NAME), so a
conditional grant such as the platform-keys policy is judged under the conditions that held.

`python -m tests.iam` prints, per function, the actions granted (`.iam-performed.json` written by the last
full test run gives the performed side).
"""

from __future__ import annotations

import fnmatch
import json
import sys
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from typing import Any, NamedTuple

from infra import runtime

PARTITION, REGION, ACCOUNT, STACK = "aws", "us-east-1", "123456789012", "model-config"
ENV_OF_PARAMETER = {  # the template's parameters as the functions' environment carries them
    "PlatformKeysSecretId": "PLATFORM_KEYS_SECRET_ID",
    "PlatformModelProviders": "PLATFORM_MODEL_PROVIDERS",
    "UserSecretPrefix": "USER_SECRET_PREFIX",
}
PERFORMED_FILE = runtime.ROOT / ".iam-performed.json"

# The function whose invocation is running (set around each handler call by tests/support/aws.py).
current_function: ContextVar[str | None] = ContextVar("current_function", default=None)


class Call(NamedTuple):
    function: str
    action: str  # IAM action, e.g. dynamodb:Query
    resource: str  # the ARN IAM would check
    env: tuple[tuple[str, str], ...]  # the parameters' environment at the time of the call


class Grant(NamedTuple):
    actions: frozenset[str]
    resources: tuple[str, ...]  # ARN patterns (IAM's * and ?)


# ---- calls -----------------------------------------------------------------------------------------------

_TRANSACT = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem"}
_RENAMED = {"lambda:Invoke": "lambda:InvokeFunction"}


def calls_of(
    function: str, service: str, operation: str, params: Mapping[str, Any], env: Mapping[str, str]
) -> list[Call]:
    """The IAM actions and resources of one API call. TransactWriteItems has no IAM action of its own: IAM
    checks each item's action on its table."""
    snapshot = tuple((name, env.get(name, "")) for name in (*ENV_OF_PARAMETER.values(), *runtime.TABLES.values()))
    if service == "dynamodb":
        if operation == "TransactWriteItems":
            pairs = [
                (_TRANSACT[kind], body["TableName"]) for item in params["TransactItems"] for kind, body in item.items()
            ]
        elif operation == "BatchWriteItem":
            pairs = [(operation, table) for table in params["RequestItems"]]
        else:
            pairs = [(operation, params["TableName"])]
        return [Call(function, f"dynamodb:{op}", _table_arn(table), snapshot) for op, table in pairs]
    if service == "secretsmanager":
        arn = _secret_arn(params.get("SecretId") or params["Name"])
        found = [Call(function, f"secretsmanager:{operation}", arn, snapshot)]
        if operation == "CreateSecret" and params.get("Tags"):  # tags at creation need TagResource too
            found.append(Call(function, "secretsmanager:TagResource", arn, snapshot))
        return found
    if service == "lambda":
        name = params["FunctionName"]
        # The tests' context names a function by its logical id; deployed, it has the template's FunctionName.
        deployed = _function_names().get(name.rsplit(":", 1)[-1], name)
        arn = deployed if deployed.startswith("arn:") else f"{_arn('lambda')}:function:{deployed}"
        return [Call(function, _RENAMED.get(f"lambda:{operation}", f"lambda:{operation}"), arn, snapshot)]
    return [Call(function, f"{service}:{operation}", "*", snapshot)]


def _arn(service: str) -> str:
    return f"arn:{PARTITION}:{service}:{REGION}:{ACCOUNT}"


def _table_arn(table: str) -> str:
    return f"{_arn('dynamodb')}:table/{table}"


def _secret_arn(secret: str) -> str:
    """A secret's ARN: Secrets Manager appends a dash and six random characters to its name."""
    return secret if secret.startswith("arn:") else f"{_arn('secretsmanager')}:secret:{secret}-AbC123"


def _function_names() -> dict[str, str]:
    names = {}
    for logical_id, resource in runtime.template()["Resources"].items():
        name = resource.get("Properties", {}).get("FunctionName")
        if resource["Type"] == "AWS::Serverless::Function" and name is not None:
            names[logical_id] = _resolve(name, {})
    return names


# ---- the template's grants -------------------------------------------------------------------------------


def grants(function: str, env: Mapping[str, str]) -> list[Grant]:
    """The statements of `function`'s policies that apply under `env`."""
    return list(_statements(function, env))


def all_granted_actions(function: str) -> set[str]:
    """Every action any of the function's statements grants, under any condition."""
    return {action for grant in _statements(function, None) for action in grant.actions}


def _statements(function: str, env: Mapping[str, str] | None) -> Iterator[Grant]:
    doc = runtime.template()
    for policy in doc["Resources"][function]["Properties"].get("Policies", []):
        for branch in _branches(policy, env):
            if "Ref" in branch:
                branch = doc["Resources"][branch["Ref"]]["Properties"]["PolicyDocument"]
            for statement in branch["Statement"]:
                for taken in _branches(statement, env):
                    actions = taken["Action"] if isinstance(taken["Action"], list) else [taken["Action"]]
                    raw = taken["Resource"] if isinstance(taken["Resource"], list) else [taken["Resource"]]
                    yield Grant(frozenset(actions), _resolved_resources(raw, env))


def _branches(value: Any, env: Mapping[str, str] | None) -> list[Any]:
    """The value an Fn::If yields under `env`, or both branches when env is None (AWS::NoValue dropped)."""
    if isinstance(value, dict) and "Fn::If" in value:
        condition, when_true, when_false = value["Fn::If"]
        chosen = [when_true, when_false] if env is None else [when_true if _condition(condition, env) else when_false]
        return [b for choice in chosen for b in _branches(choice, env)]
    if isinstance(value, dict) and value.get("Ref") == "AWS::NoValue":
        return []
    return [value]


def _resolved_resources(raw: list[Any], env: Mapping[str, str] | None) -> tuple[str, ...]:
    if env is None:
        return ("*",)  # only the actions matter when no environment is given
    return tuple(_resolve(branch, env) for r in raw for branch in _branches(r, env))


def _parameter(name: str, env: Mapping[str, str]) -> str:
    pseudo = {"AWS::Partition": PARTITION, "AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::StackName": STACK}
    if name in pseudo:
        return pseudo[name]
    return env.get(ENV_OF_PARAMETER[name], "")


def _resolve(value: Any, env: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return [_resolve(v, env) for v in value]
    (fn, arg), *_ = value.items()
    if fn == "Ref":
        return _parameter(arg, env)
    if fn == "Fn::GetAtt":
        resource, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
        assert resource in runtime.TABLES and attribute == "Arn", f"no stand-in for GetAtt {resource}.{attribute}"
        return _table_arn(env.get(runtime.TABLES[resource], ""))
    if fn == "Fn::Sub":
        text = arg if isinstance(arg, str) else arg[0]
        for name in _sub_names(text):
            text = text.replace("${" + name + "}", _parameter(name, env))
        return text
    if fn == "Fn::Select":
        index, items = arg
        return _resolve(items, env)[int(index)]
    if fn == "Fn::Split":
        separator, text = arg
        return _resolve(text, env).split(separator)
    if fn == "Fn::If":
        condition, when_true, when_false = arg
        return _resolve(when_true if _condition(condition, env) else when_false, env)
    raise AssertionError(f"no stand-in for {fn}")


def _sub_names(text: str) -> list[str]:
    names, rest = [], text
    while "${" in rest:
        rest = rest.split("${", 1)[1]
        name, rest = rest.split("}", 1)
        names.append(name)
    return names


def _condition(name: str, env: Mapping[str, str]) -> bool:
    return _truth(runtime.template()["Conditions"][name], env)


def _truth(value: Any, env: Mapping[str, str]) -> bool:
    (fn, arg), *_ = value.items()
    if fn == "Condition":
        return _condition(arg, env)
    if fn == "Fn::Not":
        return not _truth(arg[0], env)
    if fn == "Fn::And":
        return all(_truth(v, env) for v in arg)
    if fn == "Fn::Or":
        return any(_truth(v, env) for v in arg)
    if fn == "Fn::Equals":
        left, right = (_resolve(v, env) for v in arg)
        return left == right
    raise AssertionError(f"no stand-in for condition {fn}")


def allowed(call: Call) -> bool:
    env = dict(call.env)
    return any(
        call.action in grant.actions and any(fnmatch.fnmatchcase(call.resource, pattern) for pattern in grant.resources)
        for grant in grants(call.function, env)
    )


def table(performed: Mapping[str, set[str]]) -> str:
    """Markdown: per function, the actions granted and the actions its tests performed."""
    lines = ["| function | granted | performed by its tests |", "|---|---|---|"]
    for fn in runtime.functions():
        granted = sorted(all_granted_actions(fn.logical_id))
        done = sorted(performed.get(fn.logical_id, set()))
        lines.append(f"| {fn.logical_id} | {', '.join(granted)} | {', '.join(done)} |")
    return "\n".join(lines)


if __name__ == "__main__":
    recorded = json.loads(PERFORMED_FILE.read_text()) if PERFORMED_FILE.exists() else {}
    print(table({fn: set(actions) for fn, actions in recorded.items()}))
    sys.exit(0)
