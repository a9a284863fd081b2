"""Steps 1-5 of the checks (structure, header, key, signature, claims), each run
through both ``verify`` and ``averify`` by the ``verify`` fixture."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from conftest import NOW, Clock
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from cognito_verify import (
    Claims,
    CognitoVerifier,
    InvalidClaimError,
    InvalidClientError,
    InvalidHeaderError,
    InvalidIssuerError,
    InvalidSignatureError,
    InvalidTokenUseError,
    MalformedTokenError,
    TokenExpiredError,
    TokenNotYetValidError,
    UnknownKeyError,
    UnsupportedAlgorithmError,
    UnusableKeyError,
)
from cognito_verify.testing import LocalUserPool, b64url

Verify = Callable[..., Claims]


def raw_token(header: bytes | str, payload: bytes | str, key: rsa.RSAPrivateKey) -> str:
    """Sign exactly these header/payload bytes (for JSON the encoder would not emit)."""
    h = header.encode() if isinstance(header, str) else header
    p = payload.encode() if isinstance(payload, str) else payload
    signing_input = f"{b64url(h)}.{b64url(p)}"
    sig = key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url(sig)}"


def header_json(pool: LocalUserPool) -> str:
    return json.dumps({"alg": "RS256", "kid": pool.kid})


def payload_of(pool: LocalUserPool, **claims: Any) -> dict[str, Any]:
    """A valid access-token payload for ``pool`` at the test clock's time."""
    now = int(NOW)
    payload: dict[str, Any] = {
        "iss": pool.issuer,
        "sub": "8f1c0000-0000-4000-8000-000000000001",
        "token_use": "access",
        "client_id": pool.client_id,
        "username": "alice",
        "scope": "aws.cognito.signin.user.admin",
        "iat": now,
        "exp": now + 3600,
    }
    payload.update(claims)
    return {k: v for k, v in payload.items() if v is not ...}


@pytest.fixture
def access(pool: LocalUserPool, clock: Clock) -> CognitoVerifier:
    return pool.verifier(token_use="access", clock=clock)


@pytest.fixture
def id_verifier(pool: LocalUserPool, clock: Clock) -> CognitoVerifier:
    return pool.verifier(token_use="id", clock=clock)


def test_valid_access_token_is_accepted(
    pool: LocalUserPool, access: CognitoVerifier, verify: Verify
) -> None:
    claims = verify(access, pool.access_token("alice"))
    assert claims.username == "alice"
    assert claims.token_use == "access"


def test_token_as_bytes_is_accepted(
    pool: LocalUserPool, access: CognitoVerifier, verify: Verify
) -> None:
    assert verify(access, pool.access_token().encode("ascii")).username == "alice"


# --- step 1: structure -------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [
        None,
        12345,
        1.5,
        ["a.b.c"],
        {"token": "a.b.c"},
        "",
        b"",
        "abc",
        "a.b",
        "a.b.c.d",
        "a.b.c.d.e.f",
        "....",
        b"\xff\xfe.\x00.\x01",
        "\u00e9\u00e9.\u00e9.\u00e9",
    ],
    ids=repr,
)
def test_not_a_compact_jws_is_malformed(
    access: CognitoVerifier, verify: Verify, token: Any
) -> None:
    with pytest.raises(MalformedTokenError):
        verify(access, token)


def test_five_segments_is_refused_as_jwe_with_advice(
    access: CognitoVerifier, verify: Verify
) -> None:
    # The shape of a Cognito refresh token: an encrypted JWE.
    jwe = ".".join(
        [
            "eyJjdHkiOiJKV1QiLCJlbmMiOiJBMjU2R0NNIiwiYWxnIjoiUlNBLU9BRVAifQ",
            "a" * 342,
            "b" * 16,
            "c" * 40,
            "d" * 22,
        ]
    )
    with pytest.raises(MalformedTokenError, match="encrypted"):
        verify(access, jwe)


@pytest.mark.parametrize("size", [10 * 1024 * 1024])
def test_ten_megabytes_of_garbage(access: CognitoVerifier, verify: Verify, size: int) -> None:
    with pytest.raises(MalformedTokenError, match="limit"):
        verify(access, "A" * size)
    with pytest.raises(MalformedTokenError):
        verify(access, b"\xff" * size)
    with pytest.raises(MalformedTokenError):
        verify(access, "a.b." + "c" * size)


