"""One test per known JWT attack class, each asserting the exact error class and code.

Every test runs through both ``verify`` and ``averify`` (the ``verify`` fixture). The
attack tokens live in ``tests/_attacks.py`` so that test_no_secrets_in_logs can replay
the whole catalogue. An exception of any other class propagates and fails the test;
so does the generic ``InvalidTokenError`` of the fail-closed wrapper, since the exact
class is compared.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from _attacks import (
    ATTACKS,
    Case,
    attacker_key,
    claims,
    header,
    header_supplied_keys,
    kid_tricks,
    raw_payload,
    rsa_jwk,
    signed,
    token,
)

from cognito_verify import (
    Claims,
    CognitoVerifier,
    CognitoVerifyError,
    InvalidClaimError,
    InvalidClientError,
    InvalidSignatureError,
    MalformedTokenError,
    UnknownKeyError,
    UserPool,
)
from cognito_verify.testing import JWKSServer, LocalUserPool

Verify = Callable[..., Claims]


def expect(verify: Verify, pool: LocalUserPool, cases: Iterable[Case]) -> int:
    """Run every case; fail listing each one that was accepted or refused wrongly."""
    wrong = []
    count = 0
    for case in cases:
        count += 1
        try:
            verify(case.verifier(pool), case.token)
        except CognitoVerifyError as exc:
            if type(exc) is not case.error or exc.code != case.error.code:
                wrong.append(
                    f"{case.label}: got {type(exc).__name__}/{exc.code} ({exc.message}), "
                    f"expected {case.error.__name__}/{case.error.code}"
                )
        else:
            wrong.append(f"{case.label}: ACCEPTED, expected {case.error.__name__}")
    assert not wrong, "\n".join(wrong)
    return count


def run(name: str, verify: Verify, pool: LocalUserPool) -> None:
    assert expect(verify, pool, ATTACKS[name](pool)) > 0


# --- controls: the builders make acceptable tokens when nothing is wrong ----------------


def test_control_untampered_tokens_are_accepted(pool: LocalUserPool, verify: Verify) -> None:
    key = pool.private_key
    id_verifier = pool.verifier(token_use="id", clock=pool.clock)
    assert verify(id_verifier, token(header(pool), claims(pool), key)).sub
    assert verify(id_verifier, signed(pool, exp=pool.clock() + 0.5)).sub
    updated = pool.issuer.replace("https://cognito-idp.", "https://issuer-cognito-idp.")
    assert verify(id_verifier, signed(pool, iss=updated)).issuer == updated
    # 15 levels of nesting are fine; the limit refuses deeper.
    nested = raw_payload(pool, ',"x":' + "[" * 15 + "]" * 15)
    assert verify(id_verifier, token(header(pool), nested, key)).sub
    access = pool.verifier(token_use="access", clock=pool.clock)
    assert verify(access, signed(pool, "access")).token_use == "access"


def test_every_attack_class_has_a_named_test() -> None:
    names = {n for n in globals() if n.startswith("test_")}
    assert {f"test_{n}" for n in ATTACKS} <= names


# --- the attack classes ---------------------------------------------------------------


def test_alg_none(pool: LocalUserPool, verify: Verify) -> None:
    """alg none/None/NONE/missing/non-string -> UnsupportedAlgorithmError."""
    run("alg_none", verify, pool)


def test_hmac_with_public_key(pool: LocalUserPool, verify: Verify) -> None:
    """HS256/384/512 keyed with the pool's public key (PEM, DER, JWK): the
    algorithm-confusion class (python-jose CVE-2024-33663, pyjwt CVE-2022-29217)."""
    run("hmac_with_public_key", verify, pool)


def test_other_algorithms(pool: LocalUserPool, verify: Verify) -> None:
    """ES256, EdDSA, and PS256/RS384/RS512 really signed by the pool's key."""
    run("other_algorithms", verify, pool)


