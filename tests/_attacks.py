"""The catalogue of attack tokens used by test_advisories and test_no_secrets_in_logs.

Each builder takes the session's LocalUserPool and returns ``Case`` objects: an attack
token, the verifier options it is checked with and the exact error class it must
raise. Keeping the catalogue in one place lets the log/message test replay every
attack the advisory suite runs.
"""

from __future__ import annotations

import base64
import datetime
import functools
import hashlib
import hmac
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

from cognito_verify import (
    CognitoVerifier,
    CognitoVerifyError,
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

ATTACKER_JKU = "https://attacker.invalid/.well-known/jwks.json"


@dataclass(frozen=True)
class Case:
    """One attack: ``token`` must make verify raise exactly ``error``."""

    label: str
    token: Any
    error: type[CognitoVerifyError]
    token_use: str | None = "id"
    options: Mapping[str, Any] = field(default_factory=dict)

    def verifier(self, pool: LocalUserPool) -> CognitoVerifier:
        use: Any = self.token_use
        return pool.verifier(token_use=use, clock=pool.clock, **dict(self.options))


# --- keys an attacker controls (generated once per session) ---------------------------


@functools.cache
def attacker_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@functools.cache
def weak_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=1024)


def rsa_jwk(key: rsa.RSAPrivateKey, kid: str, **extra: Any) -> dict[str, Any]:
    nums = key.public_key().public_numbers()
    n = nums.n.to_bytes((nums.n.bit_length() + 7) // 8, "big")
    e = nums.e.to_bytes((nums.e.bit_length() + 7) // 8, "big")
    jwk = {"kty": "RSA", "kid": kid, "n": b64url(n), "e": b64url(e), "alg": "RS256", "use": "sig"}
    jwk.update(extra)
    return {k: v for k, v in jwk.items() if v is not None}


# --- raw token building ---------------------------------------------------------------


def enc(value: Any) -> str:
    """base64url of a segment: bytes as is, str as raw JSON text, else JSON-encoded."""
    if isinstance(value, bytes):
        return b64url(value)
    if isinstance(value, str):
        return b64url(value.encode("utf-8"))
    return b64url(json.dumps(value, separators=(",", ":")).encode("utf-8"))


def decode_segment(segment: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def rs256(key: rsa.RSAPrivateKey, signing_input: str) -> bytes:
    return key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())


def token(
    header: Any,
    payload: Any,
    key: rsa.RSAPrivateKey | None,
    signature: bytes | None = None,
) -> str:
    """A compact JWS over any header/payload; RS256-signed with ``key`` unless given."""
    signing_input = f"{enc(header)}.{enc(payload)}"
    if signature is None:
        signature = rs256(key, signing_input) if key is not None else b""
    return f"{signing_input}.{b64url(signature)}"


def header(pool: LocalUserPool, **extra: Any) -> dict[str, Any]:
    return {"kid": pool.kid, "alg": "RS256", **extra}


def claims(pool: LocalUserPool, use: str = "id", **changes: Any) -> dict[str, Any]:
    """A valid payload of the pool's kind, with ``changes`` applied (None deletes)."""
    minted = pool.id_token() if use == "id" else pool.access_token()
    payload: dict[str, Any] = decode_segment(minted.split(".")[1])
    for name, value in changes.items():
        if value is None:
            payload.pop(name, None)
        else:
            payload[name] = value
    return payload


def signed(pool: LocalUserPool, use: str = "id", **changes: Any) -> str:
    """A token with the pool's real key and header: only the claims are wrong."""
    return token(header(pool), claims(pool, use, **changes), pool.private_key)


def raw_payload(pool: LocalUserPool, tail: str, use: str = "id") -> str:
    """Valid claims as JSON text with ``tail`` appended inside the object."""
    text = json.dumps(claims(pool, use), separators=(",", ":"))
    return text[:-1] + tail + "}"


# --- the attack classes -----------------------------------------------------------------


def alg_none(pool: LocalUserPool) -> list[Case]:
    out = []
    p = claims(pool)
    for alg in ("none", "None", "NONE", "nOnE", None):
        h = {"kid": pool.kid} if alg is None else {"kid": pool.kid, "alg": alg}
        name = "missing" if alg is None else alg
        out.append(
            Case(f"alg {name}, empty signature", token(h, p, None), UnsupportedAlgorithmError)
        )
        # Even a genuine pool signature must not rescue a header that says none.
        out.append(
            Case(
                f"alg {name}, real signature",
                token(h, p, pool.private_key),
                UnsupportedAlgorithmError,
            )
        )
    for alg in (None, 256, ["RS256"], {"RS256": True}, True, "RS256 ", "rs256", "RS256\u0000", ""):
        h = {"kid": pool.kid, "alg": alg}
        out.append(Case(f"alg {alg!r}", token(h, p, pool.private_key), UnsupportedAlgorithmError))
    return out


def _public_forms(pool: LocalUserPool) -> dict[str, bytes]:
    pub = pool.private_key.public_key()
    enc_ = serialization.Encoding
    fmt = serialization.PublicFormat
    jwk = next(k for k in pool.jwks["keys"] if k["kid"] == pool.kid)
    return {
        "PEM SPKI": pub.public_bytes(enc_.PEM, fmt.SubjectPublicKeyInfo),
        "PEM PKCS1": pub.public_bytes(enc_.PEM, fmt.PKCS1),
        "DER SPKI": pub.public_bytes(enc_.DER, fmt.SubjectPublicKeyInfo),
        "DER PKCS1": pub.public_bytes(enc_.DER, fmt.PKCS1),
        "JWK JSON": json.dumps(jwk).encode(),
        "JWK n": base64.urlsafe_b64decode(jwk["n"] + "=="),
    }


def hmac_with_public_key(pool: LocalUserPool) -> list[Case]:
    """HS* signed with the pool's public key: the algorithm-confusion CVE class."""
    out = []
    p = claims(pool)
    digests = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}
    for form, secret in _public_forms(pool).items():
        for alg, digest in digests.items():
            signing_input = f"{enc(header(pool, alg=alg))}.{enc(p)}"
            mac = hmac.new(secret, signing_input.encode("ascii"), digest).digest()
            out.append(
                Case(
                    f"{alg} keyed with {form}",
                    f"{signing_input}.{b64url(mac)}",
                    UnsupportedAlgorithmError,
                )
            )
    return out


def other_algorithms(pool: LocalUserPool) -> list[Case]:
    """ES256 / PS256 / EdDSA / RS384 / RS512 headers: only RS256 is Cognito's."""
    p = claims(pool)
    out = []

    def add(alg: str, sign: Callable[[bytes], bytes]) -> None:
        signing_input = f"{enc(header(pool, alg=alg))}.{enc(p)}"
        sig = sign(signing_input.encode("ascii"))
        out.append(Case(f"alg {alg}", f"{signing_input}.{b64url(sig)}", UnsupportedAlgorithmError))

    key = pool.private_key
    # A real PSS signature by the pool's own key: valid crypto, still not RS256.
    add(
        "PS256",
        lambda d: key.sign(d, padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256()),
    )
    add("RS384", lambda d: key.sign(d, padding.PKCS1v15(), hashes.SHA384()))
    add("RS512", lambda d: key.sign(d, padding.PKCS1v15(), hashes.SHA512()))
    ec_key = ec.generate_private_key(ec.SECP256R1())

    def es256(d: bytes) -> bytes:
        r, s = decode_dss_signature(ec_key.sign(d, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    add("ES256", es256)
    add("EdDSA", ed25519.Ed25519PrivateKey.generate().sign)
    add("RSA-OAEP", lambda d: rs256(key, d.decode()))
    return out


def kid_tricks(pool: LocalUserPool) -> list[Case]:
    p = claims(pool)
    key = pool.private_key
    out = [Case("kid missing", token({"alg": "RS256"}, p, key), InvalidHeaderError)]
    for bad in ("", 123, None, ["x"], {"k": "v"}, True):
        out.append(
            Case(f"kid {bad!r}", token({"alg": "RS256", "kid": bad}, p, key), InvalidHeaderError)
        )
    out.append(
        Case("kid 257 chars", token({"alg": "RS256", "kid": "k" * 257}, p, key), InvalidHeaderError)
    )
    out.append(
        Case(
            "kid 20k chars",
            token({"alg": "RS256", "kid": "k" * 20_000}, p, key),
            InvalidHeaderError,
        )
    )
    for bad in (
        "unknown-kid",
        "../../etc/passwd",
        "/dev/random",
        "https://evil.invalid/x",
        "file:///etc/passwd",
        "' OR '1'='1",
        "kid\u0000",
        "\ud800",
        pool.kid.lower(),
        pool.kid + " ",
        "k" * 256,
    ):
        out.append(
            Case(f"kid {bad[:20]!r}", token({"alg": "RS256", "kid": bad}, p, key), UnknownKeyError)
        )
    return out


def _self_signed(key: rsa.RSAPrivateKey) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cognito-idp.amazonaws.com")])
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)


def header_supplied_keys(pool: LocalUserPool, jku: str = ATTACKER_JKU) -> list[Case]:
    """jwk / jku / x5u / x5c point at the attacker's key: keys come only from the pool."""
    bad = attacker_key()
    p = claims(pool)
    own_kid = "attacker-key-1"
    cert = base64.b64encode(_self_signed(bad)).decode()
    out = []
    for label, extra in (
        ("jwk", {"jwk": rsa_jwk(bad, own_kid)}),
        ("jku", {"jku": jku}),
        ("x5u", {"x5u": jku}),
        ("x5c", {"x5c": [cert]}),
        ("all", {"jwk": rsa_jwk(bad, own_kid), "jku": jku, "x5u": jku, "x5c": [cert]}),
    ):
        # The attacker's own kid: not a key of the pool.
        h = {"alg": "RS256", "kid": own_kid, **extra}
        out.append(Case(f"{label} with attacker kid", token(h, p, bad), UnknownKeyError))
        # The pool's kid: the pool's key is used, and the attacker's signature fails.
        h = {"alg": "RS256", "kid": pool.kid, **extra}
        if "jwk" in extra:
            h["jwk"] = rsa_jwk(bad, pool.kid)
        out.append(Case(f"{label} with pool kid", token(h, p, bad), InvalidSignatureError))
    return out


def crit_extensions(pool: LocalUserPool) -> list[Case]:
    p = claims(pool)
    out = []
    for crit, extra in (
        (["exp"], {}),
        (["b64"], {"b64": False}),
        (["http://example.com/ext"], {"http://example.com/ext": True}),
        ([], {}),
        ("b64", {}),
        (None, {}),
    ):
        h = header(pool, crit=crit, **extra)
        out.append(Case(f"crit {crit!r}", token(h, p, pool.private_key), InvalidHeaderError))
    return out


def unusable_jwks_keys(pool: LocalUserPool) -> list[Case]:
    """The pool's JWKS holds a key that must never verify a token."""
    good = pool.jwks["keys"]
    key = pool.private_key
    small = weak_key()
    entries = {
        "use enc": (rsa_jwk(key, "k-enc", use="enc"), key),
        "alg RS512": (rsa_jwk(key, "k-rs512", alg="RS512"), key),
        "alg HS256": (rsa_jwk(key, "k-hs256", alg="HS256"), key),
        "alg none": (rsa_jwk(key, "k-none", alg="none"), key),
        "1024-bit modulus": (rsa_jwk(small, "k-1024"), small),
        "key_ops encrypt": (rsa_jwk(key, "k-ops", key_ops=["encrypt"]), key),
        "kty oct": ({"kty": "oct", "kid": "k-oct", "k": b64url(b"secret"), "alg": "HS256"}, None),
        "kty EC": (
            {
                "kty": "EC",
                "kid": "k-ec",
                "crv": "P-256",
                "x": b64url(b"x" * 32),
                "y": b64url(b"y" * 32),
            },
            None,
        ),
        "n not base64url": (rsa_jwk(key, "k-bad-n", n="!!!"), key),
        "exponent 1": (rsa_jwk(key, "k-e1", e=b64url(b"\x01")), key),
    }
    jwks = {"keys": [*good, *(jwk for jwk, _ in entries.values())]}
    p = claims(pool)
    out = []
    for label, (jwk, signer) in entries.items():
        h = {"alg": "RS256", "kid": jwk["kid"]}
        if signer is None:
            secret = b"secret"
            signing_input = f"{enc(h)}.{enc(p)}"
            mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
            t = f"{signing_input}.{b64url(mac)}"
        else:
            t = token(h, p, signer)
        out.append(Case(f"JWK {label}", t, UnusableKeyError, options={"jwks": jwks}))
    # Two JWKs under one kid: which one signs is ambiguous, so neither is used.
    dup = {"keys": [*good, rsa_jwk(key, "k-dup"), rsa_jwk(attacker_key(), "k-dup")]}
    out.append(
        Case(
            "JWK duplicate kid",
            token({"alg": "RS256", "kid": "k-dup"}, p, key),
            UnusableKeyError,
            options={"jwks": dup},
        )
    )
    return out


def signature_tampering(pool: LocalUserPool) -> list[Case]:
    good = pool.id_token()
    h_seg, p_seg, s_seg = good.split(".")
    sig = base64.urlsafe_b64decode(s_seg + "==")
    flipped = bytearray(sig)
    flipped[len(sig) // 2] ^= 0x01
    last_bit = bytearray(sig)
    last_bit[-1] ^= 0x01
    n = pool.private_key.public_key().public_numbers().n
    other = pool.id_token("mallory")
    ones = b64url(b"\xff" * 256)
    forged = b64url(json.dumps(claims(pool, sub="someone-else")).encode())
    return [
        Case("signature stripped (empty)", f"{h_seg}.{p_seg}.", InvalidSignatureError),
        Case("signature segment missing", f"{h_seg}.{p_seg}", MalformedTokenError),
        Case(
            "signature truncated by one byte",
            f"{h_seg}.{p_seg}.{b64url(sig[:-1])}",
            InvalidSignatureError,
        ),
        Case(
            "signature truncated to half",
            f"{h_seg}.{p_seg}.{b64url(sig[:128])}",
            InvalidSignatureError,
        ),
        Case(
            "signature segment cut mid-character",
            f"{h_seg}.{p_seg}.{s_seg[:-1]}",
            MalformedTokenError,
        ),
        Case(
            "signature one bit flipped",
            f"{h_seg}.{p_seg}.{b64url(bytes(flipped))}",
            InvalidSignatureError,
        ),
        Case(
            "signature last bit flipped",
            f"{h_seg}.{p_seg}.{b64url(bytes(last_bit))}",
            InvalidSignatureError,
        ),
        Case(
            "signature with a byte appended",
            f"{h_seg}.{p_seg}.{b64url(sig + b'0')}",
            InvalidSignatureError,
        ),
        Case("signature all zero", f"{h_seg}.{p_seg}.{b64url(bytes(256))}", InvalidSignatureError),
        Case(
            "signature equal to modulus",
            f"{h_seg}.{p_seg}.{b64url(n.to_bytes(256, 'big'))}",
            InvalidSignatureError,
        ),
        Case("signature all ones", f"{h_seg}.{p_seg}.{ones}", InvalidSignatureError),
        Case("signature from another key", signed_by(pool, attacker_key()), InvalidSignatureError),
        Case(
            "signature of another token",
            f"{h_seg}.{p_seg}.{other.split('.')[2]}",
            InvalidSignatureError,
        ),
        Case(
            "payload swapped under a valid signature",
            f"{h_seg}.{forged}.{s_seg}",
            InvalidSignatureError,
        ),
    ]


def signed_by(pool: LocalUserPool, key: rsa.RSAPrivateKey) -> str:
    return token(header(pool), claims(pool), key)


def not_an_object(pool: LocalUserPool) -> list[Case]:
    out = []
    for text in ("[]", '["RS256"]', '"RS256"', "42", "null", "true", "", " ", "{", "{}}"):
        h_tok = token(text, claims(pool), pool.private_key)
        out.append(Case(f"header {text!r}", h_tok, MalformedTokenError))
        p_tok = token(header(pool), text, pool.private_key)
        out.append(Case(f"payload {text!r}", p_tok, MalformedTokenError))
    return out


def duplicate_claims(pool: LocalUserPool) -> list[Case]:
    key = pool.private_key
    h_text = json.dumps(header(pool), separators=(",", ":"))
    return [
        Case(
            "duplicate token_use",
            token(header(pool), raw_payload(pool, ',"token_use":"access"'), key),
            MalformedTokenError,
        ),
        Case(
            "duplicate exp",
            token(header(pool), raw_payload(pool, ',"exp":99999999999'), key),
            MalformedTokenError,
        ),
        Case(
            "duplicate via escape",
            token(header(pool), raw_payload(pool, ',"\\u0065xp":1'), key),
            MalformedTokenError,
        ),
        Case(
            "duplicate aud",
            token(header(pool), raw_payload(pool, ',"aud":"evil-client"'), key),
            MalformedTokenError,
        ),
        Case(
            "duplicate alg in header",
            token(h_text[:-1] + ',"alg":"none"}', claims(pool), key),
            MalformedTokenError,
        ),
        Case(
            "duplicate kid in header",
            token(h_text[:-1] + ',"kid":"x"}', claims(pool), key),
            MalformedTokenError,
        ),
        # Conflicting claims: each token kind is judged by its own client claim only.
        Case(
            "id token: aud other, client_id ours",
            signed(pool, aud="evil-client", client_id="client-a"),
            InvalidClientError,
        ),
        Case(
            "access token: client_id other, aud ours",
            signed(pool, "access", client_id="evil-client", aud="client-a"),
            InvalidClientError,
            token_use="access",
        ),
        Case("groups as a string", signed(pool, **{"cognito:groups": "admin"}), InvalidClaimError),
        Case(
            "groups with a non-string",
            signed(pool, **{"cognito:groups": ["admin", 1]}),
            InvalidClaimError,
        ),
        Case(
            "scope as a list",
            signed(pool, "access", scope=["admin"]),
            InvalidClaimError,
            token_use="access",
        ),
        Case("sub missing", signed(pool, sub=None), InvalidClaimError),
        Case("sub empty", signed(pool, sub=""), InvalidClaimError),
        Case("sub a number", signed(pool, sub=7), InvalidClaimError),
    ]


def _with_raw(pool: LocalUserPool, name: str, raw: str) -> str:
    """Valid claims as JSON text with claim ``name`` replaced by the raw JSON ``raw``."""
    text = json.dumps(claims(pool, **{name: None}), separators=(",", ":"))
    return text[:-1] + f',"{name}":{raw}}}'


def numeric_dates(pool: LocalUserPool) -> list[Case]:
    now = int(pool.clock())
    key = pool.private_key
    h = header(pool)
    out = []
    for name in ("exp", "iat", "nbf"):
        for value in ("1900000000", True, False, [now], {"t": now}, "", 10**400, -(10**400)):
            out.append(
                Case(
                    f"{name} = {str(value)[:20]!r}",
                    signed(pool, **{name: value}),
                    InvalidClaimError,
                )
            )
        out.append(
            Case(f"{name} null", token(h, _with_raw(pool, name, "null"), key), InvalidClaimError)
        )
        # NaN/Infinity are not JSON; 5000 digits is past Python's int-parsing limit.
        for raw in ("NaN", "Infinity", "-Infinity", "1" * 5000):
            text = _with_raw(pool, name, raw)
            out.append(Case(f"{name} raw {raw[:10]}", token(h, text, key), MalformedTokenError))
        # Valid JSON numbers that parse to +/-inf as floats.
        for raw in ("1e309", "-1e309", "1" + "0" * 400 + ".0"):
            text = _with_raw(pool, name, raw)
            out.append(Case(f"{name} {raw[:8]} (inf)", token(h, text, key), InvalidClaimError))
    out += [
        Case("exp missing", signed(pool, exp=None), InvalidClaimError),
        Case("iat missing", signed(pool, iat=None), InvalidClaimError),
        Case("exp negative", signed(pool, exp=-1), TokenExpiredError),
        Case("exp zero", signed(pool, exp=0), TokenExpiredError),
        Case("exp -0.0", signed(pool, exp=-0.0), TokenExpiredError),
        Case("exp 5e-324", signed(pool, exp=5e-324), TokenExpiredError),
        Case("exp equal to now", signed(pool, exp=now), TokenExpiredError),
        Case("exp now - 0.5", signed(pool, exp=now - 0.5), TokenExpiredError),
        # (5 s ahead is tolerated by default: clock_skew.)
        Case("iat in the future", signed(pool, iat=now + 6), TokenNotYetValidError),
        Case("iat 5.5 s ahead", signed(pool, iat=now + 5.5), TokenNotYetValidError),
        Case("iat max float", signed(pool, iat=1.7976931348623157e308), TokenNotYetValidError),
        Case(
            "iat max int-as-float",
            signed(pool, iat=int(1.7976931348623157e308)),
            TokenNotYetValidError,
        ),
        Case("nbf in the future", signed(pool, nbf=now + 6), TokenNotYetValidError),
        Case("nbf max float", signed(pool, nbf=1.7976931348623157e308), TokenNotYetValidError),
    ]
    return out


def issuer_confusion(pool: LocalUserPool) -> list[Case]:
    iss = pool.issuer
    updated = iss.replace("https://cognito-idp.", "https://issuer-cognito-idp.")
    bad = {
        "trailing slash": iss + "/",
        "other region": iss.replace("eu-west-1.", "us-east-1."),
        "http scheme": iss.replace("https:", "http:"),
        "other pool": iss[:-1] + "2",
        "upper case": iss.upper(),
        "query string": iss + "?x=1",
        "fragment": iss + "#x",
        "path traversal": iss + "/../" + pool.user_pool_id,
        "leading space": " " + iss,
        "userinfo": iss.replace("https://", "https://evil@"),
        "attacker host": f"https://evil.invalid/{pool.user_pool_id}",
        "empty": "",
        "list": [iss],
        "number": 1,
        "missing": None,
    }
    out = [
        Case(f"iss {label}", signed(pool, iss=value), InvalidIssuerError)
        for label, value in bad.items()
    ]
    out.append(
        Case(
            "iss updated form when only original allowed",
            signed(pool, iss=updated),
            InvalidIssuerError,
            options={"issuer_format": "original"},
        )
    )
    out.append(
        Case(
            "iss original form when only updated allowed",
            signed(pool, iss=iss),
            InvalidIssuerError,
            options={"issuer_format": "updated"},
        )
    )
    return out


def client_confusion(pool: LocalUserPool) -> list[Case]:
    return [
        Case("aud as a list", signed(pool, aud=["client-a"]), InvalidClientError),
        Case("aud empty", signed(pool, aud=""), InvalidClientError),
        Case("aud other client", signed(pool, aud="client-z"), InvalidClientError),
        Case("aud missing", signed(pool, aud=None), InvalidClientError),
        Case("aud other case", signed(pool, aud="CLIENT-A"), InvalidClientError),
        Case("aud with space", signed(pool, aud="client-a "), InvalidClientError),
        Case(
            "aud of another configured verifier",
            signed(pool, aud="client-b"),
            InvalidClientError,
            options={"client_id": "client-a"},
        ),
        Case(
            "client_id as a list",
            signed(pool, "access", client_id=["client-a"]),
            InvalidClientError,
            token_use="access",
        ),
        Case(
            "client_id missing",
            signed(pool, "access", client_id=None),
            InvalidClientError,
            token_use="access",
        ),
        Case(
            "client_id other",
            signed(pool, "access", client_id="client-z"),
            InvalidClientError,
            token_use="access",
        ),
    ]


def token_use_confusion(pool: LocalUserPool) -> list[Case]:
    out = [
        Case("token_use missing", signed(pool, token_use=None), InvalidTokenUseError),
        Case(
            "access token to an id verifier",
            pool.access_token(),
            InvalidTokenUseError,
            token_use="id",
        ),
        Case(
            "id token to an access verifier",
            pool.id_token(),
            InvalidTokenUseError,
            token_use="access",
        ),
    ]
    for value in ("ID", "Id", "Access", "ACCESS", "refresh", "id ", "", ["id"], 1):
        out.append(
            Case(f"token_use {value!r}", signed(pool, token_use=value), InvalidTokenUseError)
        )
        out.append(
            Case(
                f"token_use {value!r}, any kind",
                signed(pool, token_use=value),
                InvalidTokenUseError,
                token_use=None,
            )
        )
    return out


def refresh_token_and_segments(pool: LocalUserPool) -> list[Case]:
    jwe_header = enc({"cty": "JWT", "enc": "A256GCM", "alg": "RSA-OAEP"})
    parts = [b64url(os.urandom(n)) for n in (256, 12, 700, 16)]
    refresh = ".".join([jwe_header, *parts])
    good = pool.id_token()
    return [
        Case("refresh token (JWE, 5 segments)", refresh, MalformedTokenError),
        Case("1 segment", good.replace(".", ""), MalformedTokenError),
        Case("2 segments", good.rsplit(".", 1)[0], MalformedTokenError),
        Case("4 segments", good + ".AAAA", MalformedTokenError),
        Case("6 segments", good + ".A.B.C", MalformedTokenError),
        Case("only dots", "..", MalformedTokenError),
        Case("empty string", "", MalformedTokenError),
        Case("None", None, MalformedTokenError),
        Case("int", 12345, MalformedTokenError),
        Case("dict", {"token": good}, MalformedTokenError),
        Case("list", good.split("."), MalformedTokenError),
        Case("bytes with non-ASCII", good.encode() + b"\xff", MalformedTokenError),
    ]


def foreign_characters(pool: LocalUserPool) -> list[Case]:
    good = pool.id_token()
    h_seg, p_seg, s_seg = good.split(".")
    mid = len(p_seg) // 2
    out = []
    for ch in (
        "é",
        "\u0000",
        "\n",
        "\t",
        "\u200b",
        "ｅ",
        "٣",
        "\ud800",
        "+",
        "/",
        "%",
        "\\",
        "=",
        "\u00a0",
    ):
        out.append(
            Case(
                f"{ch!r} in payload", f"{h_seg}.{p_seg[:mid]}{ch}{p_seg[mid:]}", MalformedTokenError
            )
        )
        out.append(Case(f"{ch!r} in header", f"{ch}{h_seg}.{p_seg}.{s_seg}", MalformedTokenError))
        out.append(
            Case(f"{ch!r} in signature", f"{h_seg}.{p_seg}.{s_seg}{ch}", MalformedTokenError)
        )
    # Valid base64url of bytes that are not UTF-8, and UTF-8 BOM before JSON.
    out.append(
        Case(
            "header not UTF-8",
            token(b"\xff\xfe{}", claims(pool), pool.private_key),
            MalformedTokenError,
        )
    )
    out.append(
        Case(
            "payload not UTF-8",
            token(header(pool), b'{"a":"\xc0\xaf"}', pool.private_key),
            MalformedTokenError,
        )
    )
    out.append(
        Case(
            "payload with BOM",
            token(
                header(pool), b"\xef\xbb\xbf" + json.dumps(claims(pool)).encode(), pool.private_key
            ),
            MalformedTokenError,
        )
    )
    out.append(
        Case(
            "raw control char in JSON string",
            token(header(pool), raw_payload(pool, ',"x":"a\u0001b"'), pool.private_key),
            MalformedTokenError,
        )
    )
    return out


def whitespace_and_padding(pool: LocalUserPool) -> list[Case]:
    good = pool.id_token()
    h_seg, p_seg, s_seg = good.split(".")

    def pad(s: str) -> str:
        return s + "=" * (-len(s) % 4)

    standard = good.replace("-", "+").replace("_", "/")
    out = [
        Case("leading space", " " + good, MalformedTokenError),
        Case("trailing newline", good + "\n", MalformedTokenError),
        Case("trailing CRLF", good + "\r\n", MalformedTokenError),
        Case("Bearer prefix left on", "Bearer " + good, MalformedTokenError),
        Case("space after a dot", f"{h_seg}. {p_seg}.{s_seg}", MalformedTokenError),
        Case("padded signature", f"{h_seg}.{p_seg}.{pad(s_seg)}", MalformedTokenError),
        Case(
            "padded segments",
            ".".join(pad(s) + "==" for s in (h_seg, p_seg, s_seg)),
            MalformedTokenError,
        ),
        Case("quoted token", f'"{good}"', MalformedTokenError),
    ]
    if standard != good:
        out.append(Case("standard base64 alphabet", standard, MalformedTokenError))
    # Non-canonical base64url: same bytes, different text (unused low bits set).
    last = s_seg[-1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    if len(s_seg) % 4 in (2, 3):
        bump = alphabet[alphabet.index(last) + 1]
        out.append(
            Case(
                "non-canonical signature bits",
                f"{h_seg}.{p_seg}.{s_seg[:-1]}{bump}",
                MalformedTokenError,
            )
        )
    return out


def oversized(pool: LocalUserPool) -> list[Case]:
    good = pool.id_token()
    h_seg, p_seg, s_seg = good.split(".")
    big_claims = claims(pool, filler="x" * 40_000)
    return [
        Case("1 MB of garbage", "A" * 1_000_000, MalformedTokenError),
        Case("1 MB of dots", "." * 1_000_000, MalformedTokenError),
        Case("1 MB token (bytes)", b"A" * 1_000_000, MalformedTokenError),
        Case(
            "1 MB padded payload", f"{h_seg}.{p_seg}{'A' * 1_000_000}.{s_seg}", MalformedTokenError
        ),
        Case(
            "40 KB signed payload",
            token(header(pool), big_claims, pool.private_key),
            MalformedTokenError,
        ),
        Case(
            "over a lowered limit",
            good,
            MalformedTokenError,
            options={"max_token_length": 256},
        ),
    ]


def deep_nesting(pool: LocalUserPool) -> list[Case]:
    key = pool.private_key
    out = []
    for depth in (17, 100, 10_000):
        arr = "[" * depth + "]" * depth
        obj = '{"a":' * depth + "1" + "}" * depth
        out.append(
            Case(
                f"payload array depth {depth}",
                token(header(pool), raw_payload(pool, f',"x":{arr}'), key),
                MalformedTokenError,
            )
        )
        out.append(
            Case(
                f"payload object depth {depth}",
                token(header(pool), raw_payload(pool, f',"x":{obj}'), key),
                MalformedTokenError,
            )
        )
        h_text = json.dumps(header(pool), separators=(",", ":"))[:-1] + f',"x":{arr}}}'
        out.append(
            Case(f"header depth {depth}", token(h_text, claims(pool), key), MalformedTokenError)
        )
    return out


#: name -> builder; test_advisories has one test per entry, test_no_secrets replays all.
ATTACKS: dict[str, Callable[[LocalUserPool], list[Case]]] = {
    "alg_none": alg_none,
    "hmac_with_public_key": hmac_with_public_key,
    "other_algorithms": other_algorithms,
    "kid_tricks": kid_tricks,
    "header_supplied_keys": header_supplied_keys,
    "crit_extensions": crit_extensions,
    "unusable_jwks_keys": unusable_jwks_keys,
    "signature_tampering": signature_tampering,
    "not_an_object": not_an_object,
    "duplicate_claims": duplicate_claims,
    "numeric_dates": numeric_dates,
    "issuer_confusion": issuer_confusion,
    "client_confusion": client_confusion,
    "token_use_confusion": token_use_confusion,
    "refresh_token_and_segments": refresh_token_and_segments,
    "foreign_characters": foreign_characters,
    "whitespace_and_padding": whitespace_and_padding,
    "oversized": oversized,
    "deep_nesting": deep_nesting,
}