@pytest.mark.parametrize(
    "segment",
    ["eyJ+bGci", "eyJ/bGci", "eyJhbGci=", "eyJh bGci", "eyJhbGci\n", "eyJhb", "%7B%7D"],
)
def test_bad_base64url_in_header(
    pool: LocalUserPool, access: CognitoVerifier, verify: Verify, segment: str
) -> None:
    _, p, s = pool.access_token().split(".")
    with pytest.raises(MalformedTokenError, match="base64url"):
        verify(access, f"{segment}.{p}.{s}")


def test_bad_base64url_in_payload_and_signature(
    pool: LocalUserPool, access: CognitoVerifier, verify: Verify
) -> None:
    h, p, s = pool.access_token().split(".")
    with pytest.raises(MalformedTokenError, match="payload"):
        verify(access, f"{h}.{p}=.{s}")
    with pytest.raises(MalformedTokenError, match="signature"):
        verify(access, f"{h}.{p}.{s}+")


def test_non_canonical_base64_is_refused(
    pool: LocalUserPool, access: CognitoVerifier, verify: Verify
) -> None:
    # A 256-byte signature is 342 characters: its last one carries 4 unused bits. Setting
    # one decodes to the same bytes, so the same token would have several spellings.
    h, p, s = pool.access_token().split(".")
    assert len(s) % 4 == 2 and s[-1] in "AQgw"
    twin = s[:-1] + chr(ord(s[-1]) + 1)
    with pytest.raises(MalformedTokenError, match="canonical"):
        verify(access, f"{h}.{p}.{twin}")
    # The canonical spelling still passes (the test would fail for the wrong reason otherwise).
    assert verify(access, f"{h}.{p}.{s}").username == "alice"


@pytest.mark.parametrize(
    "payload",
    [
        b"[1, 2, 3]",
        b'"a string"',
        b"42",
        b"null",
        b"true",
        b"{",
        b"",
        b"\xff\xfe{}",
        b'{"exp": NaN}',
        b'{"a": Infinity}',
        b"[" * 50 + b"]" * 50,
        b'{"a":' * 40 + b"1" + b"}" * 40,
    ],
    ids=[
        "array",
        "string",
        "number",
        "null",
        "true",
        "truncated",
        "empty",
        "not-utf8",
        "nan",
        "infinity",
        "deep-array",
        "deep-object",
    ],
)
def test_payload_must_be_a_json_object(
    pool: LocalUserPool, access: CognitoVerifier, verify: Verify, payload: bytes
) -> None:
    token = raw_token(header_json(pool), payload, pool.private_key)
    with pytest.raises(MalformedTokenError, match="payload"):
        verify(access, token)


@pytest.mark.parametrize("header", [b"[]", b'"RS256"', b"{", b"\xc3\x28"])
def test_header_must_be_a_json_object(
    pool: LocalUserPool, access: CognitoVerifier, verify: Verify, header: bytes
) -> None:
    token = raw_token(header, json.dumps(payload_of(pool)), pool.private_key)
    with pytest.raises(MalformedTokenError, match="header"):
        verify(access, token)


def test_duplicate_keys_in_payload_are_refused(
    pool: LocalUserPool, access: CognitoVerifier, verify: Verify
) -> None:
    body = json.dumps(payload_of(pool))
    # The second client_id would win in Python; another parser could keep the first.
    smuggled = body[:-1] + ', "client_id": "attacker-client"}'
    token = raw_token(header_json(pool), smuggled, pool.private_key)
    with pytest.raises(MalformedTokenError, match="payload"):
        verify(access, token)


def test_duplicate_keys_in_header_are_refused(
    pool: LocalUserPool, access: CognitoVerifier, verify: Verify
) -> None:
    header = f'{{"alg": "RS256", "kid": "{pool.kid}", "alg": "none"}}'
    token = raw_token(header, json.dumps(payload_of(pool)), pool.private_key)
    with pytest.raises(MalformedTokenError, match="header"):
        verify(access, token)


