"""max_auth_age (RFC 9470 step-up): on the verifier and per call, through verify,
averify and the token cache; machine tokens have no auth_time and are refused."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from conftest import Clock

from cognito_verify import (
    Claims,
    ConfigurationError,
    InsufficientUserAuthenticationError,
    InvalidClaimError,
    InvalidTokenError,
    MissingGroupError,
)
from cognito_verify.testing import LocalUserPool

Verify = Callable[..., Claims]


def test_per_call_limit_on_a_cached_token(
    pool: LocalUserPool, clock: Clock, verify: Verify
) -> None:
    verifier = pool.verifier(token_use="access", clock=clock)
    token = pool.access_token()  # auth_time = now
    assert verify(verifier, token, max_auth_age=300).username == "alice"
    clock.advance(301)
    # Still a valid token (one hour) and a cache hit, but the sign-in is too old here.
    assert verify(verifier, token).username == "alice"
    with pytest.raises(InsufficientUserAuthenticationError) as info:
        verify(verifier, token, max_auth_age=300)
    exc = info.value
    assert exc.status_code == 401 and exc.code == "insufficient_user_authentication"
    assert isinstance(exc, InvalidTokenError)
    assert exc.max_age == 300
    assert exc.claims is not None and exc.claims.username == "alice"
    assert "301s ago" in exc.message
    assert len(verifier._cache) == 1
    assert verify(verifier, token, max_auth_age=600).username == "alice"


def test_verifier_limit_and_the_stricter_one_wins(
    pool: LocalUserPool, clock: Clock, verify: Verify
) -> None:
    verifier = pool.verifier(token_use="access", clock=clock, max_auth_age=900)
    token = pool.access_token()
    clock.advance(600)
    assert verify(verifier, token).username == "alice"
    assert verify(verifier, token, max_auth_age=3600).username == "alice"  # cannot loosen
    with pytest.raises(InsufficientUserAuthenticationError) as info:
        verify(verifier, token, max_auth_age=60)
    assert info.value.max_age == 60
    clock.advance(301)
    with pytest.raises(InsufficientUserAuthenticationError) as info:
        verify(verifier, token)
    assert info.value.max_age == 900


def test_a_refresh_keeps_the_old_auth_time(
    pool: LocalUserPool, clock: Clock, verify: Verify
) -> None:
    """Cognito copies auth_time into refreshed tokens: a new token is not a new sign-in."""
    verifier = pool.verifier(token_use="access", clock=clock)
    signed_in = clock()
    clock.advance(3000)
    refreshed = pool.access_token(claims={"auth_time": int(signed_in)})
    with pytest.raises(InsufficientUserAuthenticationError):
        verify(verifier, refreshed, max_auth_age=300)


def test_machine_tokens_cannot_step_up(pool: LocalUserPool, clock: Clock, verify: Verify) -> None:
    verifier = pool.verifier(token_use="access", clock=clock)
    machine = pool.client_credentials_token()
    assert verify(verifier, machine).is_machine
    with pytest.raises(InsufficientUserAuthenticationError, match="no 'auth_time'"):
        verify(verifier, machine, max_auth_age=300)


@pytest.mark.parametrize("bad", ["123", None, True, [1], 10**400], ids=lambda v: repr(v)[:20])
def test_auth_time_of_the_wrong_type_is_refused(
    pool: LocalUserPool, clock: Clock, verify: Verify, bad: object
) -> None:
    # The claim table types auth_time on every verification (issue 16), so a mistyped
    # one is an invalid claim whether or not a step-up limit is asked for.
    verifier = pool.verifier(token_use="id", clock=clock)
    token = pool.id_token(claims={"auth_time": bad})
    for limit in (300, None):
        with pytest.raises(InvalidClaimError, match="'auth_time'"):
            verify(verifier, token, max_auth_age=limit)


def test_leeway_applies(pool: LocalUserPool, clock: Clock, verify: Verify) -> None:
    verifier = pool.verifier(token_use="access", clock=clock, leeway=5)
    token = pool.access_token()
    clock.advance(304)
    assert verify(verifier, token, max_auth_age=300).username == "alice"
    clock.advance(2)
    with pytest.raises(InsufficientUserAuthenticationError):
        verify(verifier, token, max_auth_age=300)


def test_step_up_comes_before_groups(pool: LocalUserPool, clock: Clock, verify: Verify) -> None:
    verifier = pool.verifier(token_use="access", clock=clock)
    token = pool.access_token()
    clock.advance(400)
    with pytest.raises(InsufficientUserAuthenticationError):
        verify(verifier, token, max_auth_age=300, groups=["admin"])
    with pytest.raises(MissingGroupError):
        verify(verifier, token, max_auth_age=600, groups=["admin"])


@pytest.mark.parametrize("bad", [0, -1, float("inf"), "300", True])
def test_bad_limits_are_refused(pool: LocalUserPool, clock: Clock, bad: object) -> None:
    with pytest.raises(ConfigurationError, match="max_auth_age"):
        pool.verifier(token_use="access", max_auth_age=bad)
    verifier = pool.verifier(token_use="access", clock=clock)
    with pytest.raises(TypeError, match="max_auth_age"):
        verifier.verify(pool.access_token(), max_auth_age=bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="max_auth_age"):
        asyncio.run(verifier.averify(pool.access_token(), max_auth_age=bad))  # type: ignore[arg-type]


def test_fractional_limits_round_up_in_the_challenge(pool: LocalUserPool, clock: Clock) -> None:
    verifier = pool.verifier(token_use="access", clock=clock)
    token = pool.access_token()
    clock.advance(100)
    with pytest.raises(InsufficientUserAuthenticationError) as info:
        verifier.verify(token, max_auth_age=99.5)
    assert info.value.max_age == 100


def test_authorize_applies_the_limit(pool: LocalUserPool, clock: Clock) -> None:
    verifier = pool.verifier(token_use="access", clock=clock)
    claims = verifier.verify(pool.access_token())
    clock.advance(120)
    verifier.authorize(claims, max_auth_age=300)
    with pytest.raises(InsufficientUserAuthenticationError):
        verifier.authorize(claims, max_auth_age=60)
    with pytest.raises(InsufficientUserAuthenticationError):
        asyncio.run(verifier.aauthorize(claims, max_auth_age=60))
