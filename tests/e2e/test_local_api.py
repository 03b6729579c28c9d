"""`make run`'s server as a client sees it: a real process on a free loopback port, driven over HTTP."""

import base64
import json
import socket
import subprocess
import sys

from infra import runtime
from infra.local_api import sample_token
from tests.support.constants import PRO


def auth(sub):
    return {"authorization": f"Bearer {sample_token(sub)}"}


def test_the_server_says_what_identity_means_and_logs_each_request(server, server_output):
    server.get("/api/model-configs", headers=auth("logger"))
    output = server_output()
    assert "WITHOUT checking its signature" in output  # the banner says what the identity check is
    assert "GET /api/model-configs 200" in output  # one log line per request: method, path, status, ms


def test_no_or_unreadable_token_is_401(server):
    for headers in ({}, {"authorization": "Bearer not-a-jwt"}, {"authorization": "Basic abc"}):
        reply = server.get("/api/model-configs", headers=headers)
        assert reply.status_code == 401
        assert reply.json()["error"]["name"] == "Unauthorized"
    empty_sub = base64.urlsafe_b64encode(json.dumps({"sub": ""}).encode()).decode().rstrip("=")
    reply = server.get("/api/model-configs", headers={"authorization": f"Bearer x.{empty_sub}.y"})
    assert reply.status_code == 401


def test_unknown_route_is_404_in_the_envelope(server):
    for method, path in (("GET", "/nope"), ("DELETE", "/api"), ("GET", "/api/model-configs/a/b")):
        reply = server.request(method, path, headers=auth("u"))
        assert reply.status_code == 404
        assert reply.headers["content-type"].startswith("application/json")
        assert reply.json() == {
            "success": False,
            "error": {"name": "NotFound", "message": "no such route"},
            "message": "no such route",
        }


def test_config_flow_and_isolation_between_tokens(server):
    alice, bob = auth("alice"), auth("bob")
    saved = server.put("/api/model-configs/blueprint", headers=alice, json={"modelName": PRO, "maxTokens": 321})
    assert saved.status_code == 200, saved.text
    assert saved.json()["data"]["config"]["userId"] == "alice"
    assert server.get("/api/model-configs/blueprint", headers=alice).json()["data"]["config"]["max_tokens"] == 321
    assert (
        server.get("/api/model-configs", headers=bob).json()["data"]["configs"]["blueprint"]["isUserOverride"] is False
    )
    assert server.delete("/api/model-configs/blueprint", headers=bob).status_code == 404
    assert server.get("/api/model-configs/defaults", headers=bob).json()["data"]["models"]
    key = server.put("/api/byok-keys/anthropic", headers=bob, json={"apiKey": "sk-ant-local-0123456789abc"})
    assert key.status_code == 200 and "0123456789" not in key.text
    assert not any(p["hasValidKey"] for p in server.get("/api/byok-keys", headers=alice).json()["data"]["providers"])
    assert server.post("/api/model-configs/reset-all", headers=alice).json()["data"]["resetCount"] == 1
    bad = server.put("/api/model-configs/blueprint", headers=alice, content=b"{oops")
    assert bad.status_code == 400 and bad.json()["error"]["name"] == "ValidationError"


def test_openapi_and_swagger_work_offline(server):
    doc = server.get("/openapi.json").json()
    assert "/api/model-configs/{agentAction}" in doc["paths"]
    page = server.get("/swagger")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "/openapi.json" in page.text and "https://" not in page.text  # no CDN: works offline
    assert len(page.content) < 2000  # the 1.7 MB of assets are served, not inlined
    js = server.get("/swagger/swagger-ui-bundle.js")
    css = server.get("/swagger/swagger-ui.css")
    assert js.status_code == css.status_code == 200 and len(js.content) > 100_000


def test_cors_preflight_from_a_local_page(server):
    for origin in ("http://localhost:5173", "http://127.0.0.1:3000", "http://localhost"):
        reply = server.options("/api/model-configs", headers={"origin": origin})
        assert reply.status_code == 204
        assert reply.headers["access-control-allow-origin"] == origin
        assert "authorization" in reply.headers["access-control-allow-headers"]
        assert "if-match" in reply.headers["access-control-allow-headers"]  # no lost update from a browser
        assert reply.headers["access-control-expose-headers"] == "etag"


def test_a_page_of_another_origin_is_refused(server):
    for origin in ("https://evil.example", "http://localhost.evil.example", "null", "http://127.0.0.1.nip.io"):
        for method in ("OPTIONS", "GET", "PUT"):
            reply = server.request(method, "/api/model-configs/blueprint", headers={**auth("victim"), "origin": origin})
            assert reply.status_code == 403, (origin, method)
            assert reply.json()["error"]["name"] == "Forbidden"
            assert "access-control-allow-origin" not in reply.headers


def test_a_foreign_host_header_is_refused(server):
    """DNS rebinding: a page of attacker.example resolved to 127.0.0.1 sends Host: attacker.example."""
    for host in ("attacker.example", "attacker.example:3000", "192.168.1.10:3000"):
        reply = server.get("/api/model-configs", headers={**auth("victim"), "host": host})
        assert reply.status_code == 403 and reply.json()["error"]["name"] == "Forbidden"
    for host in ("localhost:3000", "127.0.0.1", "[::1]:3000", "app.localhost"):
        assert server.get("/api/model-configs", headers={**auth("u"), "host": host}).status_code == 200


def test_the_host_variable_moves_nothing(server_output):
    assert "local API  http://127.0.0.1:" in server_output()  # HOST=0.0.0.0 was set: still loopback


def test_a_method_the_path_lacks_is_405_with_allow_in_the_envelope(server):
    for method in ("TRACE", "PATCH", "HEAD", "POST"):
        reply = server.request(method, "/api/model-configs/blueprint", headers=auth("u"))
        assert reply.status_code == 405, method
        assert reply.headers["allow"] == "DELETE, GET, PUT"
        if method != "HEAD":
            assert reply.json() == {
                "success": False,
                "error": {"name": "MethodNotAllowed", "message": f"{method} is not served here; use DELETE, GET, PUT"},
                "message": f"{method} is not served here; use DELETE, GET, PUT",
            }


def test_real_aws_refuses_a_non_loopback_bind():
    import subprocess
    import sys

    from infra import runtime

    done = subprocess.run(
        [sys.executable, "-m", "infra.local_api", "--real-aws", "--host", "0.0.0.0"],
        cwd=runtime.ROOT,
        env={"TABLE_NAME": "t", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "--real-aws serves real users' data: it binds to loopback only" in done.stderr


def test_a_busy_port_is_one_line_not_a_traceback():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = subprocess.run(
            [sys.executable, "-m", "infra.local_api", "--port", str(port)],
            cwd=runtime.ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert out.returncode == 1
    # Refused before the embedded AWS or the stand-in starts; the suggestion's own AWS port (+1) is not this one's.
    assert out.stderr.strip().splitlines() == [
        f"port {port} is in use: stop what serves it, or run on another (make run PORT={port + 10})"
    ]
    assert out.stdout == ""  # no banner: nothing was started