def test_duplicate_keys_in_nested_object_are_refused(
    pool: LocalUserPool, access: CognitoVerifier, verify: Verify
) -> None:
    body = json.dumps(payload_of(pool))[:-1] + ', "address": {"a": 1, "a": 2}}'
    token = raw_token(header_json(pool), body, pool.private_key)
    with pytest.raises(MalformedTokenError):
        verify(access, token)


@pytest.mark.parametrize(
    "tail",
    [
        ',"client_id":"attacker-client"',  # compact: the fast counting path
        ', "client_id" :"attacker-client"',  # space before the colon
        ',"client_id"\n:"attacker-client"',
        ',"note":"x\\":","client_id":"attacker-client"',  # a quote-colon inside a string
        ',"\\u0063lient_id":"attacker-client"',  # the same name, escaped
        ',"x":{"y":1},"client_id":"attacker-client"',  # a nested object
    ],
)
def test_duplicate_names_are_refused_however_they_are_written(
    pool: LocalUserPool, access: CognitoVerifier, verify: Verify, tail: str
) -> None:
    body = json.dumps(payload_of(pool), separators=(",", ":"))[:-1] + tail + "}"
    token = raw_token(header_json(pool), body, pool.private_key)
    with pytest.raises(MalformedTokenError, match="payload"):
        verify(access, token)


def test_quote_colon_inside_a_string_is_not_a_duplicate(
    pool: LocalUserPool, access: CognitoVerifier, verify: Verify
) -> None:
    body = json.dumps({**payload_of(pool), "custom:note": 'say "hi":'}, separators=(",", ":"))
    token = raw_token(header_json(pool), body, pool.private_key)
    assert verify(access, token)["custom:note"] == 'say "hi":'


def test_escaped_slashes_and_unicode_usernames_are_fine(
    pool: LocalUserPool, access: CognitoVerifier, verify: Verify
) -> None:
    # Real Cognito escapes '/' in JSON; usernames may hold backslashes and any Unicode.
    payload = payload_of(pool, username="adfs_corp\\b\u00f6b \u2603")
    body = json.dumps(payload, ensure_ascii=True).replace("/", "\\/")
    assert "\\/" in body
    claims = verify(access, raw_token(header_json(pool), body, pool.private_key))
    assert claims.username == "adfs_corp\\b\u00f6b \u2603"
    assert claims.issuer == pool.issuer


# --- step 2: header ------------------------------------------------------------------


@pytest.mark.parametrize(
    "alg",
    [
        "none",
        "None",
        "NONE",
        "HS256",
        "HS512",
        "ES256",
        "PS256",
        "RS512",
        "EdDSA",
        "rs256",
        "",
        256,
        None,
        ["RS256"],
    ],
)
def test_only_rs256_is_accepted(
    pool: LocalUserPool, access: CognitoVerifier, verify: Verify, alg: Any
) -> None:
    token = pool.sign(payload_of(pool), header={"alg": alg, "kid": pool.kid})
    with pytest.raises(UnsupportedAlgorithmError):
        verify(access, token)


def test_missing_alg_is_refused(
    pool: LocalUserPool, access: CognitoVerifier, verify: Verify
) -> None:
    token = pool.sign(payload_of(pool), header={"kid": pool.kid})
    with pytest.raises(UnsupportedAlgorithmError):
        verify(access, token)


def test_unsigned_token_with_empty_signature(
    pool: LocalUserPool, access: CognitoVerifier, verify: Verify
) -> None:
    h = b64url(json.dumps({"alg": "none", "kid": pool.kid}).encode())
    p = b64url(json.dumps(payload_of(pool)).encode())
    with pytest.raises(UnsupportedAlgorithmError):
        verify(access, f"{h}.{p}.")


@pytest.mark.parametrize("kid", [..., None, 1, "", ["k"], {"k": 1}, "k" * 257])
def test_kid_must_be_a_short_string(
    pool: LocalUserPool, access: CognitoVerifier, verify: Verify, kid: Any
) -> None:
    header: dict[str, Any] = {"alg": "RS256"}
    if kid is not ...:
        header["kid"] = kid
    with pytest.raises(InvalidHeaderError, match="kid"):
        verify(access, pool.sign(payload_of(pool), header=header))


def test_crit_is_refused(pool: LocalUserPool, access: CognitoVerifier, verify: Verify) -> None:
    header = {"alg": "RS256", "kid": pool.kid, "crit": ["exp"], "exp": 1}
    with pytest.raises(InvalidHeaderError, match="crit"):
        verify(access, pool.sign(payload_of(pool), header=header))


