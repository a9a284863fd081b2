"""Issue 9, item 8: genuine fresh tokens are not refused for ordinary clock skew.

Cognito writes ``iat`` in whole seconds, so a server whose clock is a fraction of a
second behind sees a token used at once as "issued in the future". ``iat`` and ``nbf``
may lie up to ``clock_skew`` (5 s by default) in the future; ``exp`` is exact. Every
test drives an injected clock: no sleeping, no real time.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

import pytest
from conftest import NOW, Clock

from cognito_verify import (
    Claims,
    ConfigurationError,
    TokenExpiredError,
    TokenNotYetValidError,
)
from cognito_verify.testing import LocalUserPool

Verify = Callable[..., Claims]


def test_fresh_tokens_survive_a_server_clock_behind_cognitos(
    pool: LocalUserPool, clock: Clock, verify: Verify
) -> None:
    # Cognito's clock reads `true`, it truncates to whole seconds; ours is `lag` behind.
    verifier = pool.verifier(token_use="id", clock=clock)
    rng = random.Random(9_8)
    for _ in range(200):
        true = NOW + rng.random() * 1000
        lag = rng.choice([0.05, 0.5, 0.999, 1.0, 2.5, rng.uniform(0, 4.99)])
        pool.clock = lambda true=true: true
        token = pool.id_token(f"u{rng.random()}")
        clock.now = true - lag
        assert verify(verifier, token).issued_at == float(int(true))


def test_the_default_tolerance_is_five_seconds(
    pool: LocalUserPool, clock: Clock, verify: Verify
) -> None:
    verifier = pool.verifier(token_use="id", clock=clock)
    for ahead, ok in ((5, True), (5.001, False), (6, False), (3600, False)):
        token = pool.id_token(claims={"iat": NOW + ahead})
        nbf_token = pool.id_token(claims={"nbf": NOW + ahead})
        for t in (token, nbf_token):
            if ok:
                verify(verifier, t)
            else:
                with pytest.raises(TokenNotYetValidError):
                    verify(verifier, t)


def test_clock_skew_zero_is_the_strict_reading(
    pool: LocalUserPool, clock: Clock, verify: Verify
) -> None:
    verifier = pool.verifier(token_use="id", clock=clock, clock_skew=0)
    with pytest.raises(TokenNotYetValidError):
        verify(verifier, pool.id_token(claims={"iat": NOW + 0.001}))
    assert verify(verifier, pool.id_token(claims={"iat": NOW})).issued_at == NOW


def test_exp_is_exact_whatever_the_skew(pool: LocalUserPool, clock: Clock, verify: Verify) -> None:
    for skew in (0, 5, 300):
        verifier = pool.verifier(token_use="id", clock=clock, clock_skew=skew)
        token = pool.id_token(lifetime=60)
        clock.now = NOW + 59.999
        verify(verifier, token)
        clock.now = NOW + 60  # at exp: expired, from the cache too
        with pytest.raises(TokenExpiredError):
            verify(verifier, token)
        clock.now = NOW


def test_the_cache_honours_the_same_window(
    pool: LocalUserPool, clock: Clock, verify: Verify
) -> None:
    verifier = pool.verifier(token_use="id", clock=clock)
    token = pool.id_token(claims={"iat": NOW + 4})
    verify(verifier, token)
    assert len(verifier._cache) == 1
    verify(verifier, token)  # a hit
    clock.now = NOW - 1.5  # now iat is 5.5 s ahead: refused, and the entry dropped
    with pytest.raises(TokenNotYetValidError):
        verify(verifier, token)
    assert len(verifier._cache) == 0
    clock.now = NOW
    verify(verifier, token)


_NUMBER = r"(-?[0-9][0-9.e+-]*)"


@pytest.mark.parametrize("skew", [0, 5])
def test_messages_never_contradict_themselves(
    pool: LocalUserPool, clock: Clock, verify: Verify, skew: float
) -> None:
    # Clocks a hair's breadth from the boundaries, where rounded figures used to print
    # "iat X is in the future (now X)".
    verifier = pool.verifier(token_use="id", clock=clock, clock_skew=skew)
    iat = int(NOW) + 1
    exp = int(NOW) + 60
    token = pool.id_token(claims={"iat": iat, "exp": exp})
    nbf_token = pool.id_token(claims={"nbf": iat})
    for eps in (1e-6, 1e-4, 0.0004, 0.4, 0.5, 0.9996):
        clock.now = iat - skew - eps
        for t, name in ((token, "iat"), (nbf_token, "nbf")):
            with pytest.raises(TokenNotYetValidError) as info:
                verify(verifier, t)
            message = str(info.value)
            assert (name == "iat") == ("'iat'" in message), message
            found = re.search(_NUMBER + r"\D+" + _NUMBER + r"s after now \(" + _NUMBER, message)
            assert found, message
            claim, ahead, now = (float(g) for g in found.groups())
            assert claim == iat and ahead == skew and claim > now + ahead, message
            assert now == clock.now, message
        clock.now = exp + eps
        with pytest.raises(TokenExpiredError) as expired:
            verify(verifier, token)
        found = re.search(r"expired at " + _NUMBER + r" \(now " + _NUMBER, str(expired.value))
        assert found, str(expired.value)
        at, now = (float(g) for g in found.groups())
        assert at == exp and now == clock.now and now >= at, str(expired.value)


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf"), True, "5", 301])
def test_clock_skew_is_validated(pool: LocalUserPool, bad: object) -> None:
    with pytest.raises(ConfigurationError, match="clock_skew"):
        pool.verifier(token_use="id", clock_skew=bad)
