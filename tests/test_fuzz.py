"""Structured fuzzing of verify / averify with hypothesis.

Valid tokens are mutated segment by segment, header field by header field and claim by
claim. Invariants:

* only this library's errors escape, and never the generic ``InvalidTokenError`` of
  the fail-closed wrapper in verifier.py (that would be an internal bug caught late);
* a token is accepted only if an independent oracle, written here from
  docs/security.md's list of checks, says every check passes; in particular nothing
  with a changed segment or a wrong required claim is ever accepted.

``make test`` runs the fast, derandomised profile; ``make fuzz`` sets
``HYPOTHESIS_PROFILE=long`` for a campaign of many more examples.
"""

from __future__ import annotations

import asyncio
import math
import os
from collections.abc import Callable
from typing import Any

import pytest
from _attacks import claims, enc, header, token
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from cognito_verify import Claims, CognitoVerifier, CognitoVerifyError, InvalidTokenError
from cognito_verify.testing import LocalUserPool

NOW = 1_800_000_000.0
CLIENTS = ("client-a", "client-b")

settings.register_profile(
    "cv-fast",
    max_examples=400,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
settings.register_profile(
    "cv-long",
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "4000")),
    derandomize=False,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
# Applied per test (not loaded globally), so other suites keep their own settings.
FUZZ = settings(
    settings.get_profile("cv-long" if os.environ.get("HYPOTHESIS_PROFILE") == "long" else "cv-fast")
)


@pytest.fixture(scope="module")
def fpool() -> LocalUserPool:
    return LocalUserPool("eu-west-1_FuzzPool1", CLIENTS, clock=lambda: NOW)


@pytest.fixture(scope="module")
def verifiers(fpool: LocalUserPool) -> dict[str, CognitoVerifier]:
    return {
        use: fpool.verifier(token_use=use, clock=lambda: NOW)  # type: ignore[arg-type]
        for use in ("id", "access")
    }


Outcome = Claims | CognitoVerifyError


@pytest.fixture(scope="module", params=["sync", "async"])
def attempt(request: pytest.FixtureRequest) -> Callable[[CognitoVerifier, Any], Outcome]:
    def run(verifier: CognitoVerifier, tok: Any) -> Outcome:
        try:
            if request.param == "sync":
                return verifier.verify(tok)
            return asyncio.run(verifier.averify(tok))
        except CognitoVerifyError as exc:
            # The fail-closed wrapper's generic class means an internal error leaked.
            assert type(exc) is not InvalidTokenError, f"internal error: {exc.message}"
            return exc
        # Any other exception class propagates and fails the test.

    return run


# --- strategies -------------------------------------------------------------------------

B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def segment_mutation(draw: st.DrawFn, original: str) -> str:
    """One structural change to a valid compact token."""
    segs = original.split(".")
    i = draw(st.integers(0, 2))
    seg = segs[i]
    kind = draw(
        st.sampled_from(
            ["flip", "insert", "delete", "truncate", "replace", "bytes", "json", "swap", "dots"]
        )
    )
    if kind == "flip" and seg:
        j = draw(st.integers(0, len(seg) - 1))
        ch = draw(st.sampled_from(B64).filter(lambda c: c != seg[j]))
        segs[i] = seg[:j] + ch + seg[j + 1 :]
    elif kind == "insert":
        j = draw(st.integers(0, len(seg)))
        segs[i] = seg[:j] + draw(st.text(min_size=1, max_size=3)) + seg[j:]
    elif kind == "delete" and seg:
        j = draw(st.integers(0, len(seg) - 1))
        k = draw(st.integers(j + 1, min(len(seg), j + 4)))
        segs[i] = seg[:j] + seg[k:]
    elif kind == "truncate":
        segs[i] = seg[: draw(st.integers(0, max(0, len(seg) - 1)))]
    elif kind == "replace":
        segs[i] = draw(st.text(alphabet=B64, max_size=40))
    elif kind == "bytes":
        segs[i] = enc(draw(st.binary(max_size=64)))
    elif kind == "json":
        segs[i] = enc(draw(json_values))
    elif kind == "swap":
        j = draw(st.integers(0, 2))
        segs[i], segs[j] = segs[j], segs[i]
    else:
        where = draw(st.integers(0, 3))
        segs.insert(where, draw(st.sampled_from(["", "e30", "AAAA"])))
    return ".".join(segs)