def test_key_hints_in_header_are_ignored(
    pool: LocalUserPool, access: CognitoVerifier, verify: Verify
) -> None:
    # jku/x5u/jwk name keys the attacker controls; they must change nothing.
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    header = {
        "alg": "RS256",
        "kid": pool.kid,
        "jku": "https://attacker.example/jwks.json",
        "x5u": "https://attacker.example/cert.pem",
        "jwk": {"kty": "RSA", "n": "AQAB", "e": "AQAB"},
    }
    assert verify(access, pool.sign(payload_of(pool), header=header)).username == "alice"
    with pytest.raises(InvalidSignatureError):
        verify(access, pool.sign(payload_of(pool), header=header, key=other))


# --- step 3: key ---------------------------------------------------------------------


def test_unknown_kid(pool: LocalUserPool, access: CognitoVerifier, verify: Verify) -> None:
    token = pool.sign(payload_of(pool), header={"alg": "RS256", "kid": "not-a-kid-of-this-pool"})
    with pytest.raises(UnknownKeyError):
        verify(access, token)


@pytest.fixture(scope="module")
def weak_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=1024)


def _jwk(kid: str, key: rsa.RSAPrivateKey, **extra: Any) -> dict[str, Any]:
    numbers = key.public_key().public_numbers()
    n = numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")
    jwk = {"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig", "e": "AQAB", "n": b64url(n)}
    jwk.update(extra)
    return {k: v for k, v in jwk.items() if v is not None}


@pytest.mark.parametrize(
    "extra",
    [
        {"use": "enc"},
        {"alg": "RS512"},
        {"alg": "RSA-OAEP"},
        {"kty": "EC"},
        {"key_ops": ["encrypt"]},
        {"e": "AAE"},
        {"n": "!!"},
    ],
    ids=["use-enc", "alg-rs512", "alg-rsa-oaep", "kty-ec", "key-ops", "tiny-exponent", "bad-n"],
)
def test_unusable_jwk(
    pool: LocalUserPool, clock: Clock, verify: Verify, extra: dict[str, Any]
) -> None:
    jwks = pool.jwks
    jwks["keys"].append(_jwk("odd-key", pool.private_key, **extra))
    verifier = pool.verifier(token_use="access", clock=clock, jwks=jwks)
    token = pool.sign(payload_of(pool), header={"alg": "RS256", "kid": "odd-key"})
    with pytest.raises(UnusableKeyError):
        verify(verifier, token)
    # The pool's good key next to it still works.
    assert verify(verifier, pool.sign(payload_of(pool))).username == "alice"


def test_small_modulus_is_unusable(
    pool: LocalUserPool, clock: Clock, verify: Verify, weak_key: rsa.RSAPrivateKey
) -> None:
    jwks = pool.jwks
    jwks["keys"].append(_jwk("weak", weak_key))
    verifier = pool.verifier(token_use="access", clock=clock, jwks=jwks)
    token = pool.sign(payload_of(pool), header={"alg": "RS256", "kid": "weak"}, key=weak_key)
    with pytest.raises(UnusableKeyError, match="1024 bits"):
        verify(verifier, token)


def test_small_modulus_is_unusable_from_a_remote_jwks(
    pool: LocalUserPool, clock: Clock, verify: Verify, weak_key: rsa.RSAPrivateKey
) -> None:
    import httpx

    jwks = pool.jwks
    jwks["keys"].append(_jwk("weak", weak_key))
    client = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(200, json=jwks)))
    aclient = httpx.AsyncClient(
        transport=httpx.MockTransport(lambda r: httpx.Response(200, json=jwks))
    )
    verifier = pool.verifier(
        token_use="access",
        clock=clock,
        jwks=None,
        jwks_url="https://keys.example/jwks.json",
        http_client=client,
        async_http_client=aclient,
    )
    token = pool.sign(payload_of(pool), header={"alg": "RS256", "kid": "weak"}, key=weak_key)
    with pytest.raises(UnusableKeyError):
        verify(verifier, token)
    client.close()


