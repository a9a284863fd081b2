"""The library names the usual copy-paste mistakes in its malformed-token message."""

from __future__ import annotations

from typing import Any

import pytest

from cognito_verify import MalformedTokenError
from cognito_verify.testing import LocalUserPool


@pytest.mark.parametrize(
    ("shape", "hint"),
    [
        ("Bearer {t}", "starts with 'Bearer '"),
        ("bearer {t}", "starts with 'Bearer '"),
        ('"{t}"', "wrapped in quotes"),
        ("'{t}'", "wrapped in quotes"),
        ('{t}"', "starts or ends with a quote"),
        ("{t}\n", "surrounding whitespace or a newline"),
        (" {t}", "surrounding whitespace or a newline"),
        ("{a}\n{b}", "contains whitespace"),
    ],
)
def test_malformed_token_message_names_the_mistake(
    shape: str, hint: str, pool: LocalUserPool, verify: Any
) -> None:
    token = pool.access_token()
    value = shape.format(t=token, a=token[:30], b=token[30:])
    with pytest.raises(MalformedTokenError) as info:
        verify(pool.verifier(token_use="access"), value)
    assert hint in info.value.message
    assert token[:20] not in info.value.message  # never the token itself


def test_no_hint_for_plain_garbage(pool: LocalUserPool, verify: Any) -> None:
    with pytest.raises(MalformedTokenError) as info:
        verify(pool.verifier(token_use="access"), "abc")
    assert info.value.message == "the token has 1 segment(s); a signed JWT has exactly 3"
