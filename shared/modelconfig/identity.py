"""The one identity rule (SPEC section 2), for every entry point that takes a user id: HTTP (the JWT `sub`),
resolve, and whatever comes next. No user can store what another entry point refuses."""

from __future__ import annotations

from typing import Any

MAX_SUBJECT_LENGTH = 255  # OIDC's limit for `sub`


def is_subject(value: Any) -> bool:
    """A printable, non-blank string of at most 255 characters, in any script."""
    return isinstance(value, str) and bool(value.strip()) and len(value) <= MAX_SUBJECT_LENGTH and value.isprintable()