def test_duplicate_kid_in_jwks_is_unusable(
    pool: LocalUserPool, clock: Clock, verify: Verify
) -> None:
    jwks = pool.jwks
    jwks["keys"].append(_jwk("twice", pool.private_key))
    jwks["keys"].append(_jwk("twice", pool.private_key))
    verifier = pool.verifier(token_use="access", clock=clock, jwks=jwks)
    with pytest.raises(UnusableKeyError):
        verify(verifier, pool.sign(payload_of(pool), header={"alg": "RS256", "kid": "twice"}))


# --- step 4: signature ---------------------------------------------------------------


def test_signature_by_another_key(
    pool: LocalUserPool, access: CognitoVerifier, verify: Verify, weak_key: rsa.RSAPrivateKey
) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(InvalidSignatureError):
        verify(access, pool.sign(payload_of(pool), key=other))
    with pytest.raises(InvalidSignatureError):
        verify(access, pool.sign(payload_of(pool), key=weak_key))


def test_tampered_payload(pool: LocalUserPool, access: CognitoVerifier, verify: Verify) -> None:
    h, _, s = pool.access_token("alice").split(".")
    p = b64url(json.dumps(payload_of(pool, username="root")).encode())
    with pytest.raises(InvalidSignatureError):
        verify(access, f"{h}.{p}.{s}")


def test_tampered_header(pool: LocalUserPool, access: CognitoVerifier, verify: Verify) -> None:
    _, p, s = pool.access_token().split(".")
    h = b64url(json.dumps({"kid": pool.kid, "alg": "RS256", "typ": "JWT"}).encode())
    with pytest.raises(InvalidSignatureError):
        verify(access, f"{h}.{p}.{s}")


@pytest.mark.parametrize("signature", ["", "AAAA", "A" * 340 + "AA", b64url(b"\x00" * 512)])
def test_empty_short_or_long_signature(
    pool: LocalUserPool, access: CognitoVerifier, verify: Verify, signature: str
) -> None:
    h, p, _ = pool.access_token().split(".")
    with pytest.raises(InvalidSignatureError):
        verify(access, f"{h}.{p}.{signature}")


# --- step 5: claims ------------------------------------------------------------------


def signed(pool: LocalUserPool, **claims: Any) -> str:
    return pool.sign(payload_of(pool, **claims))


@pytest.mark.parametrize("name", ["exp", "iat"])
def test_exp_and_iat_are_required(
    pool: LocalUserPool, access: CognitoVerifier, verify: Verify, name: str
) -> None:
    with pytest.raises(InvalidClaimError, match=f"'{name}'") as info:
        verify(access, signed(pool, **{name: ...}))
    assert type(info.value) is InvalidClaimError
    with pytest.raises(InvalidClaimError, match="null"):
        verify(access, signed(pool, **{name: None}))


@pytest.mark.parametrize(
    "value",
    [True, False, "1800003600", [1800003600], {"t": 1}, 1e999, 10**400],
    ids=["true", "false", "str", "list", "object", "inf", "huge-int"],
)
@pytest.mark.parametrize("name", ["exp", "iat", "nbf"])
def test_dates_must_be_numbers(
    pool: LocalUserPool, access: CognitoVerifier, verify: Verify, name: str, value: Any
) -> None:
    # json.dumps writes inf as Infinity (refused as malformed); 1e999 is valid JSON for it.
    body = json.dumps(payload_of(pool, **{name: value})).replace("Infinity", "1e999")
    with pytest.raises(InvalidClaimError, match=f"'{name}'") as info:
        verify(access, raw_token(header_json(pool), body, pool.private_key))
    assert type(info.value) is InvalidClaimError


def test_float_dates_are_accepted(
    pool: LocalUserPool, access: CognitoVerifier, verify: Verify
) -> None:
    claims = verify(access, signed(pool, iat=NOW - 0.5, exp=NOW + 10.5, nbf=NOW - 1.5))
    assert claims.expires_at == NOW + 10.5


def test_expiry_edges(
    pool: LocalUserPool, access: CognitoVerifier, clock: Clock, verify: Verify
) -> None:
    token = pool.access_token(lifetime=60)
    clock.advance(59)
    assert verify(access, token).username == "alice"
    clock.advance(1)  # exactly at exp: expired
    with pytest.raises(TokenExpiredError):
        verify(access, token)
    clock.advance(10_000)
    with pytest.raises(TokenExpiredError):
        verify(access, token)


