"""Key previews and key validation (SPEC section 4, keyPreview; section 5, key patterns)."""

import pytest

from modelconfig.errors import InvalidInput
from modelconfig.keys import validate_key
from modelconfig.records import preview
from modelconfig.storage.secrets import encode_user_id


@pytest.mark.parametrize(
    ("key", "shown"),
    [
        ("sk-0123456789", "sk****89"),  # 13 chars: 2 each side
        ("sk-ant-" + "a" * 13 + "WXYZ", "sk-a****WXYZ"),  # 24 chars: 4 each side
        ("sk-ant-" + "a" * 10 + "WXYZ", "sk-****XYZ"),
        ("sk-ant-api03-0123456789abcdefghij", "sk-a****ghij"),  # 33 chars: still 4, never more
        ("short", "****"),
    ],
)
def test_preview(key, shown):
    assert preview(key) == shown


def test_preview_never_shows_more_than_a_third_or_the_length():
    for length in range(1, 600):
        key = "k" * length
        shown = preview(key).replace("****", "")
        assert len(shown) <= length / 3
    assert len(preview("sk-" + "x" * 40)) == len(preview("sk-" + "x" * 400))


def test_validate_key_strips_and_checks_the_pattern_without_echoing_the_key():
    assert validate_key("openai", "  sk-0123456789\n") == "sk-0123456789"
    secret = "AIza-not-long-enough"
    with pytest.raises(InvalidInput) as caught:
        validate_key("google-ai-studio", secret)
    assert secret not in caught.value.message
    assert "AIza" in caught.value.message
    with pytest.raises(InvalidInput):
        validate_key("openai", "sk-0123456789 with space")
    assert validate_key("openai", "sk-" + "x" * 509) == "sk-" + "x" * 509  # 512 characters: the most allowed
    with pytest.raises(InvalidInput) as too_long:
        validate_key("openai", "sk-" + "x" * 510)
    assert too_long.value.message == "apiKey: at most 512 characters"
    with pytest.raises(InvalidInput) as not_ascii:
        validate_key("openai", "sk-0123456789\u00e9")
    assert not_ascii.value.message == "apiKey: only printable ASCII characters without spaces"


def test_secret_name_encoding_is_one_to_one_and_stays_in_the_prefix():
    ids = ["auth0|123", "auth0=7C123", "a/b", "a=2Fb", "../x", "é", "=C3=A9", "plain-id_1.2@x+y"]
    encoded = [encode_user_id(i) for i in ids]
    assert len(set(encoded)) == len(ids)
    assert encode_user_id("auth0|123") == "auth0=7C123"
    assert encode_user_id("plain-id_1.2@x+y") == "plain-id_1.2@x+y"
    for name in encoded:
        assert "/" not in name
        assert all(c.isalnum() or c in "_+=.@-" for c in name)


def test_the_key_lease_outlives_the_key_functions_timeout():
    """A lease can only be taken over from a writer that is gone: it must outlast the functions that hold it."""
    from infra import runtime
    from modelconfig.storage import keystore

    for logical_id in ("PutKeyFunction", "DeleteKeyFunction"):
        assert runtime.function(logical_id).timeout + 5 < keystore.LEASE_SECONDS
