"""Differential test: our own compact-JWS parser never accepts what pyjwt rejects.

cognito_verify splits and decodes tokens itself (for speed) instead of calling
``jwt.decode``. Thousands of valid and mutated tokens go to both, pyjwt given the
same RSA key and the same claim requirements (exp/iat required, issuer, audience
for ID tokens; token_use and client_id checked by hand after decoding, as pyjwt
has no notion of them). Whatever we accept, pyjwt must accept too, with the same
payload. We may refuse more (we are stricter about base64, JSON and claim types).
The generator is seeded, so a failure reproduces.
"""

from __future__ import annotations

import json
import random
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from cognito_verify import CognitoVerifier, CognitoVerifyError, MalformedTokenError, _token
from cognito_verify.testing import LocalUserPool, b64url, encode_token

SEED = 20261122
CLIENT = "client-a"
B64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
ODD_CHARS = "=+/ .\n\t~!%"


@pytest.fixture(scope="module")
def setting() -> Iterator[tuple[LocalUserPool, rsa.RSAPrivateKey]]:
    # Real time: pyjwt reads the system clock and cannot be given ours.
    pool = LocalUserPool("eu-west-1_Differential1", (CLIENT, "client-b"), clock=time.time)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    yield pool, other


def pyjwt_accepts(pool: LocalUserPool, token: str, token_use: str) -> dict[str, Any] | None:
    """pyjwt's verdict with the Cognito rules we enforce; None when it refuses."""
    public = pool.private_key.public_key()
    try:
        payload: dict[str, Any] = jwt.decode(
            token,
            key=public,
            algorithms=["RS256"],
            issuer=pool.issuer,
            audience=CLIENT if token_use == "id" else None,
            # Access tokens carry no aud and we do not look at one: pyjwt would refuse
            # any aud when no audience is given, a policy choice, not parsing.
            options={"require": ["exp", "iat"], "verify_aud": token_use == "id"},
            # Our clock_skew lets iat/nbf be 5 s ahead; pyjwt's leeway covers that (and
            # also lets exp pass 5 s late, where we are stricter: refusing more is fine).
            leeway=5,
        )
    except jwt.PyJWTError:
        return None
    if payload.get("token_use") != token_use:
        return None
    if token_use == "access" and payload.get("client_id") != CLIENT:
        return None
    return payload


def ours_accepts(verifier: CognitoVerifier, token: str) -> dict[str, Any] | None:
    try:
        return verifier.verify(token).to_dict()
    except CognitoVerifyError:
        return None


# --- mutations ---------------------------------------------------------------------


def _segments(token: str) -> list[str]:
    return token.split(".")


def flip_char(rng: random.Random, token: str, _: Any) -> str:
    i = rng.randrange(len(token))
    pool = B64_ALPHABET if rng.random() < 0.8 else ODD_CHARS
    return token[:i] + rng.choice(pool) + token[i + 1 :]


def flip_last_char_of_segment(rng: random.Random, token: str, _: Any) -> str:
    # The last character carries unused bits: non-canonical forms decode the same.
    segs = _segments(token)
    n = rng.randrange(3)
    if segs[n]:
        segs[n] = segs[n][:-1] + rng.choice(B64_ALPHABET)
    return ".".join(segs)


def insert_or_delete(rng: random.Random, token: str, _: Any) -> str:
    i = rng.randrange(len(token))
    if rng.random() < 0.5:
        return token[:i] + token[i + 1 :]
    return token[:i] + rng.choice(B64_ALPHABET + ODD_CHARS) + token[i:]


def pad_segment(rng: random.Random, token: str, _: Any) -> str:
    segs = _segments(token)
    n = rng.randrange(3)
    segs[n] += rng.choice(["=", "==", "===", " ", "\n"])
    return ".".join(segs)


def swap_segments(rng: random.Random, token: str, other_token: Any) -> str:
    segs, others = _segments(token), _segments(other_token)
    n = rng.randrange(3)
    segs[n] = others[n]
    return ".".join(segs)


def segment_count(rng: random.Random, token: str, _: Any) -> str:
    segs = _segments(token)
    return rng.choice([".".join(segs[:2]), token + ".", token + "." + segs[1], "." + token])


def _payload(token: str) -> dict[str, Any]:
    raw = _segments(token)[1]
    return dict(json.loads(jwt.utils.base64url_decode(raw)))


