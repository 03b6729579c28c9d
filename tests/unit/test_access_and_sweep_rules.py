"""The access rule's denials, the sweep's request parsing and its breaker, with literal expected values."""

import pytest

from modelconfig import access, sweep
from modelconfig.access import Denial, Grants
from modelconfig.catalog import CATALOG
from modelconfig.errors import InvalidInput
from modelconfig.records import Checkpoint
from tests.support.constants import OPUS

BLUEPRINT = CATALOG.actions["blueprint"]
SELECTION = CATALOG.actions["templateSelection"]


def test_each_denial_names_its_reason_and_says_why():
    no_keys = Grants((), platform=lambda: ())
    assert access.denial(None, OPUS, no_keys) == Denial(
        "action_not_in_catalog", "the agent action is no longer in the catalog"
    )
    assert access.denial(BLUEPRINT, "openai/gpt-4-retired", no_keys, "fallback") == Denial(
        "fallback_not_in_catalog", "fallback 'openai/gpt-4-retired' is no longer in the catalog"
    )
    assert access.denial(SELECTION, OPUS, no_keys) == Denial(
        "model_not_allowed", f"model '{OPUS}' is not allowed for templateSelection"
    )
    assert access.denial(BLUEPRINT, OPUS, no_keys) == Denial(
        "model_no_key_access", "no API key for provider 'anthropic'", "anthropic"
    )
    assert access.denial(BLUEPRINT, OPUS, Grants({"anthropic"}, platform=lambda: ())) is None
    assert access.denial(BLUEPRINT, None, no_keys) is None


def test_a_fallback_without_access_is_refused_after_a_usable_model():
    grants = Grants((), platform=lambda: {"google-ai-studio"})
    with pytest.raises(access.AccessDenied) as refused:
        access.require(BLUEPRINT, ("google-ai-studio/gemini-2.5-pro", "grok/grok-4-fast"), grants)
    assert "provider 'grok'" in refused.value.message
    access.require(BLUEPRINT, ("google-ai-studio/gemini-2.5-pro", None), grants)  # nothing to refuse


@pytest.mark.parametrize(
    ("event", "run_id", "users", "force"),
    [
        ("not an object", "ctx", None, False),
        ({}, "ctx", None, False),
        ({"force": True}, "ctx", None, True),
        ({"detail": {"force": True}, "id": "evt"}, "evt", None, True),
        ({"detail": {"userIds": ["only-one"]}}, "ctx", ("only-one",), False),
        ({"userIds": [f"u{n}" for n in range(1000)]}, "ctx", tuple(f"u{n}" for n in range(1000)), False),
        ({"runId": "r" * 300, "continuation": True}, "r" * 200, None, False),  # ids are cut to 200
    ],
)
def test_sweep_requests(event, run_id, users, force):
    request = sweep.parse_request(event, "ctx")
    assert (request.run_id, request.user_ids, request.force) == (run_id, users, force)


def test_more_than_a_thousand_targeted_users_is_refused_with_the_bounds():
    with pytest.raises(InvalidInput) as refused:
        sweep.parse_request({"userIds": ["u"] * 1001}, "ctx")
    assert refused.value.message == "userIds must be a list of 1 to 1000 non-empty user id strings"


@pytest.mark.parametrize(
    ("scanned", "applied", "held"), [(100, 49, False), (100, 50, True), (1000, 99, False), (1000, 100, True)]
)
def test_the_breaker_holds_access_resets_past_50_or_a_tenth_of_what_was_scanned(scanned, applied, held):
    checkpoint = Checkpoint(run_id="r", scanned=scanned, reset_by_reason={"model_no_key_access": applied})
    sweeper = sweep._Sweeper(checkpoint, frozenset({"google-ai-studio"}))
    assert sweeper._hold_access_resets() is held
    assert sweep._Sweeper(checkpoint, None)._hold_access_resets() is True  # platform unreadable: hold all
