"""The shared HTTP rules of integrations/_http.py, on their own: token extraction and its
copy-paste hints, challenges, Cache-Control, path exclusions, the optional flag."""

from __future__ import annotations

import logging

import pytest

from cognito_verify import errors
from cognito_verify.integrations._http import (
    ExcludedPaths,
    bearer_token,
    json_default,
    optional_flag,
    refusal,
    scope_challenge,
)


@pytest.mark.parametrize(
    ("value", "hint"),
    [
        ("Bearer Bearer abc.def.ghi", "says 'Bearer' twice"),
        ("Bearer bearer abc.def.ghi", "says 'Bearer' twice"),
        ('Bearer "abc.def.ghi"', "wrapped in quotes"),
        ("Bearer 'abc.def.ghi'", "wrapped in quotes"),
        ("Bearer abc.def.ghi, Bearer x.y.z", "several values"),
        ("Bearer abc.def .ghi", "whitespace"),
        ("Bearer abc.def\t.ghi", "whitespace"),
    ],
)
def test_copy_paste_mistakes_are_named(value: str, hint: str) -> None:
    with pytest.raises(errors.MalformedTokenError) as info:
        bearer_token(value)
    assert hint in info.value.message
    assert "abc" not in info.value.message  # the token is never quoted back


@pytest.mark.parametrize("value", [None, "", "Basic YTpi", "Bearer", "Bearer   "])
def test_no_bearer_token_is_missing(value: str | None) -> None:
    with pytest.raises(errors.MissingTokenError):
        bearer_token(value)


def test_surrounding_whitespace_and_newline_are_forgiven() -> None:
    assert bearer_token("  Bearer abc.def.ghi \r\n") == "abc.def.ghi"


def test_every_refusal_is_no_store() -> None:
    for name in errors.__all__:
        answer = refusal(getattr(errors, name)("x"))
        assert answer.headers["Cache-Control"] == "no-store", name


def test_scope_challenge_names_the_scopes() -> None:
    exc = errors.MissingScopeError("x", scopes=["orders-api/orders.read", "admin"])
    assert refusal(exc).headers["WWW-Authenticate"] == (
        'Bearer error="insufficient_scope", scope="orders-api/orders.read admin"'
    )
    # A scope that would break out of the quoted string is not named.
    assert scope_challenge(['a"b', "c\\d", "ok"]) == 'Bearer error="insufficient_scope", scope="ok"'
    assert scope_challenge([]) == 'Bearer error="insufficient_scope"'


def test_misconfiguration_is_logged_with_its_message(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="cognito_verify"):
        answer = refusal(errors.ConfigurationError("COGNITO_VERIFY needs CLIENT_ID"))
    assert answer.status == 500 and answer.body["message"] == "Authentication is misconfigured."
    assert "needs CLIENT_ID" in caplog.text


@pytest.mark.parametrize(
    ("path", "excluded"),
    [
        ("/health", True),
        ("/health/", True),
        ("//health", False),  # not in normal form: never excluded
        ("/./health", False),
        ("/health/../admin", False),
        ("/healthz", False),
        ("/health/deep", False),
        ("/static", True),
        ("/static/", True),
        ("/static/app.css", True),
        ("/static/../admin", False),
        ("/staticfiles", False),
        ("/", False),
    ],
)
def test_one_path_rule(path: str, excluded: bool) -> None:
    assert ExcludedPaths(["/health", "/static/"])(path) is excluded


def test_path_rule_arguments() -> None:
    with pytest.raises(TypeError):
        ExcludedPaths("/health")
    with pytest.raises(ValueError):
        ExcludedPaths(["health"])
    assert not ExcludedPaths([])("/anything")


def test_optional_flag_and_its_deprecated_spelling() -> None:
    assert optional_flag(True, None) is True
    with pytest.warns(DeprecationWarning, match="optional=True"):
        assert optional_flag(False, False) is True
    with pytest.warns(DeprecationWarning), pytest.raises(TypeError):
        optional_flag(True, True)
    with pytest.raises(TypeError):
        optional_flag("yes", None)  # type: ignore[arg-type]


def test_json_default() -> None:
    assert json_default(frozenset({"b", "a"})) == ["a", "b"]
    assert json_default(object()) is NotImplemented