def _resign(pool: LocalUserPool, header: dict[str, Any], payload: dict[str, Any]) -> str:
    return encode_token(header, payload, pool.private_key)


def resign_header(rng: random.Random, token: str, ctx: Any) -> str:
    pool, other = ctx
    header: dict[str, Any] = {"kid": pool.kid, "alg": "RS256"}
    change = rng.randrange(8)
    if change == 0:
        header["alg"] = rng.choice(["none", "None", "HS256", "RS384", "PS256", "ES256", "rs256"])
    elif change == 1:
        del header["alg"]
    elif change == 2:
        header["kid"] = rng.choice(["", "unknown", 7, None, pool.kid + "x"])
    elif change == 3:
        del header["kid"]
    elif change == 4:
        header["crit"] = ["exp"]
    elif change == 5:
        header["jku"] = "https://attacker.example/jwks.json"
    elif change == 6:
        header["typ"] = "JWT"
    else:  # another key under our kid
        return encode_token(header, _payload(token), other)
    return _resign(pool, header, _payload(token))


def resign_claims(rng: random.Random, token: str, ctx: Any) -> str:
    pool, _ = ctx
    payload = _payload(token)
    now = int(time.time())
    name = rng.choice(
        ["exp", "iat", "nbf", "iss", "aud", "client_id", "token_use", "sub", "cognito:groups"]
    )
    value = rng.choice(
        [
            None,
            "",
            "x",
            now - 100,
            now + 3600,
            float(now + 60),
            True,
            [CLIENT],
            CLIENT,
            "client-b",
            "id",
            "access",
            pool.issuer + "/",
            {"a": 1},
            10**400,
        ]
    )
    if rng.random() < 0.25:
        payload.pop(name, None)
    else:
        payload[name] = value
    return _resign(pool, {"kid": pool.kid, "alg": "RS256"}, payload)


def duplicate_member(rng: random.Random, token: str, ctx: Any) -> str:
    # Raw JSON with a repeated name: which value wins differs between parsers.
    pool, _ = ctx
    head = {"kid": pool.kid, "alg": "RS256"}
    body = json.dumps(_payload(token), separators=(",", ":"))
    name = rng.choice(["token_use", "iss", "exp", "aud", "client_id"])
    body = body[:-1] + f',"{name}":"evil"}}'
    signing_input = f"{b64url(json.dumps(head).encode())}.{b64url(body.encode())}"
    sig = pool.private_key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url(sig)}"


CHEAP: list[Callable[[random.Random, str, Any], str]] = [
    flip_char,
    flip_last_char_of_segment,
    insert_or_delete,
    pad_segment,
    segment_count,
]
SIGNED = [resign_header, resign_claims, duplicate_member]


def _valid_tokens(rng: random.Random, pool: LocalUserPool, token_use: str, n: int) -> list[str]:
    tokens = []
    for i in range(n):
        groups = rng.sample(["admin", "users", "ops", "ünïcode", "a\\b"], rng.randrange(4))
        if token_use == "id":
            tokens.append(pool.id_token(f"user{i}", groups=groups, client_id=CLIENT))
        else:
            tokens.append(pool.access_token(f"user{i}", groups=groups, client_id=CLIENT))
    return tokens


@pytest.mark.parametrize("token_use", ["id", "access"])
def test_never_accept_what_pyjwt_rejects(
    setting: tuple[LocalUserPool, rsa.RSAPrivateKey], token_use: str
) -> None:
    pool, other = setting
    rng = random.Random(f"{SEED}-{token_use}")
    verifier = pool.verifier(token_use=token_use, client_id=CLIENT)  # type: ignore[arg-type]
    valid = _valid_tokens(rng, pool, token_use, 40)
    counts = {"both": 0, "pyjwt_only": 0, "neither": 0, "mutants": 0}

    def compare(token: str) -> None:
        ours = ours_accepts(verifier, token)
        theirs = pyjwt_accepts(pool, token, token_use)
        if ours is not None:
            assert theirs is not None, f"we accepted a token pyjwt refuses: {token!r}"
            assert ours == theirs
            counts["both"] += 1
        else:
            counts["pyjwt_only" if theirs is not None else "neither"] += 1

    for token in valid:  # every valid token is accepted by both, then cached by us
        compare(token)
        compare(token)
    assert counts["both"] == 2 * len(valid)

    for token in valid:
        for _ in range(50):
            mutate = rng.choice(CHEAP)
            compare(mutate(rng, token, rng.choice(valid)))
            counts["mutants"] += 1
        for _ in range(4):
            compare(rng.choice(SIGNED)(rng, token, (pool, other)))
            counts["mutants"] += 1

    assert counts["mutants"] >= 2000
    assert counts["neither"] > counts["mutants"] // 2  # the mutations do bite


