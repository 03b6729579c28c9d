"""The security review's findings (issue 21), each pinned where it was found: the template, the provider
client's deadline, the identity rule, the sweep's hold on a provider that left the platform list."""

from __future__ import annotations

import json
import re
import threading
import time

import httpx
import pytest

from infra import runtime
from modelconfig.identity import MAX_SUBJECT_LENGTH
from modelconfig.providers import client
from modelconfig.providers.wire import WireRequest
from tests.support.api import Api

# ---- the template: route throttling sized for a shared API, its alarm, the edge layer, the issuer -------------


def resources():
    return runtime.template()["Resources"]


def test_route_throttling_comes_from_parameters_sized_well_above_the_old_shared_100():
    params = runtime.template()["Parameters"]
    settings = resources()["HttpApi"]["Properties"]["DefaultRouteSettings"]
    assert settings == {
        "ThrottlingBurstLimit": {"Ref": "RouteBurstLimit"},
        "ThrottlingRateLimit": {"Ref": "RouteRateLimit"},
    }
    rate, burst = params["RouteRateLimit"]["Default"], params["RouteBurstLimit"]["Default"]
    caller = params["EdgeCallerLimitPerMinute"]["Default"] / 60
    # One caller at its edge allowance uses a fiftieth of a route: starving one takes fifty callers at their cap.
    assert rate / caller >= 50 and burst >= rate


def test_the_stages_own_429s_are_counted_from_the_access_log_and_alarmed():
    log_format = resources()["HttpApi"]["Properties"]["AccessLogSettings"]["Format"]
    assert '"integrationStatus":"$context.integrationStatus"' in log_format
    pattern = resources()["ApiThrottledMetricFilter"]["Properties"]["FilterPattern"]
    assert pattern == '{ ($.status = "429") && ($.integrationStatus = "-") }'  # a function's own 429 has one
    alarm = resources()["ApiThrottledAlarm"]["Properties"]
    transform = resources()["ApiThrottledMetricFilter"]["Properties"]["MetricTransformations"][0]
    assert (alarm["Namespace"], alarm["MetricName"]) == (transform["MetricNamespace"], transform["MetricName"])


def test_the_edge_layer_is_off_by_default_and_limits_each_caller_and_each_ip():
    template = runtime.template()
    assert template["Parameters"]["EdgeLayer"]["Default"] == "Off"
    for name in ("EdgeWebAcl", "EdgeCachePolicy", "EdgeDistribution"):
        assert resources()[name]["Condition"] in ("EdgeOn", "MakeEdgeWebAcl")
    acl = resources()["EdgeWebAcl"]["Properties"]
    assert acl["Scope"] == "CLOUDFRONT"
    caller, ip = (rule["Statement"]["RateBasedStatement"] for rule in acl["Rules"])
    assert caller["CustomKeys"][0]["Header"]["Name"] == "authorization"
    assert caller["Limit"] == {"Ref": "EdgeCallerLimitPerMinute"} and ip["AggregateKeyType"] == "IP"
    body = json.loads(acl["CustomResponseBodies"]["throttled"]["Content"])
    assert body["error"]["name"] == "TooManyRequests"  # the envelope, even from the edge
    assert all(r["Action"]["Block"]["CustomResponse"]["ResponseCode"] == 429 for r in acl["Rules"])
    # The web ACL is made here only in us-east-1; elsewhere the stack must be given one's ARN.
    rule = template["Rules"]["EdgeWebAclOutsideUsEast1"]
    assert rule["Assertions"][0]["Assert"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "EdgeWebAclArn"}, ""]}]}
    behaviour = resources()["EdgeDistribution"]["Properties"]["DistributionConfig"]["DefaultCacheBehavior"]
    cache = resources()["EdgeCachePolicy"]["Properties"]["CachePolicyConfig"]
    assert cache["DefaultTTL"] == 0 and cache["ParametersInCacheKeyAndForwardedToOrigin"]["HeadersConfig"] == {
        "HeaderBehavior": "whitelist",
        "Headers": ["Authorization"],  # the only way CloudFront forwards it; nothing is cached
    }
    assert set(behaviour["AllowedMethods"]) >= {"GET", "PUT", "POST", "DELETE", "OPTIONS"}


