"""exc.claims: the verified claims on refusals raised after the signature verified,
None before it; never the token, in the error, its text or the logs."""

from __future__ import annotations

import logging
import pickle
from collections.abc import Callable
from typing import Any

import pytest
from conftest import Clock

from cognito_verify import Claims, CognitoVerifyError
from cognito_verify.testing import LocalUserPool, b64url

Verify = Callable[..., Claims]


def _forged(pool: LocalUserPool) -> str:
    head, payload, sig = pool.access_token().split(".")
    return f"{head}.{payload}.{b64url(b'x' * 256)}"


def _other_kid(pool: LocalUserPool) -> str:
    import base64
    import json

    head, payload, sig = pool.access_token().split(".")
    header = json.loads(base64.urlsafe_b64decode(head + "=="))
    header["kid"] = "not-in-the-set"
    return f"{b64url(json.dumps(header).encode())}.{payload}.{sig}"


# (name, token maker, verifier options, per-call options)
BEFORE_SIGNATURE: list[tuple[str, Callable[[LocalUserPool], str]]] = [
    ("malformed", lambda p: "not.a.jwt"),
    ("bad_signature", _forged),
    ("other_issuer", lambda p: p.access_token(claims={"iss": "https://evil.example"})),
    ("unknown_kid", lambda p: _other_kid(p)),
]

AFTER_SIGNATURE: list[
    tuple[str, Callable[[LocalUserPool], str], dict[str, Any], dict[str, Any]]
] = [
    ("expired", lambda p: p.access_token(lifetime=-10), {}, {}),
    ("wrong_client", lambda p: p.access_token(client_id="client-z"), {}, {}),
    ("id_token", lambda p: p.id_token(), {}, {}),
    ("missing_group", lambda p: p.access_token(), {}, {"groups": ["admin"]}),
    ("missing_scope", lambda p: p.access_token(), {"scopes": ["orders/write"]}, {}),
    ("revoked", lambda p: p.access_token(), {"is_revoked": lambda c: True}, {}),
    ("step_up", lambda p: p.client_credentials_token(), {}, {"max_auth_age": 60}),
    ("custom_check", lambda p: p.access_token(), {"custom_check": lambda c: False}, {}),
    ("custom_check_raises", lambda p: p.access_token(), {"custom_check": lambda c: 1 / 0}, {}),
]


def _refusal(verify: Verify, verifier: Any, token: str, **kw: Any) -> CognitoVerifyError:
    with pytest.raises(CognitoVerifyError) as info:
        verify(verifier, token, **kw)
    return info.value


def _no_token_anywhere(exc: CognitoVerifyError, token: str, log: str) -> None:
    for part in (token, token.split(".")[2], token.split(".")[1]):
        assert part not in str(exc)
        assert part not in repr(exc)
        assert part not in exc.message
        assert part not in log


@pytest.mark.parametrize("case", BEFORE_SIGNATURE, ids=lambda c: c[0])
def test_no_claims_before_the_signature(
    pool: LocalUserPool,
    clock: Clock,
    verify: Verify,
    case: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    name, make = case
    verifier = pool.verifier(token_use="access", clock=clock, client_id="client-a")
    token = make(pool)
    with caplog.at_level(logging.DEBUG, logger="cognito_verify"):
        exc = _refusal(verify, verifier, token)
    assert exc.claims is None, name
    if token.count(".") == 2 and len(token) > 20:
        _no_token_anywhere(exc, token, caplog.text)


@pytest.mark.parametrize("case", AFTER_SIGNATURE, ids=lambda c: c[0])
@pytest.mark.parametrize("cached", [False, True], ids=["cold", "cached"])
def test_claims_after_the_signature(
    pool: LocalUserPool,
    clock: Clock,
    verify: Verify,
    case: Any,
    cached: bool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    name, make, options, per_call = case
    verifier = pool.verifier(token_use="access", clock=clock, client_id="client-a", **options)
    token = make(pool)
    with caplog.at_level(logging.DEBUG, logger="cognito_verify"):
        exc = _refusal(verify, verifier, token, **per_call)
        if cached:
            exc = _refusal(verify, verifier, token, **per_call)
    assert isinstance(exc.claims, Claims), name
    assert exc.claims.sub and exc.claims["jti"]
    _no_token_anywhere(exc, token, caplog.text)
    # Picklable (multiprocessing, task queues), claims included, and still no token.
    copy = pickle.loads(pickle.dumps(exc))
    assert copy.claims == exc.claims and copy.code == exc.code
    assert token not in repr(pickle.dumps(exc))


def test_claims_are_not_shared_between_errors(pool: LocalUserPool, clock: Clock) -> None:
    verifier = pool.verifier(token_use="access", clock=clock)
    first = _refusal(
        lambda v, t, **k: v.verify(t, **k), verifier, pool.access_token("a"), groups=["x"]
    )
    second = _refusal(
        lambda v, t, **k: v.verify(t, **k), verifier, pool.access_token("b"), groups=["x"]
    )
    assert first.claims is not None and second.claims is not None
    assert (first.claims.username, second.claims.username) == ("a", "b")
    assert CognitoVerifyError("plain").claims is None
