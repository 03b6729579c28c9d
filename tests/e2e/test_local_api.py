"""`make run`'s server as a client sees it: a real process on a free loopback port, driven over HTTP."""

import base64
import json

from infra.local_api import sample_token

PRO = "google-ai-studio/gemini-2.5-pro"


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
    for method, path in (("GET", "/nope"), ("POST", "/api/model-configs"), ("GET", "/api/model-configs/a/b")):
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


def test_cors_preflight(server):
    reply = server.options("/api/model-configs", headers={"origin": "http://localhost:5173"})
    assert reply.status_code == 204
    assert reply.headers["access-control-allow-origin"] == "*"
    assert "authorization" in reply.headers["access-control-allow-headers"]
