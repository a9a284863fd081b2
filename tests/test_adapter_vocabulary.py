"""One vocabulary across adapters: the verb ``required``, ``optional=True``, the same
constructor checks, and the old spellings as deprecated aliases."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from cognito_verify.testing import LocalUserPool


def _flask(v: Any, **kw: Any) -> Any:
    from cognito_verify.integrations.flask import CognitoAuth

    return CognitoAuth(v).required(**kw)


def _fastapi(v: Any, **kw: Any) -> Any:
    from cognito_verify.integrations.fastapi import CognitoAuth

    return CognitoAuth(v).required(**kw)


def _starlette(v: Any, **kw: Any) -> Any:
    from cognito_verify.integrations.starlette import CognitoAuthBackend

    return CognitoAuthBackend(v).required(**kw)


def _django(v: Any, **kw: Any) -> Any:
    from cognito_verify.integrations.django import cognito_required

    return cognito_required(**kw)


def _asgi(v: Any, **kw: Any) -> Any:
    from cognito_verify.integrations.asgi import CognitoASGIMiddleware

    return CognitoASGIMiddleware(lambda *a: None, v, **kw)  # type: ignore[arg-type,return-value]


def _wsgi(v: Any, **kw: Any) -> Any:
    from cognito_verify.integrations.wsgi import CognitoWSGIMiddleware

    return CognitoWSGIMiddleware(lambda *a: [], v, **kw)


def _lambda(v: Any, **kw: Any) -> Any:
    from cognito_verify.integrations.aws_lambda import LambdaAuth

    return LambdaAuth(v).required(**kw)


def _powertools(v: Any, **kw: Any) -> Any:
    from cognito_verify.integrations.powertools import CognitoAuthMiddleware

    return CognitoAuthMiddleware(v, **kw)


ADAPTERS: dict[str, Callable[..., Any]] = {
    "flask": _flask,
    "fastapi": _fastapi,
    "starlette": _starlette,
    "django": _django,
    "asgi": _asgi,
    "wsgi": _wsgi,
    "aws_lambda": _lambda,
    "powertools": _powertools,
}


def _litestar(v: Any, **kw: Any) -> Any:
    from cognito_verify.integrations.litestar import CognitoAuth

    return CognitoAuth(verifier=v).required(**kw)


def _mcp(v: Any, **kw: Any) -> Any:
    from cognito_verify.integrations.mcp import CognitoTokenVerifier

    return CognitoTokenVerifier(v).required(**kw)


# Per-route requirements where optional access is configured elsewhere (Litestar's
# cognito_optional opt key; an MCP tool is never anonymous). Django Ninja's classes
# need configured Django settings: tests/test_integrations_ninja.py checks them.
REQUIREMENTS_ONLY: dict[str, Callable[..., Any]] = {
    "litestar": _litestar,
    "mcp": _mcp,
}


@pytest.fixture
def verifier(pool: LocalUserPool) -> Any:
    return pool.verifier(token_use="access")


@pytest.mark.parametrize("name", ADAPTERS)
def test_same_keywords_everywhere(name: str, verifier: Any) -> None:
    build = ADAPTERS[name]
    assert build(verifier, groups="admin", all_scopes=["a", "b"], optional=True) is not None
    assert build(verifier, scopes=["a"], all_groups="ops", optional=False) is not None


@pytest.mark.parametrize("name", [*ADAPTERS, *REQUIREMENTS_ONLY])
def test_requirement_keywords_everywhere(name: str, verifier: Any) -> None:
    build = {**ADAPTERS, **REQUIREMENTS_ONLY}[name]
    assert build(verifier, groups="admin", all_groups=["a"], scopes="s", all_scopes=["t"])
    assert build(verifier, max_auth_age=300) is not None


@pytest.mark.parametrize("name", [*ADAPTERS, *REQUIREMENTS_ONLY])
@pytest.mark.parametrize("bad", [{"groups": [1]}, {"all_scopes": 3}, {"max_auth_age": "300"}])
def test_same_requirement_checks_at_construction(
    name: str, bad: dict[str, Any], verifier: Any
) -> None:
    with pytest.raises(TypeError):
        {**ADAPTERS, **REQUIREMENTS_ONLY}[name](verifier, **bad)


@pytest.mark.parametrize("name", ADAPTERS)
@pytest.mark.parametrize(
    "bad", [{"groups": [1]}, {"scopes": 3}, {"all_groups": [None]}, {"optional": "yes"}]
)
def test_same_checks_at_construction(name: str, bad: dict[str, Any], verifier: Any) -> None:
    with pytest.raises(TypeError):
        ADAPTERS[name](verifier, **bad)


@pytest.mark.parametrize("name", ["flask", "fastapi", "starlette", "asgi", "wsgi"])
def test_a_verifier_is_required(name: str) -> None:
    with pytest.raises(TypeError):
        ADAPTERS[name]("eu-west-1_AbCdEf123")


def test_old_spellings_are_deprecated_aliases(verifier: Any) -> None:
    from cognito_verify.integrations.asgi import CognitoASGIMiddleware
    from cognito_verify.integrations.fastapi import CognitoAuth
    from cognito_verify.integrations.starlette import CognitoAuthBackend
    from cognito_verify.integrations.wsgi import CognitoWSGIMiddleware

    with pytest.warns(DeprecationWarning, match="auth.required"):
        CognitoAuth(verifier).require(groups="admin")
    with pytest.warns(DeprecationWarning, match="backend.required"):
        CognitoAuthBackend(verifier).require(groups="admin")
    with pytest.warns(DeprecationWarning, match="optional=True"):
        assert CognitoASGIMiddleware(lambda *a: None, verifier, require=False).optional  # type: ignore[arg-type]
    with pytest.warns(DeprecationWarning, match="optional=True"):
        assert CognitoWSGIMiddleware(lambda *a: [], verifier, require=False).optional