CLAIM_NAMES = [
    "exp", "iat", "nbf", "iss", "aud", "client_id", "token_use", "sub",
    "cognito:groups", "scope", "auth_time", "jti", "username", "email",
    "cognito:username", "origin_jti", "event_id", "version", "custom:tenant",
]  # fmt: skip


def plausible(name: str, pool: LocalUserPool) -> st.SearchStrategy[Any]:
    """Values close to the valid ones, where the boundary bugs live."""
    iss = pool.issuer
    near = {
        "exp": st.sampled_from([NOW, NOW + 1, NOW - 1, NOW + 0.5, NOW - 0.5, 0, -1, 1e308, -0.0])
        | st.floats(NOW - 10, NOW + 10),
        "iat": st.sampled_from(
            [NOW, NOW + 1, NOW - 1, NOW + 0.001, NOW + 5, NOW + 5.001, 0, 2**62]
        )
        | st.floats(NOW - 10, NOW + 10),
        "nbf": st.sampled_from([NOW, NOW + 1, NOW - 1, NOW + 5, NOW + 6, 0])
        | st.floats(NOW - 10, NOW + 10),
        "iss": st.sampled_from(
            [
                iss,
                iss + "/",
                iss.replace("https", "http"),
                iss.replace("cognito-idp.", "issuer-cognito-idp."),
                iss.replace("eu-west-1.", "us-east-1."),
                iss.upper(),
                iss[:-1],
            ]
        ),
        "aud": st.sampled_from([*CLIENTS, "client-c", "", "CLIENT-A", ["client-a"]]),
        "client_id": st.sampled_from([*CLIENTS, "client-c", "", ["client-a"]]),
        "token_use": st.sampled_from(["id", "access", "ID", "refresh", "", ["id"]]),
        "sub": st.sampled_from(["u-1", "", 0, ["u"]]),
        "cognito:groups": st.sampled_from([["admin"], [], "admin", [1], ["a", None]]),
        "scope": st.sampled_from(["openid", "", ["openid"], 1]),
    }
    return near.get(name, json_values) | json_values


def oracle(payload: dict[str, Any], use: str, pool: LocalUserPool) -> bool:
    """Should a correctly signed token with this payload be accepted? (id/access)."""

    def date(name: str, required: bool) -> float | None | bool:
        if name not in payload:
            return None if not required else False
        v = payload[name]
        if type(v) not in (int, float) or not math.isfinite(v) or abs(v) > 1.7976931348623157e308:
            return False
        return float(v)

    exp, iat, nbf = date("exp", True), date("iat", True), date("nbf", False)
    if exp is False or iat is False or nbf is False or exp is None or iat is None:
        return False
    # iat and nbf may be up to clock_skew (5 s by default) in the future; exp exact.
    if not (NOW < exp and iat <= NOW + 5 and (nbf is None or nbf <= NOW + 5)):
        return False
    issuers = {pool.issuer, pool.issuer.replace("cognito-idp.", "issuer-cognito-idp.")}
    iss = payload.get("iss")
    if not isinstance(iss, str) or iss not in issuers:
        return False
    sub = payload.get("sub")
    if not isinstance(sub, str) or not sub:
        return False
    if payload.get("token_use") != use or not isinstance(payload.get("token_use"), str):
        return False
    client = payload.get("aud" if use == "id" else "client_id")
    if not isinstance(client, str) or client not in CLIENTS:
        return False
    groups = payload.get("cognito:groups")
    if groups is not None and not (
        isinstance(groups, list) and all(isinstance(g, str) for g in groups)
    ):
        return False
    # The claim table (docs/claims.md), written out here independently of the code:
    # every listed claim, when present, has the type Cognito writes.
    for name in ("scope", "username", "cognito:username", "jti", "origin_jti", "event_id"):
        if name in payload and type(payload[name]) is not str:
            return False
    for name in ("aud", "client_id"):  # checked even where the app client check is not
        if name in payload and type(payload[name]) is not str:
            return False
    if "version" in payload and type(payload["version"]) is not int:
        return False
    return date("auth_time", False) is not False


