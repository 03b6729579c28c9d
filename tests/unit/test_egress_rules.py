"""The egress guard's rules on their own (SPEC section 13): which addresses are public, how a URL is read, the
operator's allowlist, and a custom model id's shape. The guard under attack, end to end, is in
tests/integration/test_custom_providers.py."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from modelconfig.catalog import CATALOG
from modelconfig.providers import egress
from modelconfig.records import split_custom
from modelconfig.schemas import UpdateBody
from modelconfig.settings import from_environment, settings

pytestmark = pytest.mark.unit

TABLE = {"TABLE_NAME": "configs", "AUDIT_TABLE_NAME": "audit"}


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", "1.1.1.1", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"],
)
def test_public_addresses_pass_even_wrapped(address):
    assert egress.refusal(address) is None


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("127.8.9.10", "loopback"),
        ("10.255.0.1", "private"),
        ("100.127.255.254", "carrier-grade NAT"),
        ("169.254.0.1", "link-local"),
        ("239.255.255.250", "multicast"),
        ("255.255.255.255", "reserved"),
        ("198.18.0.1", "private"),  # benchmarking, not globally reachable
        ("192.0.2.1", "private"),  # documentation
        ("64:ff9b:1::a00:1", "private"),  # local-use NAT64 of 10.0.0.1
        ("::ffff:0:0", "unspecified"),  # mapped 0.0.0.0
        ("2001:0:4136:e378:8000:63bf:f5ff:fffe", "private"),  # Teredo, client 10.0.0.1
        ("fe80::1%eth0", "link-local"),  # with a zone
        ("not-an-address", "cannot be read"),
    ],
)
def test_inside_addresses_are_refused_by_category(address, why):
    found = egress.refusal(address)
    assert found is not None and why in found


def test_one_refused_address_refuses_the_host_and_the_message_names_no_address():
    with pytest.raises(egress.Refused) as refused:
        egress.judge(["8.8.8.8", "10.1.2.3"])
    assert "private" in str(refused.value) and "10.1.2.3" not in str(refused.value)


def test_a_url_is_read_once_and_normalised(monkeypatch):
    assert str(egress.parse("https://LLM.Example.com/v1/")) == "https://llm.example.com/v1"
    assert str(egress.parse("  https://llm.example.com:8443  ")) == "https://llm.example.com:8443"
    assert egress.port_of(egress.parse("https://h.example")) == 443


def test_the_operators_allowlist_by_host_or_host_and_port(monkeypatch):
    for name, value in (TABLE | {"CUSTOM_PROVIDER_ALLOWED_HOSTS": "vllm.corp, 127.0.0.1:8080,[::1]"}).items():
        monkeypatch.setenv(name, value)
    settings.cache_clear()
    try:
        assert egress.allowlisted(egress.parse("http://vllm.corp:9000/v1"))
        assert egress.allowlisted(egress.parse("http://127.0.0.1:8080/v1"))
        assert not egress.allowlisted(egress.parse("https://127.0.0.1:8081/v1"))
        assert egress.allowlisted_host("::1", 5)
        with pytest.raises(egress.Refused):
            egress.parse("http://127.0.0.1:8081/v1")  # plain http, and not listed for that port
        egress.judge_literal(egress.parse("http://127.0.0.1:8080/v1"))  # listed: any address
    finally:
        monkeypatch.undo()
        settings.cache_clear()


def test_the_allowlist_setting_refuses_a_url_for_a_host():
    assert from_environment(TABLE).custom_provider_allowed_hosts == frozenset()
    assert from_environment(TABLE).custom_provider_limit == 10
    with pytest.raises(ValidationError, match="no scheme, no path"):
        from_environment(TABLE | {"CUSTOM_PROVIDER_ALLOWED_HOSTS": "https://vllm.corp/v1"})


def test_a_custom_model_id_is_accepted_by_shape_only():
    assert UpdateBody(modelName="custom/lab/meta-llama/llama-3.1:free").modelName.startswith("custom/lab/")
    for bad in ("custom/Lab/m", "custom/lab/", "custom//m", "custom/lab/\u0007", "custom/" + "a" * 33 + "/m"):
        with pytest.raises(ValidationError):
            UpdateBody(modelName=bad)
    assert split_custom("custom/lab/a/b") == ("lab", "a/b") and split_custom("openai/gpt-5") is None


def test_only_actions_that_allow_any_model_take_custom_models():
    allowing = sorted(a.key for a in CATALOG.actions.values() if a.allows("custom/lab/m"))
    assert allowing == sorted(a.key for a in CATALOG.actions.values() if a.constraint is None or a.constraint.any_model)
    assert "phaseGeneration" in allowing and "templateSelection" not in allowing
