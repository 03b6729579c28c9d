"""`make invoke FN=<LogicalId> EVENT=<file>`: what `sam local invoke -e` does, in-process and without Docker.

Uses the AWS that the environment points at (AWS_ENDPOINT_URL, or real credentials); with neither, it starts
the same embedded moto server as `make run`, with the template's table and the platform keys secret.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from infra import runtime
from infra.local_aws import LocalAws


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("function", help="logical id in template.yaml, e.g. GetDefaultsFunction")
    parser.add_argument("event", nargs="?", help="event file (default: infra/events/<LogicalId>.json)")
    args = parser.parse_args(argv)
    event_path = Path(args.event or runtime.ROOT / "infra" / "events" / f"{args.function}.json")
    event = json.loads(event_path.read_text(encoding="utf-8"))
    with LocalAws.start(embedded=not os.environ.get("AWS_ENDPOINT_URL")) as aws:
        fn = runtime.function(args.function, aws.refs)
        aws.apply_environment(fn)
        result = runtime.handler(fn)(event, runtime.Context(fn))
    sys.stdout.write(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