# --- the properties -------------------------------------------------------------------


@FUZZ
@given(data=st.data())
def test_segment_mutations_are_refused_cleanly(
    fpool: LocalUserPool,
    verifiers: dict[str, CognitoVerifier],
    attempt: Callable[[CognitoVerifier, Any], Outcome],
    data: st.DataObject,
) -> None:
    use = data.draw(st.sampled_from(["id", "access"]))
    original = fpool.id_token() if use == "id" else fpool.access_token()
    mutated = data.draw(segment_mutation(original))
    outcome = attempt(verifiers[use], mutated)
    event(type(outcome).__name__)
    if isinstance(outcome, Claims):
        # Only the untouched token may pass (e.g. a swap of a segment with itself).
        assert mutated == original


@FUZZ
@given(data=st.data())
def test_claim_mutations_match_the_oracle(
    fpool: LocalUserPool,
    verifiers: dict[str, CognitoVerifier],
    attempt: Callable[[CognitoVerifier, Any], Outcome],
    data: st.DataObject,
) -> None:
    use = data.draw(st.sampled_from(["id", "access"]))
    payload = claims(fpool, use)
    names = data.draw(st.lists(st.sampled_from(CLAIM_NAMES), min_size=1, max_size=4, unique=True))
    for name in names:
        if data.draw(st.booleans()):
            payload.pop(name, None)
        else:
            payload[name] = data.draw(plausible(name, fpool))
    outcome = attempt(verifiers[use], token(header(fpool), payload, fpool.private_key))
    expected = oracle(payload, use, fpool)
    event("accepted" if expected else f"refused: {type(outcome).__name__}")
    assert isinstance(outcome, Claims) == expected, (payload, outcome)


ALGS = ["RS256", "rs256", "RS384", "HS256", "PS256", "ES256", "none", "", None, 1, ["RS256"]]


@FUZZ
@given(data=st.data())
def test_header_mutations_match_the_oracle(
    fpool: LocalUserPool,
    verifiers: dict[str, CognitoVerifier],
    attempt: Callable[[CognitoVerifier, Any], Outcome],
    data: st.DataObject,
) -> None:
    h: dict[str, Any] = header(fpool)
    if data.draw(st.booleans()):
        h["alg"] = data.draw(st.sampled_from(ALGS) | json_values)
    if data.draw(st.booleans()):
        h["kid"] = data.draw(
            st.sampled_from([fpool.kid, fpool.kid + "x", "", None, 7]) | json_values
        )
    for name in data.draw(
        st.lists(
            st.sampled_from(["crit", "jku", "jwk", "x5u", "x5c", "typ", "b64", "zip"]), max_size=3
        )
    ):
        h[name] = data.draw(json_values)
    for name in data.draw(st.lists(st.sampled_from(["alg", "kid"]), max_size=1)):
        h.pop(name, None)
    outcome = attempt(verifiers["id"], token(h, claims(fpool), fpool.private_key))
    expected = h.get("alg") == "RS256" and h.get("kid") == fpool.kid and "crit" not in h
    event("accepted" if expected else f"refused: {type(outcome).__name__}")
    assert isinstance(outcome, Claims) == expected, (h, outcome)


@FUZZ
@given(junk=st.text(max_size=300) | st.binary(max_size=300).map(bytes))
def test_arbitrary_input_is_refused_cleanly(
    verifiers: dict[str, CognitoVerifier],
    attempt: Callable[[CognitoVerifier, Any], Outcome],
    junk: str | bytes,
) -> None:
    assert not isinstance(attempt(verifiers["id"], junk), Claims)


@FUZZ
@given(h=json_values, p=json_values, sig=st.binary(max_size=300))
def test_arbitrary_json_segments_are_refused_cleanly(
    verifiers: dict[str, CognitoVerifier],
    attempt: Callable[[CognitoVerifier, Any], Outcome],
    h: Any,
    p: Any,
    sig: bytes,
) -> None:
    assert not isinstance(attempt(verifiers["id"], token(h, p, None, sig)), Claims)
