"""LocalUserPool: Cognito-shaped tokens, key rotation, and its JWKS as a dict, an
httpx.MockTransport and a real loopback HTTP server."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from conftest import NOW, Clock

from cognito_verify import (
    Claims,
    CognitoVerifier,
    InvalidSignatureError,
    TokenExpiredError,
    UnknownKeyError,
)
from cognito_verify.testing import JWKSServer, LocalUserPool, b64url, encode_token

Verify = Callable[..., Claims]


def decode(segment: str) -> dict[str, Any]:
    return dict(json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))))


def parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    h, p, _ = token.split(".")
    return decode(h), decode(p)


def test_id_token_has_the_cognito_shape(pool: LocalUserPool) -> None:
    header, payload = parts(pool.id_token("alice", groups=["admin"]))
    assert header == {"kid": pool.kid, "alg": "RS256"}
    assert payload["iss"] == "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TestPool1"
    assert payload["token_use"] == "id"
    assert payload["aud"] == pool.client_id == "client-a"
    assert payload["cognito:username"] == "alice"
    assert payload["cognito:groups"] == ["admin"]
    assert payload["email"] == "alice@example.com" and payload["email_verified"] is True
    assert payload["iat"] == payload["auth_time"] == int(NOW)
    assert payload["exp"] == int(NOW) + 3600
    assert {"jti", "origin_jti", "event_id", "sub"} <= set(payload)
    assert "client_id" not in payload and "scope" not in payload and "username" not in payload


def test_access_token_has_the_cognito_shape(pool: LocalUserPool) -> None:
    _, payload = parts(pool.access_token("bob", scopes=["openid", "orders/read"]))
    assert payload["token_use"] == "access"
    assert "aud" not in payload
    assert payload["client_id"] == pool.client_id
    assert payload["username"] == "bob"
    assert payload["scope"] == "openid orders/read"
    assert payload["version"] == 2
    assert "cognito:username" not in payload
    assert "cognito:groups" not in payload  # absent, not empty, when in no group
    # The same user has the same sub in both kinds of token.
    assert payload["sub"] == parts(pool.id_token("bob"))[1]["sub"]


def test_client_credentials_token_has_the_cognito_shape(pool: LocalUserPool) -> None:
    _, payload = parts(pool.client_credentials_token(client_id="machine-1"))
    assert payload["token_use"] == "access"
    assert payload["sub"] == payload["client_id"] == "machine-1"
    assert "username" not in payload and "cognito:groups" not in payload
    assert "aud" not in payload and "auth_time" not in payload
    assert payload["scope"] == "orders-api/orders.read"


def test_claims_override_and_omit(pool: LocalUserPool) -> None:
    _, payload = pool_parts = parts(
        pool.access_token(claims={"exp": 5, "custom:tenant": "t"}, omit=["jti", "version"])
    )
    assert pool_parts
    assert payload["exp"] == 5 and payload["custom:tenant"] == "t"
    assert "jti" not in payload and "version" not in payload
    _, payload = parts(pool.id_token(email=None, lifetime=60, client_id="client-b"))
    assert "email" not in payload and payload["exp"] == int(NOW) + 60
    assert payload["aud"] == "client-b"


def test_tokens_follow_the_pool_clock(pool: LocalUserPool, clock: Clock) -> None:
    clock.advance(100)
    assert parts(pool.access_token())[1]["iat"] == int(NOW) + 100


def test_jwks_is_public_and_cognito_like(pool: LocalUserPool) -> None:
    jwks = pool.jwks
    assert [k["kid"] for k in jwks["keys"]] == [pool.kid]
    (jwk,) = jwks["keys"]
    assert set(jwk) == {"alg", "e", "kid", "kty", "n", "use"}  # no private parts
    assert (jwk["alg"], jwk["kty"], jwk["use"], jwk["e"]) == ("RS256", "RSA", "sig", "AQAB")
    n = int.from_bytes(base64.urlsafe_b64decode(jwk["n"] + "=="), "big")
    assert n.bit_length() == 2048
    # kids are standard base64 like Cognito's (44 characters, may hold + / =).
    assert len(jwk["kid"]) == 44 and jwk["kid"].endswith("=")
    base64.b64decode(jwk["kid"], validate=True)
    # A copy each time: mutating it does not change the pool.
    jwks["keys"].clear()
    assert pool.jwks["keys"]


def test_verifier_helper(pool: LocalUserPool, clock: Clock, verify: Verify) -> None:
    verifier = pool.verifier(token_use="id", clock=clock)
    assert verify(verifier, pool.id_token(client_id="client-b")).client_id == "client-b"
    with pytest.raises(TokenExpiredError):
        verify(verifier, pool.id_token(lifetime=-1))


def test_encode_token_without_key_is_unsigned(
    pool: LocalUserPool, clock: Clock, verify: Verify
) -> None:
    _, payload = parts(pool.access_token())
    token = encode_token({"alg": "RS256", "kid": pool.kid}, payload, None)
    assert token.endswith(".")
    with pytest.raises(InvalidSignatureError):
        verify(pool.verifier(token_use="access", clock=clock), token)
    assert b64url(b"\xfb\xff") == "-_8"


def test_rotate_key(pool: LocalUserPool, clock: Clock) -> None:
    # Start from the session key: key generation is the slow part.
    pool = LocalUserPool("eu-west-1_Rotate1", ("c",), clock=clock, key=pool.private_key)
    old_kid = pool.kid
    before = pool.access_token()
    new_kid = pool.rotate_key()
    assert new_kid != old_kid and pool.kid == new_kid
    assert [k["kid"] for k in pool.jwks["keys"]] == [old_kid, new_kid]
    after = pool.access_token()
    assert parts(after)[0]["kid"] == new_kid
    verifier = pool.verifier(token_use="access", clock=clock)
    assert verifier.verify(before).username == verifier.verify(after).username == "alice"
    # drop_old removes the key being replaced (here new_kid); the older one stays.
    newest = pool.rotate_key(drop_old=True)
    assert [k["kid"] for k in pool.jwks["keys"]] == [old_kid, newest]
    fresh = pool.verifier(token_use="access", clock=clock)
    assert fresh.verify(before).username == "alice"
    with pytest.raises(UnknownKeyError):
        fresh.verify(after)
    pool.remove_key(newest)
    assert pool.kid == old_kid
    assert [k["kid"] for k in pool.jwks["keys"]] == [old_kid]


def test_mock_transport_sync(pool: LocalUserPool, clock: Clock) -> None:
    with httpx.Client(transport=pool.mock_transport()) as client:
        verifier = CognitoVerifier(
            pool.user_pool_id,
            client_id=pool.client_id,
            token_use="access",
            jwks_url="https://keys.example/jwks.json",
            http_client=client,
            clock=clock,
        )
        assert verifier.verify(pool.access_token()).username == "alice"
        # A client the user passed in is theirs: close() leaves it open.
        verifier.close()
        assert not client.is_closed


def test_mock_transport_async(pool: LocalUserPool, clock: Clock) -> None:
    async def main() -> str | None:
        async with httpx.AsyncClient(transport=pool.mock_transport()) as client:
            verifier = CognitoVerifier(
                pool.user_pool_id,
                client_id=pool.client_id,
                token_use="access",
                async_http_client=client,
                clock=clock,
            )
            return (await verifier.averify(pool.access_token())).username

    assert asyncio.run(main()) == "alice"


def test_serve_real_http_and_count_requests(
    pool: LocalUserPool, clock: Clock, jwks_server: JWKSServer, verify: Verify
) -> None:
    assert jwks_server.jwks_url.startswith("http://127.0.0.1:")
    assert jwks_server.jwks_url.endswith(f"/{pool.user_pool_id}/.well-known/jwks.json")
    with httpx.Client() as client:
        assert client.get(jwks_server.jwks_url).json() == pool.jwks
        assert client.get(jwks_server.jwks_url.replace("jwks.json", "nope")).status_code == 404
    assert jwks_server.request_count == 2
    with CognitoVerifier(
        pool.user_pool_id,
        client_id=pool.client_id,
        token_use="access",
        jwks_url=jwks_server.jwks_url,
        clock=clock,
    ) as verifier:
        for _ in range(3):
            assert verify(verifier, pool.access_token()).username == "alice"
    assert jwks_server.request_count == 3  # fetched once, then cached


def test_serve_follows_key_rotation(clock: Clock) -> None:
    pool = LocalUserPool("eu-west-1_Rotate2", ("c",), clock=clock)
    with pool.serve() as server:
        verifier = CognitoVerifier(
            pool.user_pool_id,
            client_id="c",
            token_use="access",
            jwks_url=server.jwks_url,
            clock=clock,
        )
        old = pool.access_token()
        assert verifier.verify(old).username == "alice"
        assert asyncio.run(verifier.averify(old)).username == "alice"
        pool.rotate_key()
        # An unknown kid makes the verifier fetch the JWKS again, once.
        assert asyncio.run(verifier.averify(pool.access_token())).username == "alice"
        assert verifier.verify(pool.access_token()).username == "alice"
        assert verifier.verify(old).username == "alice"
        assert server.request_count == 2
        verifier.close()


def test_async_through_the_real_server(
    pool: LocalUserPool, clock: Clock, jwks_server: JWKSServer
) -> None:
    verifier = CognitoVerifier(
        pool.user_pool_id,
        client_id=pool.client_id,
        token_use="id",
        jwks_url=jwks_server.jwks_url,
        clock=clock,
    )

    async def main() -> list[str | None]:
        results = await asyncio.gather(*(verifier.averify(pool.id_token()) for _ in range(5)))
        return [c.username for c in results]

    assert asyncio.run(main()) == ["alice"] * 5
    assert jwks_server.request_count == 1  # concurrent first requests share one fetch


def test_local_alb_headers_carry_groups_and_scopes_in_the_access_token() -> None:
    from cognito_verify.testing import LocalAlb

    pool = LocalUserPool("eu-west-1_AlbKit01", ("alb-client",))
    arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/web/0123456789ab"
    alb = LocalAlb(arn, pool=pool)
    headers = alb.headers("ann", groups=["admin"], scopes=["orders-api/orders.read"])
    claims = pool.verifier(token_use="access").verify(headers["x-amzn-oidc-accesstoken"])
    assert claims.username == "ann" and claims.groups == {"admin"}
    assert claims.scopes == {"orders-api/orders.read"}
    data = decode(headers["x-amzn-oidc-data"].split(".")[1])
    assert "cognito:groups" not in data and data["sub"] == claims.sub
    # Defaults unchanged: no groups, the user-pool scope.
    plain = pool.verifier(token_use="access").verify(alb.headers("bob")["x-amzn-oidc-accesstoken"])
    assert plain.groups == set() and plain.scopes == {"aws.cognito.signin.user.admin"}
    with pytest.raises(ValueError, match="pool="):
        LocalAlb(arn).headers("ann", groups=["admin"])
