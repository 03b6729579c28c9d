"""One cold start, in a fresh process: import a function's handler and serve its sample event, or (`floor`)
import boto3, make one client and one call. Prints `ready <CPU seconds>` the moment the answer exists: the
parent's clock runs from spawning the process to that line, so interpreter start counts and process exit
(which Lambda never pays on a cold start) does not."""

import importlib.util
import json
import sys
import time
from types import ModuleType


class Context:
    function_name = "bench"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    memory_limit_in_mb = 512
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    log_group_name = "/aws/lambda/bench"
    log_stream_name = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 600_000


def load(source: str) -> ModuleType:
    """Import a function's module from its file, as Lambda's runtime imports the handler's module."""
    spec = importlib.util.spec_from_file_location("handler_module", source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["handler_module"] = module  # as Lambda's import does; pydantic generics look it up
    spec.loader.exec_module(module)
    return module


def main() -> None:
    mode = sys.argv[1]
    if mode == "floor":
        import os

        started = time.perf_counter()
        import boto3

        imported = time.perf_counter()
        boto3.client("dynamodb").get_item(
            TableName=os.environ["TABLE_NAME"], Key={"pk": {"S": "USER#x"}, "sk": {"S": "CONFIG#blueprint"}}
        )
        print(f"split {imported - started:.6f} {time.perf_counter() - imported:.6f}", flush=True)
        return
    source, handler_name, event_path = sys.argv[2], sys.argv[3], sys.argv[4]
    started = time.perf_counter()
    module = load(source)
    imported = time.perf_counter()
    with open(event_path, encoding="utf-8") as f:
        event = json.load(f)
    result = getattr(module, handler_name)(event, Context())
    print(f"split {imported - started:.6f} {time.perf_counter() - imported:.6f}", flush=True)  # import, request
    status = result.get("statusCode", 200) if isinstance(result, dict) else 200
    if status >= 500 or status == 429:  # a spent limit answers before the work this run is meant to time
        raise SystemExit(f"{mode}: {status} {result}")


if __name__ == "__main__":
    main()
    print(f"ready {time.process_time():.6f}", flush=True)  # CPU seconds since the process started