@pytest.mark.parametrize(
    ("issuer", "accepted"),
    [
        ("https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC", True),
        ("https://tenant.eu.auth0.com/", True),
        ("http://tenant.eu.auth0.com/", False),
        ("tenant.eu.auth0.com", False),
        ("https://", False),
        ("https://a b", False),
    ],
)
def test_the_jwt_issuer_must_be_an_https_url(issuer, accepted):
    pattern = runtime.template()["Parameters"]["JwtIssuer"]["AllowedPattern"]
    assert bool(re.fullmatch(pattern, issuer)) is accepted  # CloudFormation matches the whole value


# ---- one deadline: httpx's own per-phase default (5 s) never cuts ours short ----------------------------------


class Recorder(httpx.BaseTransport):
    """A transport that records the timeouts each request was sent with, then answers 200."""

    def __init__(self) -> None:
        self.timeouts: list[dict[str, float]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.timeouts.append(request.extensions["timeout"])
        return httpx.Response(200, json={"data": []})


def test_every_phase_of_the_provider_request_gets_the_whole_deadline(monkeypatch):
    recorder = Recorder()
    monkeypatch.setattr(client, "_client", lambda: httpx.Client(transport=recorder))
    request = WireRequest("http://127.0.0.1:9/models", {}, None, lambda doc: "", "GET")
    client.check_key(request, "openai", 12)
    (phases,) = recorder.timeouts
    assert set(phases) == {"connect", "read", "write", "pool"}
    assert all(11.9 <= v <= 12 for v in phases.values()), phases  # was 5.0 each: httpx's default


@pytest.fixture
def slow_provider():
    """A loopback provider that answers after 5.6 s: longer than httpx's per-phase default."""
    from http.server import ThreadingHTTPServer

    from infra.loopback import KeepAliveHandler

    class Slow(KeepAliveHandler):
        def do_GET(self) -> None:
            time.sleep(5.6)
            body = b'{"data": []}'
            self.send_response(200)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_provider_slower_than_five_seconds_is_waited_for_within_a_longer_deadline(slow_provider):
    request = WireRequest(f"{slow_provider}/models", {}, None, lambda doc: "", "GET")
    started = time.monotonic()
    verdict = client.check_key(request, "openai", 8)
    assert verdict == client.KeyVerdict(True, None), verdict  # was "timed out after 8s", after 5.0 s
    assert 5.5 < time.monotonic() - started < 7


def test_a_timeout_names_the_seconds_actually_waited(slow_provider):
    request = WireRequest(f"{slow_provider}/models", {}, None, lambda doc: "", "GET")
    verdict = client.check_key(request, "openai", 0.4)
    assert verdict.error == "timed out after 0.4s"


@pytest.mark.parametrize(
    ("retry_after", "shown"),
    [
        ("7", " (retry after 7s)"),
        ("1e308", " (retry after more than a day)"),
        ("86401", " (retry after more than a day)"),
    ],
)
def test_a_providers_retry_after_is_capped_in_the_message(retry_after, shown):
    message = client.describe_status(429, httpx.Headers({"retry-after": retry_after}), b"", "openai")
    assert message == "rate limited by provider" + shown and len(message) < 60


# ---- one identity rule: 255 characters, at every entry point --------------------------------------------------


def test_http_and_resolve_draw_the_same_line_at_255_characters(aws):
    from modelconfig.schemas import ResolveEvent

    longest, too_long = "é" * MAX_SUBJECT_LENGTH, "é" * (MAX_SUBJECT_LENGTH + 1)
    assert MAX_SUBJECT_LENGTH == 255
    assert Api(longest).put("/api/model-configs/blueprint", {"modelName": "disabled"}).status == 200
    assert Api(too_long).put("/api/model-configs/blueprint", {"modelName": "disabled"}).status == 401
    resolve = runtime.handler(runtime.function("ResolveFunction"))
    fn = runtime.function("ResolveFunction")
    ok = resolve({"userId": longest, "agentActions": ["blueprint"]}, runtime.Context(fn))
    assert ok["resolved"]["blueprint"]["model"] == "disabled"  # what HTTP stored, inference can resolve
    refused = resolve({"userId": too_long, "agentActions": ["blueprint"]}, runtime.Context(fn))
    assert refused["error"]["name"] == "ValidationError"
    with pytest.raises(ValueError, match="userId"):
        ResolveEvent.model_validate({"userId": too_long, "agentActions": ["blueprint"]})
