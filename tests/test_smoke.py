from __future__ import annotations

from collections.abc import Callable

import pytest

from cognito_verify import Claims, CognitoVerifier, InvalidTokenUseError
from cognito_verify.testing import LocalUserPool


def test_access_token_round_trip(pool: LocalUserPool, verify: Callable[..., Claims]) -> None:
    verifier = pool.verifier(token_use="access", clock=pool.clock)
    claims = verify(verifier, pool.access_token("bob", groups=["admin"]))
    assert claims.username == "bob"
    assert claims.groups == {"admin"}
    with pytest.raises(InvalidTokenUseError):
        verify(verifier, pool.id_token("bob"))


def test_jwks_over_http(pool: LocalUserPool, verify: Callable[..., Claims]) -> None:
    with pool.serve() as server:
        verifier = CognitoVerifier(
            pool.user_pool_id,
            client_id=pool.client_id,
            token_use="id",
            jwks_url=server.jwks_url,
            clock=pool.clock,
        )
        assert verify(verifier, pool.id_token("carol")).username == "carol"
        assert server.request_count == 1