def test_kid_tricks(pool: LocalUserPool, verify: Verify) -> None:
    """kid missing/empty/non-string/too long -> InvalidHeaderError; unknown, path or
    URL characters -> UnknownKeyError."""
    run("kid_tricks", verify, pool)


def test_kid_tricks_against_remote_keys_fetch_only_the_configured_url(
    pool: LocalUserPool, verify: Verify
) -> None:
    # The kid is never put in a URL, and a burst of unknown kids costs at most one
    # refetch after the first fetch (the unknown-kid cooldown).
    with pool.serve() as server:
        verifier = CognitoVerifier(
            pool.user_pool_id,
            client_id=pool.client_id,
            token_use="id",
            jwks_url=server.jwks_url,
            clock=pool.clock,
        )
        unknown = [c for c in kid_tricks(pool) if c.error is UnknownKeyError]
        assert len(unknown) > 5
        for case in unknown:
            with pytest.raises(UnknownKeyError):
                verify(verifier, case.token)
        assert verify(verifier, pool.id_token()).sub
        assert server.request_count <= 2


def test_header_supplied_keys(pool: LocalUserPool, verify: Verify) -> None:
    """jwk/jku/x5u/x5c naming the attacker's key are ignored, and the jku server
    (a real loopback server holding the attacker's JWKS) is never contacted."""
    bad = {"keys": [rsa_jwk(attacker_key(), "attacker-key-1")]}
    with JWKSServer(lambda: bad) as server:
        assert expect(verify, pool, header_supplied_keys(pool, jku=server.jwks_url)) == 10
        assert server.request_count == 0
    run("header_supplied_keys", verify, pool)


def test_crit_extensions(pool: LocalUserPool, verify: Verify) -> None:
    run("crit_extensions", verify, pool)


def test_unusable_jwks_keys(pool: LocalUserPool, verify: Verify) -> None:
    """use enc, alg not RS256, 1024-bit modulus, kty oct/EC, key_ops, bad n or e,
    duplicate kid -> UnusableKeyError, even with a signature made by that key."""
    run("unusable_jwks_keys", verify, pool)


def test_signature_tampering(pool: LocalUserPool, verify: Verify) -> None:
    run("signature_tampering", verify, pool)


def test_not_an_object(pool: LocalUserPool, verify: Verify) -> None:
    run("not_an_object", verify, pool)


def test_duplicate_claims(pool: LocalUserPool, verify: Verify) -> None:
    """Duplicate JSON names (even via escapes) and conflicting/ill-typed claims."""
    run("duplicate_claims", verify, pool)


def test_numeric_dates(pool: LocalUserPool, verify: Verify) -> None:
    """exp/iat/nbf as strings, booleans, NaN, +-inf, huge, negative, -0.0, denormals."""
    run("numeric_dates", verify, pool)


def test_issuer_confusion(pool: LocalUserPool, verify: Verify) -> None:
    run("issuer_confusion", verify, pool)


def test_client_confusion(pool: LocalUserPool, verify: Verify) -> None:
    run("client_confusion", verify, pool)


def test_token_use_confusion(pool: LocalUserPool, verify: Verify) -> None:
    run("token_use_confusion", verify, pool)


def test_refresh_token_and_segments(pool: LocalUserPool, verify: Verify) -> None:
    run("refresh_token_and_segments", verify, pool)


def test_refresh_token_message_says_what_to_send(pool: LocalUserPool, verify: Verify) -> None:
    case = ATTACKS["refresh_token_and_segments"](pool)[0]
    with pytest.raises(MalformedTokenError, match="refresh token"):
        verify(case.verifier(pool), case.token)


def test_foreign_characters(pool: LocalUserPool, verify: Verify) -> None:
    run("foreign_characters", verify, pool)


def test_whitespace_and_padding(pool: LocalUserPool, verify: Verify) -> None:
    run("whitespace_and_padding", verify, pool)


def test_oversized(pool: LocalUserPool, verify: Verify) -> None:
    run("oversized", verify, pool)