def test_expiry_edges_with_leeway(pool: LocalUserPool, clock: Clock, verify: Verify) -> None:
    verifier = pool.verifier(token_use="access", clock=clock, leeway=30)
    token = pool.access_token(lifetime=60)
    clock.advance(60 + 29)
    assert verify(verifier, token).username == "alice"
    clock.advance(1)  # exactly at exp + leeway: expired
    with pytest.raises(TokenExpiredError):
        verify(verifier, token)


def test_expired_is_an_invalid_claim(
    pool: LocalUserPool, access: CognitoVerifier, verify: Verify
) -> None:
    with pytest.raises(InvalidClaimError) as info:
        verify(access, signed(pool, exp=int(NOW) - 1, iat=int(NOW) - 3601))
    assert isinstance(info.value, TokenExpiredError)


def test_iat_in_the_future(
    pool: LocalUserPool, access: CognitoVerifier, clock: Clock, verify: Verify
) -> None:
    # Up to clock_skew (5 s by default) ahead is tolerated; beyond it is refused.
    with pytest.raises(TokenNotYetValidError, match="iat"):
        verify(access, signed(pool, iat=int(NOW) + 6))
    assert verify(access, signed(pool, iat=int(NOW) + 5)).username == "alice"
    strict = pool.verifier(token_use="access", clock=clock, clock_skew=0)
    with pytest.raises(TokenNotYetValidError, match="iat"):
        verify(strict, signed(pool, iat=int(NOW) + 1))
    assert verify(strict, signed(pool, iat=int(NOW))).username == "alice"


def test_iat_in_the_future_within_leeway(pool: LocalUserPool, clock: Clock, verify: Verify) -> None:
    verifier = pool.verifier(token_use="access", clock=clock, leeway=5, clock_skew=0)
    assert verify(verifier, signed(pool, iat=int(NOW) + 5)).username == "alice"
    with pytest.raises(TokenNotYetValidError):
        verify(verifier, signed(pool, iat=int(NOW) + 6))
    # leeway and clock_skew add up for iat and nbf.
    both = pool.verifier(token_use="access", clock=clock, leeway=5, clock_skew=5)
    assert verify(both, signed(pool, iat=int(NOW) + 10)).username == "alice"
    with pytest.raises(TokenNotYetValidError):
        verify(both, signed(pool, iat=int(NOW) + 11))


def test_nbf(pool: LocalUserPool, access: CognitoVerifier, clock: Clock, verify: Verify) -> None:
    token = signed(pool, nbf=int(NOW) + 10)
    with pytest.raises(TokenNotYetValidError):
        verify(access, token)
    clock.advance(5)  # 5 s ahead: within the default clock_skew
    assert verify(access, token).username == "alice"


@pytest.mark.parametrize(
    "iss",
    [
        "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TestPool1/",
        "https://cognito-idp.us-east-1.amazonaws.com/eu-west-1_TestPool1",
        "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_OtherPool",
        "http://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TestPool1",
        "https://COGNITO-IDP.eu-west-1.amazonaws.com/eu-west-1_TestPool1",
        "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_testpool1",
        "https://cognito-idp.eu-west-1.amazonaws.com.attacker.example/eu-west-1_TestPool1",
        "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TestPool1 ",
        "",
        None,
        ["https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TestPool1"],
        ...,
    ],
    ids=[
        "trailing-slash",
        "other-region",
        "other-pool",
        "http",
        "uppercase",
        "lowercase-pool",
        "suffix-host",
        "trailing-space",
        "empty",
        "null",
        "list",
        "missing",
    ],
)
def test_wrong_issuer(
    pool: LocalUserPool, access: CognitoVerifier, verify: Verify, iss: Any
) -> None:
    assert pool.issuer == "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TestPool1"
    with pytest.raises(InvalidIssuerError):
        verify(access, signed(pool, iss=iss))


