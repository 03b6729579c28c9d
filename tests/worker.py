"""One Lambda execution environment as a process: serves a list of requests for one user, one at a time.

Takes {"sub", "requests": [[method, path, body], ...]} as its JSON argument, warms up (imports, clients),
prints READY and waits for a line on stdin, so that every worker hits the store at once, then prints one
line `RESULT <JSON list of [status, body]>`.
AWS is whatever AWS_ENDPOINT_URL points at (a moto server shared by all workers).
"""

import json
import sys

from infra import runtime


def main() -> None:
    job = json.loads(sys.argv[1])
    calls = []
    for method, path, body in job["requests"]:
        found = runtime.find_route(method, path)
        assert found is not None, (method, path)
        route, fn, params = found
        runtime.handler(fn)  # import now: the cold start is not part of the race
        calls.append((route, fn, params, path, body))
    from modelconfig.storage import aws

    aws.dynamodb()
    aws.secretsmanager()
    print("READY", flush=True)
    sys.stdin.readline()
    results = []
    for route, fn, params, path, body in calls:
        event = runtime.http_event(
            route,
            path=path,
            path_parameters=params,
            claims={"sub": job["sub"]},
            body=None if body is None else json.dumps(body),
        )
        status, reply = runtime.parse_response(runtime.handler(fn)(event, runtime.Context(fn)))
        results.append([status, reply])
    print("RESULT " + json.dumps(results), flush=True)


if __name__ == "__main__":
    main()
