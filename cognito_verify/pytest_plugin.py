"""A pytest plugin (registered through the ``pytest11`` entry point) for testing your
own protected routes with tokens minted by a local user pool, fully offline.

Fixtures, all prefixed ``cognito_`` so they do not clash with yours:

* ``cognito_pool``: a fresh ``LocalUserPool`` per test (the RSA key is shared by the
  session, so it costs nothing);
* ``cognito_verifier``: a ``CognitoVerifier`` for that pool, keys in memory, whose
  clock follows ``cognito_pool.clock``;
* ``cognito_headers``: ``cognito_headers("alice", groups=["admin"])`` returns
  ``{"Authorization": "Bearer <token>"}`` with a token of the configured use;
* ``cognito_token_use``: ``"access"`` unless ``@pytest.mark.cognito(token_use="id")``
  says otherwise; override the fixture to change it for a whole module.

``@pytest.mark.cognito(user_pool_id=..., client_ids=[...], token_use=...)`` configures
them per test. Nothing here touches the network.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from ._pool import TokenUse
from .testing import LocalUserPool
from .verifier import CognitoVerifier

__all__ = ["DEFAULT_CLIENT_ID", "DEFAULT_USER_POOL_ID"]

DEFAULT_USER_POOL_ID = "us-east-1_TestPool1"
DEFAULT_CLIENT_ID = "test-client-id"
_MARKER = "cognito"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{_MARKER}(user_pool_id=..., client_ids=[...], token_use=...): configure the "
        "cognito_pool / cognito_verifier fixtures of cognito-verify",
    )


def _marker_options(request: pytest.FixtureRequest) -> dict[str, Any]:
    marker = request.node.get_closest_marker(_MARKER)
    if marker is None:
        return {}
    if marker.args:
        pytest.fail("@pytest.mark.cognito takes keyword arguments only", pytrace=False)
    unknown = set(marker.kwargs) - {"user_pool_id", "client_ids", "token_use"}
    if unknown:
        pytest.fail(f"@pytest.mark.cognito: unknown option(s) {sorted(unknown)}", pytrace=False)
    return dict(marker.kwargs)


@pytest.fixture(scope="session")
def _cognito_signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def cognito_token_use(request: pytest.FixtureRequest) -> TokenUse | None:
    """The ``token_use`` the verifier accepts: ``"access"`` unless the marker says."""
    value: TokenUse | None = _marker_options(request).get("token_use", "access")
    return value


@pytest.fixture
def cognito_pool(
    request: pytest.FixtureRequest, _cognito_signing_key: rsa.RSAPrivateKey
) -> LocalUserPool:
    """A ``LocalUserPool`` of its own for this test (rotate keys, move its clock freely)."""
    options = _marker_options(request)
    client_ids = options.get("client_ids", (DEFAULT_CLIENT_ID,))
    return LocalUserPool(
        options.get("user_pool_id", DEFAULT_USER_POOL_ID),
        (client_ids,) if isinstance(client_ids, str) else tuple(client_ids),
        key=_cognito_signing_key,
    )


@pytest.fixture
def cognito_verifier(
    cognito_pool: LocalUserPool, cognito_token_use: TokenUse | None
) -> CognitoVerifier:
    """A verifier for ``cognito_pool`` with its keys in memory (no HTTP).

    Its clock reads ``cognito_pool.clock`` on each call, so setting
    ``cognito_pool.clock = lambda: later`` expires tokens without sleeping.
    """
    return cognito_pool.verifier(token_use=cognito_token_use, clock=lambda: cognito_pool.clock())


@pytest.fixture
def cognito_headers(
    cognito_pool: LocalUserPool, cognito_token_use: TokenUse | None
) -> Callable[..., dict[str, str]]:
    """``cognito_headers(username="alice", *, groups=(), scopes=None, **claims_options)``
    -> an ``Authorization`` header carrying a fresh token of the configured use."""

    def headers(
        username: str = "alice",
        *,
        groups: Sequence[str] = (),
        scopes: Sequence[str] | None = None,
        **options: Any,
    ) -> dict[str, str]:
        if cognito_token_use == "id":
            if scopes is not None:
                raise TypeError("ID tokens carry no scopes; use token_use='access'")
            token = cognito_pool.id_token(username, groups=groups, **options)
        else:
            if scopes is not None:
                options["scopes"] = scopes
            token = cognito_pool.access_token(username, groups=groups, **options)
        return {"Authorization": f"Bearer {token}"}

    return headers
