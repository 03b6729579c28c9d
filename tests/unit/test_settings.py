"""Settings from the environment (SPEC section 6): every variable, its default, its bounds. Given an
environment, when the settings are read, then each field is what the variable said, or its one default."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from modelconfig.settings import VARIABLES, Settings, from_environment

pytestmark = pytest.mark.unit

TABLE = {"TABLE_NAME": "configs", "AUDIT_TABLE_NAME": "audit"}


def test_defaults_are_the_contracts():
    s = from_environment(TABLE)
    assert (s.model_test_timeout_seconds, s.key_verify_timeout_seconds) == (20.0, 5.0)
    assert (s.test_limit_per_minute, s.platform_test_limit_per_day, s.key_write_limit_per_minute) == (10, 100, 10)
    assert s.platform_keys_max_age_seconds == 300
    assert s.audit_retention_days == 400
    assert (s.user_secret_prefix, s.platform_keys_secret_id, s.platform_model_providers) == (
        "model-config/byok/",
        None,
        None,
    )
    assert s.base_urls == {
        "openai": "https://api.openai.com/v1",
        "anthropic": "https://api.anthropic.com",
        "google-ai-studio": "https://generativelanguage.googleapis.com",
        "grok": "https://api.x.ai/v1",
    }


def test_every_field_but_the_base_urls_has_its_variable():
    assert set(VARIABLES) == set(Settings.model_fields) - {"base_urls"}
    assert len(set(VARIABLES.values())) == len(VARIABLES)


@pytest.mark.parametrize(
    ("name", "raw", "field", "value"),
    [
        ("TABLE_NAME", "other-table", "table_name", "other-table"),
        ("AUDIT_TABLE_NAME", "other-audit", "audit_table_name", "other-audit"),
        ("AUDIT_RETENTION_DAYS", "30", "audit_retention_days", 30),
        ("USER_SECRET_PREFIX", "keys/", "user_secret_prefix", "keys/"),
        ("PLATFORM_KEYS_SECRET_ID", "arn:aws:secretsmanager:x", "platform_keys_secret_id", "arn:aws:secretsmanager:x"),
        ("PLATFORM_MODEL_PROVIDERS", " openai, grok ,", "platform_model_providers", ("openai", "grok")),
        ("MODEL_TEST_TIMEOUT_SECONDS", "12.5", "model_test_timeout_seconds", 12.5),
        ("KEY_VERIFY_TIMEOUT_SECONDS", "8", "key_verify_timeout_seconds", 8.0),
        ("PLATFORM_KEYS_MAX_AGE_SECONDS", "60", "platform_keys_max_age_seconds", 60),
        ("TEST_LIMIT_PER_MINUTE", "3", "test_limit_per_minute", 3),
        ("PLATFORM_TEST_LIMIT_PER_DAY", "7", "platform_test_limit_per_day", 7),
        ("KEY_WRITE_LIMIT_PER_MINUTE", "2", "key_write_limit_per_minute", 2),
    ],
)
def test_each_variable_sets_its_field(name, raw, field, value):
    assert getattr(from_environment(TABLE | {name: raw}), field) == value


@pytest.mark.parametrize("name", [n for n in VARIABLES.values() if n not in ("TABLE_NAME", "AUDIT_TABLE_NAME")])
def test_an_empty_variable_leaves_the_default(name):
    assert from_environment(TABLE | {name: ""}) == from_environment(TABLE)


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("TABLE_NAME", "ab"),
        ("AUDIT_TABLE_NAME", "ab"),
        ("AUDIT_RETENTION_DAYS", "0"),
        ("AUDIT_RETENTION_DAYS", "3651"),
        ("MODEL_TEST_TIMEOUT_SECONDS", "0"),
        ("MODEL_TEST_TIMEOUT_SECONDS", "301"),
        ("KEY_VERIFY_TIMEOUT_SECONDS", "61"),
        ("PLATFORM_KEYS_MAX_AGE_SECONDS", "301"),  # the contract caches platform keys at most 5 minutes
        ("PLATFORM_KEYS_MAX_AGE_SECONDS", "-1"),
        ("TEST_LIMIT_PER_MINUTE", "0"),
        ("PLATFORM_TEST_LIMIT_PER_DAY", "lots"),
        ("KEY_WRITE_LIMIT_PER_MINUTE", "100001"),
        ("PLATFORM_MODEL_PROVIDERS", "openai,nope"),
    ],
)
def test_a_value_out_of_bounds_is_refused_naming_its_field(name, raw):
    field = next(f for f, n in VARIABLES.items() if n == name)
    with pytest.raises(ValidationError, match=field):
        from_environment(TABLE | {name: raw})


def test_no_table_is_refused():
    with pytest.raises(ValidationError, match="table_name"):
        from_environment({})


def test_a_base_url_comes_from_its_variable_without_a_trailing_slash():
    s = from_environment(TABLE | {"OPENAI_BASE_URL": "http://127.0.0.1:9/v1/", "GROK_BASE_URL": ""})
    assert s.base_urls["openai"] == "http://127.0.0.1:9/v1"
    assert s.base_urls["grok"] == "https://api.x.ai/v1"  # empty: the default
