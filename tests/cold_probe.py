"""One cold start as Lambda runs it: import a function's module from its file, then serve one event.

Prints one line `PROBE <JSON>`: which of the watched modules were loaded after the import and after the
first answer, how many collections ran during the import, how many objects the import froze, whether the
collector runs again after the first answer, and the answer's status.
AWS is whatever AWS_ENDPOINT_URL points at.
"""

import gc
import json
import sys

from benchmarks.cold import Context, load  # imports nothing a function would

# botocore.exceptions is imported with the storage modules (a few ms); the SDK proper is its session and client.
WATCHED = ("boto3", "s3transfer", "botocore.session", "botocore.client", "httpx", "aws_xray_sdk")


def loaded() -> list[str]:
    return [name for name in WATCHED if name in sys.modules]


def collections() -> int:
    return sum(generation["collections"] for generation in gc.get_stats())


def main() -> None:
    source, handler_name, event_path = sys.argv[1:4]

    before = collections()
    module = load(source)
    after_import = loaded()
    during_import = collections() - before
    frozen = gc.get_freeze_count()
    with open(event_path, encoding="utf-8") as f:
        event = json.load(f)
    result = getattr(module, handler_name)(event, Context())
    status = result.get("statusCode", 200) if isinstance(result, dict) else 200
    report = {
        "import": after_import,
        "collections": during_import,
        "frozen": frozen,
        "first": loaded(),
        "enabled": gc.isenabled(),
        "status": status,
    }
    print("PROBE " + json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
