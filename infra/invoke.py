"""`make invoke FN=<LogicalId> EVENT=<file>`: what `sam local invoke -e` does, in-process and without Docker.

Uses the AWS that the environment points at (AWS_ENDPOINT_URL, or real credentials); with neither, it starts
the same embedded moto server as `make run`, with the template's table and the platform keys secret. Pointed
at a loopback endpoint (a running `make run`'s moto), it supplies the dummy credentials moto accepts, adopts
the settings that server published (its providers, the stand-in's base URLs, its table), and only creates
what is missing there: it never overwrites what the server stores.

The function's answer is the only thing on stdout (so `| jq` works, even without `make -s`); its log lines go
to stderr. A consumer that stops reading early (`| head`) ends it quietly.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

from infra import runtime
from infra.cli import write_quietly
from infra.local_aws import LocalAws, adopt_settings
from infra.loopback import is_loopback


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("function", help="logical id in template.yaml, e.g. GetDefaultsFunction")
    parser.add_argument("event", nargs="?", help="event file (default: infra/events/<LogicalId>.json)")
    args = parser.parse_args(argv)
    names = [fn.logical_id for fn in runtime.functions()]
    if args.function not in names:
        parser.error(f"no function {args.function!r} in template.yaml; one of: {', '.join(names)}")
    event_path = Path(args.event or runtime.ROOT / "infra" / "events" / f"{args.function}.json")
    try:
        event = json.loads(event_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        parser.error(f"cannot read the event {event_path}: {exc}")
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    if endpoint and is_loopback(urlsplit(endpoint).hostname or ""):
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            os.environ.setdefault(name, "local")  # moto accepts any; a missing one would be a NoCredentialsError
        os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
        adopt_settings(endpoint)
    with LocalAws.start(embedded=not endpoint) as aws:
        fn = runtime.function(args.function, aws.refs)
        aws.apply_environment(fn)
        handler = runtime.handler(fn)
        from modelconfig.observability import logger  # loaded by the handler's module

        # A StreamHandler's stream is settable; Powertools types registered_handler as the base Handler.
        logger.registered_handler.stream = sys.stderr  # type: ignore[attr-defined]
        result = handler(event, runtime.Context(fn))
    return write_quietly(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