def _shape_token(pool: LocalUserPool, shape: str, i: int) -> str:
    """The six token shapes of the instruction benchmark (benchmarks/instructions.py)."""
    user = f"shape-user{i}"
    if shape == "id":
        return pool.id_token(user, groups=["users"], client_id=CLIENT)
    if shape == "access":
        return pool.access_token(user, groups=["users"], client_id=CLIENT)
    if shape == "machine":
        return pool.client_credentials_token(
            scopes=("orders-api/orders.read", "orders-api/orders.write"), client_id=CLIENT
        )
    if shape == "groups50":
        groups = [f"{pool.user_pool_id}_team-{n:02d}" for n in range(50)]
        return pool.access_token(user, groups=groups, client_id=CLIENT)
    if shape == "size4k":
        attrs = {f"custom:attr{n:02d}": "v" * 40 for n in range(45)}
        return pool.id_token(user, groups=["users"], client_id=CLIENT, claims=attrs)
    # The bench's realistic federated ID token: groups, custom attribute, identities.
    return pool.id_token(
        f"google_10{i:016d}",
        groups=[f"{pool.user_pool_id}_Google", "orders-admins", "support"],
        email=f"user{i}@example.com",
        client_id=CLIENT,
        claims={
            "custom:tenant_id": "tenant-000042",
            "identities": [
                {"userId": f"10{i:016d}", "providerName": "Google", "primary": "true"}
            ],
        },
    )


SHAPES = ["id", "access", "machine", "groups50", "size4k", "realistic"]


@pytest.mark.parametrize("shape", SHAPES)
def test_every_benchmarked_shape_agrees_with_pyjwt(
    setting: tuple[LocalUserPool, rsa.RSAPrivateKey], shape: str
) -> None:
    pool, other = setting
    token_use = "access" if shape in ("access", "machine", "groups50") else "id"
    rng = random.Random(f"{SEED}-{shape}")
    verifier = pool.verifier(token_use=token_use, client_id=CLIENT)  # type: ignore[arg-type]
    valid = [_shape_token(pool, shape, i) for i in range(6)]
    if shape == "size4k":
        assert len(valid[0]) >= 4000
    counts = {"both": 0, "neither": 0, "pyjwt_only": 0}

    def compare(token: str) -> None:
        ours = ours_accepts(verifier, token)
        theirs = pyjwt_accepts(pool, token, token_use)
        if ours is not None:
            assert theirs is not None, f"we accepted a token pyjwt refuses: {token!r}"
            assert ours == theirs
            counts["both"] += 1
        else:
            counts["pyjwt_only" if theirs is not None else "neither"] += 1

    for token in valid:
        compare(token)
        compare(token)  # from the token cache
    assert counts["both"] == 2 * len(valid)
    for token in valid:
        for _ in range(40):
            compare(rng.choice(CHEAP)(rng, token, rng.choice(valid)))
        for _ in range(4):
            compare(rng.choice(SIGNED)(rng, token, (pool, other)))
    assert counts["neither"] > 100


@pytest.mark.skipif(sys.version_info < (3, 11), reason="binascii strict_mode is Python 3.11+")
def test_strict_base64url_decoder_equals_the_regex_one() -> None:
    # The fast decoder (no regex) must give the same bytes or the same error as the
    # reference one, on the base64url alphabet mixed with every near-miss character.
    rng = random.Random(SEED)
    alphabet = B64_ALPHABET + "+/= \n.é\x00"

    def outcome(decode: Callable[[str, str], bytes], segment: str) -> object:
        try:
            return decode(segment, "payload")
        except MalformedTokenError as exc:
            return exc.message

    for _ in range(50_000):
        chars = alphabet if rng.random() < 0.3 else B64_ALPHABET
        segment = "".join(rng.choice(chars) for _ in range(rng.randrange(12)))
        assert outcome(_token._b64_strict, segment) == outcome(_token._b64_regex, segment), segment
