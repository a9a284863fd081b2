"""AlbVerifier: x-amzn-oidc-data tokens minted by LocalAlb exactly as the load balancer
does, verified against a real loopback key server (one PEM per kid)."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from cognito_verify import (
    AlbVerifier,
    Claims,
    CognitoVerifyError,
    ConfigurationError,
    JWKSError,
    KeyPolicy,
    UnknownKeyError,
)
from cognito_verify.testing import AlbKeyServer, LocalAlb, LocalUserPool, b64url
from tests.conftest import Clock

ARN = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188"
OTHER_ARN = ARN.replace("123456789012", "210987654321")
ISSUER = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AlbPool01"
OTHER_ISSUER = ISSUER.replace("AlbPool01", "Other")


@pytest.fixture
def alb(clock: Clock) -> LocalAlb:
    return LocalAlb(ARN, issuer=ISSUER, client_id="alb-client", clock=clock)


@pytest.fixture
def server(alb: LocalAlb) -> Iterator[AlbKeyServer]:
    with alb.serve() as s:
        yield s


class KeyClock(Clock):
    """The monotonic clock of the key policy, driven apart from the wall clock."""

    def __init__(self) -> None:
        super().__init__(1000.0)


@pytest.fixture
def key_clock() -> KeyClock:
    return KeyClock()


@pytest.fixture
def verifier(
    alb: LocalAlb, server: AlbKeyServer, clock: Clock, key_clock: KeyClock
) -> Iterator[AlbVerifier]:
    with alb.verifier(server.public_keys_url, clock=clock, monotonic=key_clock) as v:
        yield v


@pytest.fixture(params=["sync", "async"])
def run(request: pytest.FixtureRequest) -> Callable[[AlbVerifier, Any], Claims]:
    def call(v: AlbVerifier, token: Any) -> Claims:
        if request.param == "sync":
            return v.verify(token)
        return asyncio.run(v.averify(token))

    return call


def refused(run: Callable[[AlbVerifier, Any], Claims], v: AlbVerifier, token: Any) -> str:
    with pytest.raises(CognitoVerifyError) as info:
        run(v, token)
    return info.value.code


def segments(token: str) -> list[str]:
    return token.split(".")


def decode(segment: str) -> dict[str, Any]:
    return dict(json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))))


# --- accepted -------------------------------------------------------------------------


def test_local_alb_token_has_the_load_balancers_shape(alb: LocalAlb, clock: Clock) -> None:
    token = alb.data_token("bob")
    h, p, s = segments(token)
    assert decode(h) == {
        "typ": "JWT",
        "kid": alb.kid,
        "alg": "ES256",
        "iss": ISSUER,
        "client": "alb-client",
        "signer": ARN,
        "exp": int(clock.now) + 120,
    }
    assert decode(p)["username"] == "bob" and decode(p)["sub"] == alb.sub("bob")
    # Padded base64url, as AWS documents: every segment a multiple of 4 long.
    assert all(len(part) % 4 == 0 for part in (h, p, s))
    assert "=" in s  # 64 signature bytes always need one "="
    assert "+" not in token and "/" not in token


def test_padded_and_unpadded_tokens_verify(
    run: Callable[..., Claims], verifier: AlbVerifier, alb: LocalAlb
) -> None:
    for padded in (True, False):
        claims = run(verifier, alb.data_token("carol", padded=padded))
        assert claims.sub == alb.sub("carol") and claims["email"] == "alice@example.com"
    # bytes-like tokens are accepted like str, as CognitoVerifier accepts them
    raw = alb.data_token().encode()
    for token in (raw, bytearray(raw), memoryview(raw)):
        assert run(verifier, token).username == "alice"
    # and bounded before they are decoded
    huge = memoryview(b"a" * 20_000)
    assert refused(run, verifier, huge) == "malformed_token"


def test_signature_padding_may_be_dropped_but_signed_padding_may_not(
    run: Callable[..., Claims], verifier: AlbVerifier, alb: LocalAlb
) -> None:
    # Pick a username whose header and payload both need padding.
    token = next(
        t
        for t in (alb.data_token(f"user{i}") for i in range(12))
        if all(part.endswith("=") for part in segments(t))
    )
    h, p, s = segments(token)
    # The signature segment is not signed: without its "=" it is the same 64 bytes.
    assert run(verifier, f"{h}.{p}.{s.rstrip('=')}").username.startswith("user")
    # The load balancer signed the padded text: stripping it changes what was signed.
    assert refused(run, verifier, f"{h.rstrip('=')}.{p}.{s}") == "invalid_signature"
    assert refused(run, verifier, f"{h}.{p.rstrip('=')}.{s}") == "invalid_signature"


@pytest.mark.parametrize(
    "mangle",
    [
        lambda h: h + "=",  # one "=" too many
        lambda h: h + "==",
        lambda h: h.rstrip("=") + "===",
        lambda h: h[:4] + "=" + h[4:],  # padding in the middle
    ],
    ids=["extra", "extra2", "triple", "middle"],
)
def test_wrong_padding_is_malformed(
    run: Callable[..., Claims], verifier: AlbVerifier, alb: LocalAlb, mangle: Any
) -> None:
    h, p, s = segments(alb.data_token())
    assert refused(run, verifier, f"{mangle(h)}.{p}.{s}") == "malformed_token"
    assert refused(run, verifier, f"{h}.{p}.{mangle(s)}") in ("malformed_token",)


def test_cognito_verifier_still_refuses_padding(pool: LocalUserPool, clock: Clock) -> None:
    verifier = pool.verifier(token_use="access", clock=clock)
    token = next(
        t for t in (pool.access_token(f"u{i}") for i in range(12)) if len(segments(t)[1]) % 4
    )
    h, p, s = segments(token)
    padded = f"{h}.{p}{'=' * (-len(p) % 4)}.{s}"
    with pytest.raises(CognitoVerifyError) as info:
        verifier.verify(padded)
    assert info.value.code == "malformed_token"
    assert verifier.verify(token).username.startswith("u")


def test_client_id_none_accepts_any_client(
    alb: LocalAlb, server: AlbKeyServer, clock: Clock
) -> None:
    with alb.verifier(server.public_keys_url, client_id=None, clock=clock) as v:
        assert v.verify(alb.data_token(header={"client": "another-client"})).username == "alice"


# --- refused --------------------------------------------------------------------------


def test_other_signer_is_refused_before_any_key_request(
    run: Callable[..., Claims], verifier: AlbVerifier, alb: LocalAlb, server: AlbKeyServer
) -> None:
    other_account = LocalAlb(OTHER_ARN, issuer=ISSUER, client_id="alb-client")
    other_region = LocalAlb(ARN.replace("eu-west-1", "us-east-1"), issuer=ISSUER)
    for forger in (other_account, other_region):
        assert refused(run, verifier, forger.data_token()) == "invalid_signer"
    # Our own key, another signer named in the header: still refused (pinned ARN).
    assert refused(run, verifier, alb.data_token(header={"signer": OTHER_ARN})) == "invalid_signer"
    assert refused(run, verifier, alb.data_token(header={"signer": None})) == "invalid_header"
    assert server.request_count == 0


@pytest.mark.parametrize(
    ("header", "claims", "code"),
    [
        ({"client": "someone-else"}, None, "invalid_client"),
        ({"client": None}, None, "invalid_client"),
        ({"iss": OTHER_ISSUER}, None, "invalid_issuer"),
        ({"iss": None}, None, "invalid_issuer"),
        (None, {"iss": OTHER_ISSUER}, "invalid_issuer"),
        ({"exp": None}, None, "invalid_claim"),
        ({"exp": "1800000000"}, None, "invalid_claim"),
        (None, {"sub": None}, "invalid_claim"),
        ({"crit": ["exp"]}, None, "invalid_header"),
    ],
    ids=[
        "client",
        "no_client",
        "issuer",
        "no_issuer",
        "payload_issuer",
        "no_exp",
        "string_exp",
        "no_sub",
        "crit",
    ],
)
def test_claim_refusals(
    run: Callable[..., Claims],
    verifier: AlbVerifier,
    alb: LocalAlb,
    header: Any,
    claims: Any,
    code: str,
) -> None:
    assert refused(run, verifier, alb.data_token(header=header, claims=claims)) == code


def test_expired(
    run: Callable[..., Claims], verifier: AlbVerifier, alb: LocalAlb, clock: Clock
) -> None:
    token = alb.data_token()
    assert run(verifier, token).username == "alice"
    clock.advance(120)  # exactly exp: expired
    assert refused(run, verifier, token) == "token_expired"
    # a payload exp in the past is refused even when the header's is in the future
    assert refused(run, verifier, alb.data_token(claims={"exp": int(clock.now) - 1})) == (
        "token_expired"
    )


def test_leeway_covers_skew(alb: LocalAlb, server: AlbKeyServer, clock: Clock) -> None:
    token = alb.data_token()
    with alb.verifier(server.public_keys_url, clock=clock, leeway=5) as v:
        clock.advance(124)
        assert v.verify(token).username == "alice"
        clock.advance(1)
        with pytest.raises(CognitoVerifyError, match="expired"):
            v.verify(token)


@pytest.mark.parametrize("alg", ["ES384", "RS256", "HS256", "PS256", "EdDSA", "none", "None", None])
def test_algorithms_other_than_es256(
    run: Callable[..., Claims], verifier: AlbVerifier, alb: LocalAlb, alg: Any
) -> None:
    header = {"alg": alg} if alg is not None else {"alg": None}
    assert refused(run, verifier, alb.data_token(header=header)) == "unsupported_algorithm"


def test_unsigned_and_foreign_signatures(
    run: Callable[..., Claims], verifier: AlbVerifier, alb: LocalAlb, server: AlbKeyServer
) -> None:
    h, p, s = segments(alb.data_token())
    assert refused(run, verifier, f"{h}.{p}.") == "invalid_signature"
    # A DER signature (what a naive signer writes) is not the JWS r || s form.
    assert refused(run, verifier, f"{h}.{p}.{b64url(b'0' * 70)}") == "invalid_signature"
    # Signed by a key the endpoint does not publish under that kid.
    impostor = LocalAlb(ARN, issuer=ISSUER, client_id="alb-client")
    forged = impostor.sign(decode(h) | {"kid": alb.kid}, decode(p))
    assert refused(run, verifier, forged) == "invalid_signature"
    # A changed payload under the genuine signature.
    body = decode(p) | {"username": "admin"}
    tampered = f"{h}.{base64.urlsafe_b64encode(json.dumps(body).encode()).decode()}.{s}"
    assert refused(run, verifier, tampered) == "invalid_signature"


BAD_KIDS = [
    "../../etc/passwd",
    "..",
    "a/b",
    "12345678-1234-1234-1234-123456789012/../x",
    "12345678-1234-1234-1234-12345678901%2f",
    "%2e%2e%2f12345678-1234-1234-1234-123456789012",
    "evil.example.com",
    "@evil.example.com",
    "//evil.example.com/12345678-1234-1234-1234-123456789012",
    "http://evil.example.com/",
    "12345678-1234-1234-1234-123456789012?x=1",
    "12345678-1234-1234-1234-123456789012#",
    "12345678-1234-1234-1234-123456789012\n",
    " 12345678-1234-1234-1234-123456789012",
    "12345678123412341234123456789012",
    "",
    None,
    7,
    ["12345678-1234-1234-1234-123456789012"],
]


@pytest.mark.parametrize("kid", BAD_KIDS, ids=[repr(k) for k in BAD_KIDS])
def test_kids_that_are_not_uuids_never_reach_a_url(
    run: Callable[..., Claims],
    verifier: AlbVerifier,
    alb: LocalAlb,
    server: AlbKeyServer,
    kid: Any,
) -> None:
    token = alb.data_token(header={"kid": kid} if kid is not None else {"kid": None})
    assert refused(run, verifier, token) == "invalid_header"
    assert server.request_count == 0


def test_unknown_kid(
    run: Callable[..., Claims], verifier: AlbVerifier, alb: LocalAlb, server: AlbKeyServer
) -> None:
    kid = str(uuid.uuid4())
    assert refused(run, verifier, alb.data_token(header={"kid": kid})) == "unknown_key"
    assert server.requests == [f"/{kid}"]


def test_not_a_p256_key_at_the_url(alb: LocalAlb, clock: Clock) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    rsa_pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .public_key()
        .public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    )
    p384 = (
        ec.generate_private_key(ec.SECP384R1())
        .public_key()
        .public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    )
    cases = [
        (rsa_pem, "unusable_key"),
        (p384, "unusable_key"),
        (b"not a pem", "jwks_unavailable"),
        (b"-----BEGIN PUBLIC KEY-----\nAAAA\n", "jwks_unavailable"),
    ]
    for body, code in cases:
        with AlbKeyServer(lambda kid, body=body: body) as server:  # type: ignore[misc]
            with alb.verifier(server.public_keys_url, clock=clock) as v:
                with pytest.raises(CognitoVerifyError) as info:
                    v.verify(alb.data_token())
                assert info.value.code == code


# --- configuration --------------------------------------------------------------------


def test_configuration_errors() -> None:
    with pytest.raises(TypeError, match="client_id is required"):
        AlbVerifier(ARN, issuer=ISSUER)  # type: ignore[call-arg]
    for arn in (
        "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/net/web/50dc6c495c0c9188",
        "arn:aws:iam::123456789012:role/x",
        "eu-west-1",
        "",
        [],
    ):
        with pytest.raises(ConfigurationError):
            AlbVerifier(arn, client_id=None, issuer=ISSUER)
    with pytest.raises(ConfigurationError, match="public_keys_url="):
        AlbVerifier(ARN.replace("arn:aws:", "arn:aws-cn:"), client_id=None, issuer=ISSUER)
    with pytest.raises(ConfigurationError, match="http"):
        AlbVerifier(ARN, client_id=None, issuer=ISSUER, public_keys_url="http://keys.example.com")
    with pytest.raises(ConfigurationError):
        AlbVerifier(ARN, client_id=None, issuer=[])
    with pytest.raises(ConfigurationError):
        AlbVerifier(ARN, client_id=None, issuer=ISSUER, leeway=-1)


def test_key_urls_per_partition_and_region() -> None:
    gov = ARN.replace("arn:aws:", "arn:aws-us-gov:").replace("eu-west-1", "us-gov-west-1")
    east = ARN.replace("eu-west-1", "us-east-1")
    v = AlbVerifier([ARN, east, gov], client_id=None, issuer=ISSUER)
    urls = {arn: src.url for arn, src in v._by_signer.items()}
    assert urls == {
        ARN: "https://public-keys.auth.elb.eu-west-1.amazonaws.com",
        east: "https://public-keys.auth.elb.us-east-1.amazonaws.com",
        gov: "https://s3-us-gov-west-1.amazonaws.com/aws-elb-public-keys-prod-us-gov-west-1",
    }
    # One explicit URL serves every configured load balancer.
    v = AlbVerifier([ARN, east], client_id=None, issuer=ISSUER, public_keys_url="https://k.test")
    assert {src.url for src in v._by_signer.values()} == {"https://k.test"}


# --- key fetching ---------------------------------------------------------------------


@pytest.mark.parametrize("how", ["threads", "tasks"])
def test_single_flight_for_a_cold_kid(
    verifier: AlbVerifier, alb: LocalAlb, server: AlbKeyServer, how: str
) -> None:
    server.delay = 0.3  # everyone arrives while the first fetch is in flight
    tokens = [alb.data_token(f"user{i}") for i in range(16)]
    if how == "threads":
        results: list[Any] = []
        barrier = threading.Barrier(len(tokens))

        def work(token: str) -> None:
            barrier.wait(timeout=30)
            results.append(verifier.verify(token))

        threads = [threading.Thread(target=work, args=(t,)) for t in tokens]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    else:

        async def all_of_them() -> list[Claims]:
            return list(await asyncio.gather(*(verifier.averify(t) for t in tokens)))

        results = asyncio.run(all_of_them())
    assert len(results) == len(tokens)
    assert server.request_count == 1
    assert verifier.stats.fetches == 1


def test_invented_kids_cost_one_request_per_cooldown(
    verifier: AlbVerifier, alb: LocalAlb, server: AlbKeyServer, key_clock: KeyClock
) -> None:
    for _ in range(50):
        with pytest.raises(UnknownKeyError):
            verifier.verify(alb.data_token(header={"kid": str(uuid.uuid4())}))
    assert server.request_count == 1
    # During the cooldown even the genuine, never-fetched kid waits (it is cold too).
    with pytest.raises(UnknownKeyError):
        verifier.verify(alb.data_token())
    assert server.request_count == 1
    key_clock.advance(KeyPolicy().unknown_kid_cooldown)
    assert verifier.verify(alb.data_token()).username == "alice"
    assert server.request_count == 2
    # A known kid never waits for the cooldown; invented ones keep being cheap.
    for _ in range(20):
        with pytest.raises(UnknownKeyError):
            asyncio.run(verifier.averify(alb.data_token(header={"kid": str(uuid.uuid4())})))
        assert verifier.verify(alb.data_token()).username == "alice"
    assert server.request_count == 3
    assert verifier.stats.unknown_kid_rejections >= 70


def test_stale_key_serves_through_an_outage(
    verifier: AlbVerifier, alb: LocalAlb, server: AlbKeyServer, key_clock: KeyClock
) -> None:
    policy = KeyPolicy()
    assert verifier.verify(alb.data_token()).username == "alice"
    server.status = 503
    key_clock.advance(policy.max_age + 1)
    for _ in range(5):
        assert verifier.verify(alb.data_token()).username == "alice"
        assert asyncio.run(verifier.averify(alb.data_token())).username == "alice"
    stats = verifier.stats
    assert stats.stale_hits >= 1 and stats.fetch_failures == 1
    assert server.request_count == 2  # one refresh attempt, then back-off
    key_clock.advance(policy.max_stale)
    with pytest.raises(JWKSError):
        verifier.verify(alb.data_token())
    server.status = 200
    key_clock.advance(policy.retry_cap)
    assert verifier.verify(alb.data_token()).username == "alice"


def test_cold_kid_during_an_outage_is_503_and_backs_off(
    verifier: AlbVerifier, alb: LocalAlb, server: AlbKeyServer, key_clock: KeyClock
) -> None:
    server.status = 503
    with pytest.raises(JWKSError):
        verifier.verify(alb.data_token())
    for _ in range(10):
        with pytest.raises(CognitoVerifyError):
            verifier.verify(alb.data_token(header={"kid": str(uuid.uuid4())}))
    assert server.request_count == 1


def test_rotation_fetches_the_new_kid_once(
    verifier: AlbVerifier, alb: LocalAlb, server: AlbKeyServer
) -> None:
    old = alb.data_token()
    assert verifier.verify(old).username == "alice"
    alb.rotate_key()
    for _ in range(5):
        assert verifier.verify(alb.data_token()).username == "alice"
        assert verifier.verify(old).username == "alice"
    assert server.request_count == 2
    assert server.requests[1] == f"/{alb.kid}"


def test_no_token_text_in_errors(
    run: Callable[..., Claims], verifier: AlbVerifier, alb: LocalAlb
) -> None:
    token = alb.data_token(header={"client": "x" * 40})
    with pytest.raises(CognitoVerifyError) as info:
        run(verifier, token)
    for part in segments(token):
        assert part not in str(info.value)
