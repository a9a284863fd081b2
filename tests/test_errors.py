"""The error tree: stable codes and statuses, and messages that explain without leaking."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import pytest
from conftest import NOW, Clock
from cryptography.hazmat.primitives.asymmetric import rsa

import cognito_verify
from cognito_verify import (
    Claims,
    ClaimsModelError,
    CognitoVerifier,
    CognitoVerifyError,
    ConfigurationError,
    CrossSiteRequestError,
    CustomCheckError,
    ForbiddenError,
    InsufficientUserAuthenticationError,
    InvalidClaimError,
    InvalidClientError,
    InvalidHeaderError,
    InvalidIssuerError,
    InvalidSignatureError,
    InvalidSignerError,
    InvalidTokenError,
    InvalidTokenUseError,
    JWKSError,
    MalformedTokenError,
    MissingGroupError,
    MissingScopeError,
    MissingTokenError,
    PoolResolverError,
    RevocationCheckError,
    TokenExpiredError,
    TokenNotYetValidError,
    TokenRevokedError,
    UnknownKeyError,
    UnsupportedAlgorithmError,
    UnusableKeyError,
    errors,
)
from cognito_verify.testing import LocalUserPool, b64url

Verify = Callable[..., Claims]

# class -> (code, HTTP status, parent). Codes are a public contract (API bodies,
# metrics, alerts): renaming one must fail this test.
TREE: dict[type[CognitoVerifyError], tuple[str, int, type[Exception]]] = {
    CognitoVerifyError: ("error", 500, Exception),
    ConfigurationError: ("configuration_error", 500, CognitoVerifyError),
    InvalidTokenError: ("invalid_token", 401, CognitoVerifyError),
    MissingTokenError: ("missing_token", 401, InvalidTokenError),
    MalformedTokenError: ("malformed_token", 401, InvalidTokenError),
    UnsupportedAlgorithmError: ("unsupported_algorithm", 401, InvalidTokenError),
    InvalidHeaderError: ("invalid_header", 401, InvalidTokenError),
    InvalidSignerError: ("invalid_signer", 401, InvalidTokenError),
    UnknownKeyError: ("unknown_key", 401, InvalidTokenError),
    UnusableKeyError: ("unusable_key", 401, InvalidTokenError),
    InvalidSignatureError: ("invalid_signature", 401, InvalidTokenError),
    InvalidClaimError: ("invalid_claim", 401, InvalidTokenError),
    TokenExpiredError: ("token_expired", 401, InvalidClaimError),
    TokenNotYetValidError: ("token_not_yet_valid", 401, InvalidClaimError),
    InvalidIssuerError: ("invalid_issuer", 401, InvalidClaimError),
    InvalidClientError: ("invalid_client", 401, InvalidClaimError),
    InvalidTokenUseError: ("invalid_token_use", 401, InvalidClaimError),
    ForbiddenError: ("forbidden", 403, CognitoVerifyError),
    MissingGroupError: ("missing_group", 403, ForbiddenError),
    MissingScopeError: ("insufficient_scope", 403, ForbiddenError),
    CustomCheckError: ("custom_check_failed", 403, ForbiddenError),
    CrossSiteRequestError: ("cross_site_request", 403, ForbiddenError),
    JWKSError: ("jwks_unavailable", 503, CognitoVerifyError),
    TokenRevokedError: ("token_revoked", 401, InvalidTokenError),
    InsufficientUserAuthenticationError: (
        "insufficient_user_authentication",
        401,
        InvalidTokenError,
    ),
    RevocationCheckError: ("revocation_check_failed", 503, CognitoVerifyError),
    ClaimsModelError: ("claims_model_mismatch", 500, CognitoVerifyError),
    PoolResolverError: ("pool_resolver_failed", 503, JWKSError),
}


def test_every_error_is_in_the_tree() -> None:
    defined = {
        obj
        for obj in vars(errors).values()
        if isinstance(obj, type) and issubclass(obj, CognitoVerifyError)
    }
    assert defined == set(TREE)
    assert set(errors.__all__) == {cls.__name__ for cls in TREE}


@pytest.mark.parametrize("cls", list(TREE), ids=lambda c: c.__name__)
def test_code_status_and_parent(cls: type[CognitoVerifyError]) -> None:
    code, status, parent = TREE[cls]
    assert cls.code == code
    assert cls.status_code == status
    assert cls.__bases__[0] is parent
    exc = cls("a message")
    assert exc.code == code and exc.status_code == status
    assert str(exc) == exc.message == "a message"
    assert repr(exc) == f"{cls.__name__}(code={code!r}, message='a message')"
    # Re-exported at the top level, the same object.
    assert getattr(cognito_verify, cls.__name__) is cls


def test_codes_are_unique() -> None:
    codes = [code for code, _, _ in TREE.values()]
    assert len(codes) == len(set(codes))


def test_forbidden_is_not_invalid_token() -> None:
    for cls in (ForbiddenError, MissingGroupError, MissingScopeError, CustomCheckError):
        assert not issubclass(cls, InvalidTokenError)
    assert not issubclass(JWKSError, InvalidTokenError | ForbiddenError)
    assert issubclass(ConfigurationError, ValueError)


def test_code_can_be_overridden_per_instance() -> None:
    exc = InvalidTokenError("m", code="custom")
    assert exc.code == "custom"
    assert InvalidTokenError.code == "invalid_token"


# --- messages --------------------------------------------------------------------------


def _payload(pool: LocalUserPool, **claims: Any) -> dict[str, Any]:
    now = int(NOW)
    base: dict[str, Any] = {
        "iss": pool.issuer,
        "sub": "3f6e0000-0000-4000-8000-00000000beef",
        "token_use": "access",
        "client_id": pool.client_id,
        "username": "alice",
        "scope": "s1",
        "iat": now,
        "exp": now + 3600,
    }
    base.update(claims)
    return base


def _failures(pool: LocalUserPool) -> list[tuple[str, type[CognitoVerifyError], str]]:
    """(token, expected class, label) for a spread of failures at every step."""
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    good = pool.access_token()
    h, p, s = good.split(".")
    marker_header = {"alg": "MARKERALG", "kid": pool.kid}
    return [
        (f"{h}.{p}", MalformedTokenError, "two-segments"),
        (f"{h}.{p}.{s}.{s}.{s}", MalformedTokenError, "jwe"),
        (f"{h}.{p}X.{s}", MalformedTokenError, "bad-base64"),
        (f"{h}.{b64url(b'[1]')}.{s}", MalformedTokenError, "array-payload"),
        (pool.sign(_payload(pool), header=marker_header), UnsupportedAlgorithmError, "alg"),
        (pool.sign(_payload(pool), header={"alg": "RS256"}), InvalidHeaderError, "no-kid"),
        (
            pool.sign(_payload(pool), header={"alg": "RS256", "kid": "MARKERKID"}),
            UnknownKeyError,
            "unknown-kid",
        ),
        (pool.sign(_payload(pool), key=other), InvalidSignatureError, "signature"),
        (f"{h}.{p}.{s[:-8]}AAAAAAAA", InvalidSignatureError, "tampered-signature"),
        (pool.sign(_payload(pool, exp=int(NOW) - 5)), TokenExpiredError, "expired"),
        (pool.sign(_payload(pool, iat=int(NOW) + 500)), TokenNotYetValidError, "iat"),
        (pool.sign(_payload(pool, nbf=int(NOW) + 500)), TokenNotYetValidError, "nbf"),
        (pool.sign(_payload(pool, exp="MARKEREXP")), InvalidClaimError, "exp-type"),
        (
            pool.sign(_payload(pool, iss="https://MARKERISS.example/x")),
            InvalidIssuerError,
            "issuer",
        ),
        (pool.sign(_payload(pool, token_use="id")), InvalidTokenUseError, "token-use"),
        (pool.sign(_payload(pool, client_id="MARKERCLIENT")), InvalidClientError, "client"),
    ]


def test_messages_never_contain_the_token(
    pool: LocalUserPool, clock: Clock, verify: Verify, caplog: pytest.LogCaptureFixture
) -> None:
    verifier = pool.verifier(token_use="access", clock=clock)
    caplog.set_level(logging.DEBUG, logger="cognito_verify")
    for token, cls, label in _failures(pool):
        with pytest.raises(cls) as info:
            verify(verifier, token)
        assert type(info.value) is cls, label
        text = f"{info.value} {info.value!r}"
        for part in token.split("."):
            if len(part) >= 8:
                assert part not in text, label
                assert part not in caplog.text, label
        assert token not in text
    # Values read from a token before its signature verified are not echoed either.
    for marker in ("MARKERALG", "MARKERKID", "MARKERISS"):
        assert marker not in caplog.text


@pytest.mark.parametrize("marker", ["MARKERALG", "MARKERKID", "MARKERISS"])
def test_unverified_values_are_not_echoed(
    pool: LocalUserPool, clock: Clock, verify: Verify, marker: str
) -> None:
    verifier = pool.verifier(token_use="access", clock=clock)
    for token, _, _ in _failures(pool):
        with pytest.raises(CognitoVerifyError) as info:
            verify(verifier, token)
        assert marker not in str(info.value)


def test_post_signature_messages_name_claim_expected_and_found(
    pool: LocalUserPool, clock: Clock, verify: Verify
) -> None:
    verifier = pool.verifier(token_use="access", clock=clock, client_id="client-a")
    with pytest.raises(InvalidClientError) as client:
        verify(verifier, pool.access_token(client_id="MARKERCLIENT"))
    assert "'client_id'" in str(client.value)
    assert "MARKERCLIENT" in str(client.value)
    assert "client-a" in str(client.value)

    id_verifier = pool.verifier(token_use="id", clock=clock, client_id="client-a")
    with pytest.raises(InvalidClientError) as aud:
        verify(id_verifier, pool.id_token(client_id="other-app"))
    assert all(s in str(aud.value) for s in ("'aud'", "other-app", "client-a"))

    with pytest.raises(InvalidTokenUseError) as use:
        verify(verifier, pool.id_token())
    assert all(s in str(use.value) for s in ("token_use", "'id'", "'access'"))

    with pytest.raises(TokenExpiredError) as expired:
        verify(verifier, pool.access_token(lifetime=-10))
    message = str(expired.value)
    assert str(int(NOW) - 10) in message and str(int(NOW)) in message

    with pytest.raises(InvalidClaimError) as typed:
        verify(verifier, pool.access_token(claims={"exp": "soon"}))
    assert "'exp'" in str(typed.value) and "str" in str(typed.value)

    with pytest.raises(TokenNotYetValidError) as nbf:
        verify(verifier, pool.access_token(claims={"nbf": int(NOW) + 60}))
    assert str(int(NOW) + 60) in str(nbf.value)


def test_issuer_message_lists_the_configured_issuers(
    pool: LocalUserPool, clock: Clock, verify: Verify
) -> None:
    verifier = pool.verifier(token_use="access", clock=clock)
    with pytest.raises(InvalidIssuerError) as info:
        verify(verifier, pool.access_token(claims={"iss": "https://MARKERISS.example/p"}))
    assert pool.issuer in str(info.value)
    assert "MARKERISS" not in str(info.value)


def test_forbidden_messages_name_what_is_missing(
    pool: LocalUserPool, clock: Clock, verify: Verify
) -> None:
    verifier = pool.verifier(token_use="access", clock=clock)
    with pytest.raises(MissingGroupError, match="admin"):
        verify(verifier, pool.access_token(groups=["dev"]), groups=["admin"])
    with pytest.raises(MissingGroupError, match="ops"):
        verify(verifier, pool.access_token(groups=["admin"]), all_groups=["admin", "ops"])
    with pytest.raises(MissingScopeError, match="orders/write"):
        verify(verifier, pool.access_token(), scopes="orders/write")


def test_long_claim_values_are_truncated_in_messages(
    pool: LocalUserPool, clock: Clock, verify: Verify
) -> None:
    verifier = pool.verifier(token_use="access", clock=clock)
    with pytest.raises(InvalidClientError) as info:
        verify(verifier, pool.access_token(client_id="c" * 5000))
    assert len(str(info.value)) < 400


def test_configuration_errors_say_how_to_fix(pool: LocalUserPool) -> None:
    with pytest.raises(ConfigurationError) as info:
        CognitoVerifier("nope", client_id="c", token_use="id")
    assert "eu-west-1_AbCdEf123" in str(info.value)
    with pytest.raises(TypeError) as missing:
        CognitoVerifier(pool.user_pool_id, token_use="id")  # type: ignore[call-arg]
    assert "client_id=None" in str(missing.value)


def test_jwks_errors_are_503(pool: LocalUserPool, clock: Clock, verify: Verify) -> None:
    import httpx

    def down(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, text=json.dumps({"secret": "body"}))

    with httpx.Client(transport=httpx.MockTransport(down)) as client:
        verifier = pool.verifier(
            token_use="access",
            jwks=None,
            jwks_url="https://keys.example/jwks.json",
            http_client=client,
            async_http_client=httpx.AsyncClient(transport=httpx.MockTransport(down)),
            clock=clock,
        )
        with pytest.raises(JWKSError) as info:
            verify(verifier, pool.access_token())
    assert info.value.status_code == 503
    assert "500" in str(info.value) and "secret" not in str(info.value)
