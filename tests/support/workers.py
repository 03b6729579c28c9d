"""Concurrent clients: one worker process per Lambda execution environment, all on one moto server."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import boto3

from infra import runtime


@dataclass
class SharedAws:
    """A table and platform secret on the moto server, and worker processes that act on them."""

    endpoint: str
    table: str
    env: dict[str, str]
    logs: list[str] = field(default_factory=list)  # what the workers logged (errors only)

    def client(self, service: str) -> Any:
        return boto3.session.Session().client(service, region_name="us-east-1", endpoint_url=self.endpoint)

    def run_clients(self, jobs: list[tuple[str, list[tuple[str, str, Any]]]], *, timeout: float = 120) -> list[Any]:
        """Run each (sub, requests) job in its own worker process; once every worker has warmed up, all start
        at once. Returns each worker's [status, body] list."""
        import subprocess
        import sys
        import tempfile

        procs = []
        for sub, requests in jobs:
            stderr = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed with the process below
            proc = subprocess.Popen(
                [sys.executable, "-m", "tests.worker", json.dumps({"sub": sub, "requests": requests})],
                cwd=runtime.ROOT,
                env=self.env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
            )
            procs.append((proc, stderr))
        for proc, stderr in procs:
            assert proc.stdout is not None
            if proc.stdout.readline().strip() != "READY":
                proc.wait(timeout)
                stderr.seek(0)
                raise AssertionError(stderr.read()[-3000:])
        for proc, _ in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.close()
        results = []
        for proc, stderr in procs:
            assert proc.stdout is not None
            out = proc.stdout.read()
            proc.wait(timeout)
            stderr.seek(0)
            lines = [line for line in out.splitlines() if line.startswith("RESULT ")]
            errors = stderr.read()
            stderr.close()
            assert proc.returncode == 0 and lines, errors[-3000:]
            results.append(json.loads(lines[-1][len("RESULT ") :]))
            self.logs.extend(line for line in out.splitlines() if not line.startswith(("RESULT ", "READY")))
        return results