def test_updated_issuer_form_is_accepted_by_default(
    pool: LocalUserPool, access: CognitoVerifier, clock: Clock, verify: Verify
) -> None:
    updated = pool.issuer.replace("https://cognito-idp.", "https://issuer-cognito-idp.")
    assert verify(access, signed(pool, iss=updated)).issuer == updated
    original_only = pool.verifier(token_use="access", clock=clock, issuer_format="original")
    with pytest.raises(InvalidIssuerError):
        verify(original_only, signed(pool, iss=updated))
    assert verify(original_only, signed(pool)).issuer == pool.issuer
    updated_only = pool.verifier(token_use="access", clock=clock, issuer_format="updated")
    with pytest.raises(InvalidIssuerError):
        verify(updated_only, signed(pool))
    assert verify(updated_only, signed(pool, iss=updated)).issuer == updated


def test_replica_regions(pool: LocalUserPool, clock: Clock, verify: Verify) -> None:
    replica = "https://cognito-idp.us-west-2.amazonaws.com/eu-west-1_TestPool1"
    plain = pool.verifier(token_use="access", clock=clock)
    with pytest.raises(InvalidIssuerError):
        verify(plain, signed(pool, iss=replica))
    replicated = pool.verifier(token_use="access", clock=clock, replica_regions=["us-west-2"])
    assert verify(replicated, signed(pool, iss=replica)).issuer == replica
    assert verify(replicated, signed(pool)).issuer == pool.issuer
    with pytest.raises(InvalidIssuerError):
        verify(replicated, signed(pool, iss=replica.replace("us-west-2", "ap-south-1")))


def test_explicit_issuer_replaces_the_aws_form(
    pool: LocalUserPool, clock: Clock, verify: Verify
) -> None:
    emulator = "http://localhost:9229/eu-west-1_TestPool1"
    verifier = pool.verifier(token_use="access", clock=clock, issuer=emulator)
    assert verify(verifier, signed(pool, iss=emulator)).username == "alice"
    with pytest.raises(InvalidIssuerError):
        verify(verifier, signed(pool))
    with pytest.raises(InvalidIssuerError):
        verify(verifier, signed(pool, iss=emulator + "/"))
    # An issuer ending in "/" is matched exactly too (it used to be stripped).
    slashed = pool.verifier(token_use="access", clock=clock, issuer=emulator + "/")
    assert verify(slashed, signed(pool, iss=emulator + "/")).username == "alice"
    with pytest.raises(InvalidIssuerError):
        verify(slashed, signed(pool, iss=emulator))


@pytest.mark.parametrize("sub", [..., None, "", 42])
def test_sub_is_required(
    pool: LocalUserPool, access: CognitoVerifier, verify: Verify, sub: Any
) -> None:
    with pytest.raises(InvalidClaimError, match="'sub'"):
        verify(access, signed(pool, sub=sub))


def test_wrong_client_for_access_token(
    pool: LocalUserPool, access: CognitoVerifier, verify: Verify
) -> None:
    with pytest.raises(InvalidClientError, match="'client_id'"):
        verify(access, pool.access_token(client_id="some-other-client"))
    with pytest.raises(InvalidClientError):
        verify(access, pool.access_token(omit=["client_id"]))
    # An access token's aud is not its client: a right aud does not rescue a wrong client_id.
    with pytest.raises(InvalidClientError):
        verify(access, pool.access_token(client_id="other", claims={"aud": pool.client_id}))


def test_wrong_client_for_id_token(
    pool: LocalUserPool, id_verifier: CognitoVerifier, verify: Verify
) -> None:
    with pytest.raises(InvalidClientError, match="'aud'"):
        verify(id_verifier, pool.id_token(client_id="some-other-client"))
    with pytest.raises(InvalidClientError):
        verify(id_verifier, pool.id_token(omit=["aud"]))
    # An ID token's client_id claim is not its client.
    with pytest.raises(InvalidClientError):
        verify(id_verifier, pool.id_token(claims={"aud": "other", "client_id": pool.client_id}))


@pytest.mark.parametrize("aud", [["client-a"], ["client-a", "client-b"], [], None, 7])
def test_aud_as_a_list_is_refused(
    pool: LocalUserPool, id_verifier: CognitoVerifier, verify: Verify, aud: Any
) -> None:
    with pytest.raises(InvalidClientError):
        verify(id_verifier, pool.id_token(claims={"aud": aud}))