def test_deep_nesting(pool: LocalUserPool, verify: Verify) -> None:
    run("deep_nesting", verify, pool)


# --- regressions for bugs found in review ----------------------------------------------


@pytest.mark.parametrize("name", ["exp", "iat", "nbf"])
@pytest.mark.parametrize("value", [10**400, -(10**400), 2**1024])
def test_regression_integer_date_beyond_float_range(
    pool: LocalUserPool, verify: Verify, name: str, value: int
) -> None:
    # Was: OverflowError in the date arithmetic, caught only by the fail-closed
    # wrapper as a generic InvalidTokenError.
    verifier = pool.verifier(token_use="id", clock=pool.clock)
    with pytest.raises(InvalidClaimError) as info:
        verify(verifier, signed(pool, **{name: value}))
    assert type(info.value) is InvalidClaimError and info.value.code == "invalid_claim"


def test_regression_largest_float_date_is_still_a_date(pool: LocalUserPool, verify: Verify) -> None:
    verifier = pool.verifier(token_use="id", clock=pool.clock)
    claims_ = verify(verifier, signed(pool, exp=int(sys.float_info.max)))
    assert claims_.expires_at == sys.float_info.max


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_regression_bytes_length_checked_before_decoding(
    pool: LocalUserPool, verify: Verify, kind: Any
) -> None:
    # Was: a huge bytes body was decoded (copied) before its length was checked.
    verifier = pool.verifier(token_use="id", clock=pool.clock)
    with pytest.raises(MalformedTokenError, match="above the limit"):
        verify(verifier, kind(b"\xff" * 2_000_000))


def test_regression_claims_hash_with_object_jti(pool: LocalUserPool, verify: Verify) -> None:
    # Was: hash(claims) raised TypeError when a (signed) jti was a JSON object. Such a
    # token is now refused (the claim table types jti), and a hand-built Claims holding
    # one still hashes.
    verifier = pool.verifier(token_use="id", clock=pool.clock)
    for jti in ({"a": [1]}, ["x"], 7):
        with pytest.raises(InvalidClaimError, match="'jti'"):
            verify(verifier, signed(pool, jti=jti))
        got = Claims({**verify(verifier, signed(pool)).to_dict(), "jti": jti})
        assert hash(got) == hash(got)
        assert got in {got}


def test_cross_pool_key_and_client_confusion(pool: LocalUserPool, verify: Verify) -> None:
    """Two pools in one verifier: each issuer is checked with its own pool's keys and
    app clients only, so pool B's key or client cannot vouch for a token claiming A."""
    other = LocalUserPool("eu-west-1_OtherPool9", ("client-x",), clock=pool.clock)
    verifier = CognitoVerifier(
        pools=[
            UserPool(
                user_pool_id=pool.user_pool_id,
                client_id=list(pool.client_ids),
                token_use="id",
                jwks=pool.jwks,
            ),
            UserPool(
                user_pool_id=other.user_pool_id,
                client_id="client-x",
                token_use="id",
                jwks=other.jwks,
            ),
        ],
        clock=pool.clock,
    )
    assert verify(verifier, pool.id_token()).issuer == pool.issuer
    assert verify(verifier, other.id_token()).issuer == other.issuer
    a_claims_b_key = token({"alg": "RS256", "kid": other.kid}, claims(pool), other.private_key)
    a_claims_b_key_a_kid = token(header(pool), claims(pool), other.private_key)
    cases = [
        Case("A's iss, B's key and kid", a_claims_b_key, UnknownKeyError),
        Case("A's iss and kid, B's key", a_claims_b_key_a_kid, InvalidSignatureError),
        Case("A's token for B's client", signed(pool, aud="client-x"), InvalidClientError),
        Case("B's token for A's client", other.id_token(client_id="client-a"), InvalidClientError),
    ]
    for case in cases:
        with pytest.raises(CognitoVerifyError) as info:
            verify(verifier, case.token)
        assert type(info.value) is case.error, (case.label, info.value)