def test_each_configured_client_is_accepted(
    pool: LocalUserPool, clock: Clock, verify: Verify
) -> None:
    verifier = pool.verifier(token_use="id", clock=clock, client_id=["client-a", "client-b"])
    assert verify(verifier, pool.id_token(client_id="client-b")).client_id == "client-b"
    single = pool.verifier(token_use="id", clock=clock, client_id="client-b")
    with pytest.raises(InvalidClientError):
        verify(single, pool.id_token(client_id="client-a"))


def test_client_id_none_accepts_any_client(
    pool: LocalUserPool, clock: Clock, verify: Verify
) -> None:
    verifier = pool.verifier(token_use=None, clock=clock, client_id=None)
    assert verify(verifier, pool.id_token(client_id="anything")).client_id == "anything"
    assert verify(verifier, pool.access_token(client_id="else")).client_id == "else"


@pytest.mark.parametrize("use", [..., None, "refresh", "ID", "Access", "", ["access"]])
def test_token_use_missing_or_unknown(
    pool: LocalUserPool, clock: Clock, verify: Verify, use: Any
) -> None:
    for token_use in ("access", None):
        verifier = pool.verifier(token_use=token_use, clock=clock)
        with pytest.raises(InvalidTokenUseError, match="token_use"):
            verify(verifier, signed(pool, token_use=use))


def test_token_use_swapped(
    pool: LocalUserPool, access: CognitoVerifier, id_verifier: CognitoVerifier, verify: Verify
) -> None:
    with pytest.raises(InvalidTokenUseError, match="ID token was sent"):
        verify(access, pool.id_token())
    with pytest.raises(InvalidTokenUseError, match="access token was sent"):
        verify(id_verifier, pool.access_token())
    # Even with the right client claim for the other kind, the use decides.
    with pytest.raises(InvalidTokenUseError):
        verify(access, pool.id_token(claims={"client_id": pool.client_id}))


def test_token_use_none_accepts_both(pool: LocalUserPool, clock: Clock, verify: Verify) -> None:
    verifier = pool.verifier(token_use=None, clock=clock)
    assert verify(verifier, pool.id_token()).token_use == "id"
    assert verify(verifier, pool.access_token()).token_use == "access"
    # ...and still checks each kind's own client claim.
    with pytest.raises(InvalidClientError, match="'aud'"):
        verify(verifier, pool.id_token(client_id="other"))
    with pytest.raises(InvalidClientError, match="'client_id'"):
        verify(verifier, pool.access_token(client_id="other"))


@pytest.mark.parametrize("groups", ["admin", [1, 2], {"admin": True}, ["admin", None]])
def test_groups_claim_must_be_a_list_of_strings(
    pool: LocalUserPool, access: CognitoVerifier, verify: Verify, groups: Any
) -> None:
    with pytest.raises(InvalidClaimError, match="cognito:groups"):
        verify(access, signed(pool, **{"cognito:groups": groups}))


@pytest.mark.parametrize("scope", [["a", "b"], 1, {"s": 1}])
def test_scope_claim_must_be_a_string(
    pool: LocalUserPool, access: CognitoVerifier, verify: Verify, scope: Any
) -> None:
    with pytest.raises(InvalidClaimError, match="scope"):
        verify(access, signed(pool, scope=scope))


def test_checks_run_in_order(pool: LocalUserPool, access: CognitoVerifier, verify: Verify) -> None:
    """A token wrong in several ways reports the earliest failing step."""
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    bad_claims = payload_of(
        pool, exp=int(NOW) - 10, iat=int(NOW) - 20, client_id="x", token_use="id"
    )
    # header before key/signature
    with pytest.raises(UnsupportedAlgorithmError):
        verify(access, pool.sign(bad_claims, header={"alg": "HS256", "kid": "nope"}, key=other))
    # key before signature
    with pytest.raises(UnknownKeyError):
        verify(access, pool.sign(bad_claims, header={"alg": "RS256", "kid": "nope"}, key=other))
    # signature before claims
    with pytest.raises(InvalidSignatureError):
        verify(access, pool.sign(bad_claims, key=other))
    # exp before token_use and client
    with pytest.raises(TokenExpiredError):
        verify(access, pool.sign(bad_claims))
    # token_use before client
    with pytest.raises(InvalidTokenUseError):
        verify(access, pool.sign({**bad_claims, "exp": int(NOW) + 10}))
