"""The verified-token cache: what a hit re-checks, what is never cached, its bounds."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from conftest import Clock

from cognito_verify import (
    Claims,
    CognitoVerifier,
    ConfigurationError,
    CustomCheckError,
    InvalidSignatureError,
    MissingGroupError,
    MissingScopeError,
    TokenExpiredError,
    TokenNotYetValidError,
    UnknownKeyError,
    _token,
)
from cognito_verify._cache import DEFAULT_CACHE_SIZE, MAX_CACHED_TOKEN_LENGTH
from cognito_verify.testing import LocalUserPool


@pytest.fixture
def signature_checks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts RSA checks, to tell a cache hit from a full verification."""
    calls: list[int] = []
    real = _token.verify_signature

    def counting(key: Any, token: Any) -> None:
        calls.append(1)
        real(key, token)

    monkeypatch.setattr(_token, "verify_signature", counting)
    return calls


def test_default_size_is_documented(clock: Clock, pool: LocalUserPool) -> None:
    assert DEFAULT_CACHE_SIZE == 2048
    assert pool.verifier(clock=clock, token_use="id")._cache.size == DEFAULT_CACHE_SIZE


def test_repeated_token_is_a_hit(
    clock: Clock, pool: LocalUserPool, verify: Callable[..., Claims], signature_checks: list[int]
) -> None:
    verifier = pool.verifier(clock=clock, token_use="access")
    token = pool.access_token("alice", groups=["admin"])
    first = verify(verifier, token)
    second = verify(verifier, token)
    assert second is first
    assert len(signature_checks) == 1


def test_cache_size_zero_turns_it_off(
    clock: Clock, pool: LocalUserPool, verify: Callable[..., Claims], signature_checks: list[int]
) -> None:
    verifier = pool.verifier(clock=clock, token_use="access", cache_size=0)
    token = pool.access_token()
    assert verify(verifier, token) == verify(verifier, token)
    assert len(signature_checks) == 2
    assert len(verifier._cache) == 0


@pytest.mark.parametrize("bad", [-1, True, 1.5, "10", None])
def test_cache_size_must_be_a_non_negative_int(
    clock: Clock, pool: LocalUserPool, bad: object
) -> None:
    with pytest.raises(ConfigurationError, match="cache_size"):
        pool.verifier(clock=clock, token_use="id", cache_size=bad)


def test_any_changed_byte_misses(
    clock: Clock, pool: LocalUserPool, verify: Callable[..., Claims]
) -> None:
    verifier = pool.verifier(clock=clock, token_use="id")
    token = pool.id_token()
    verify(verifier, token)
    head, payload, sig = token.split(".")
    flipped = sig[:10] + ("A" if sig[10] != "A" else "B") + sig[11:]
    with pytest.raises(InvalidSignatureError):
        verify(verifier, f"{head}.{payload}.{flipped}")


def test_hit_rechecks_exp_with_leeway(
    pool: LocalUserPool, clock: Clock, verify: Callable[..., Claims]
) -> None:
    verifier = pool.verifier(clock=clock, token_use="id", leeway=30)
    token = pool.id_token(lifetime=600)
    verify(verifier, token)
    clock.advance(600 + 29)
    verify(verifier, token)  # inside the leeway: still a hit
    clock.advance(1)
    with pytest.raises(TokenExpiredError) as cached:
        verify(verifier, token)
    # Same error, same message as a verifier that never cached the token.
    with pytest.raises(TokenExpiredError) as fresh:
        verify(pool.verifier(clock=clock, token_use="id", leeway=30, cache_size=0), token)
    assert cached.value.message == fresh.value.message
    assert len(verifier._cache) == 0  # the expired entry was dropped


def test_hit_rechecks_iat_when_the_clock_goes_back(
    pool: LocalUserPool, clock: Clock, verify: Callable[..., Claims]
) -> None:
    verifier = pool.verifier(clock=clock, token_use="id")
    token = pool.id_token()
    verify(verifier, token)
    clock.advance(-60)
    with pytest.raises(TokenNotYetValidError):
        verify(verifier, token)


def test_per_call_requirements_apply_on_hits(
    clock: Clock, pool: LocalUserPool, verify: Callable[..., Claims]
) -> None:
    verifier = pool.verifier(clock=clock, token_use="access")
    token = pool.access_token(groups=["users"], scopes=["orders/read"])
    verify(verifier, token)
    assert verify(verifier, token, groups=["users"]).groups == {"users"}
    with pytest.raises(MissingGroupError):
        verify(verifier, token, groups=["admin"])
    with pytest.raises(MissingScopeError):
        verify(verifier, token, all_scopes=["orders/read", "orders/write"])
    with pytest.raises(TypeError):
        verify(verifier, token, groups=[""])  # a bad argument is still refused on a hit
    assert verify(verifier, token).sub  # and the entry is still there


def test_verifier_requirements_and_custom_check_apply_on_hits(
    clock: Clock, pool: LocalUserPool, verify: Callable[..., Claims], signature_checks: list[int]
) -> None:
    allowed = {"yes": True}
    verifier = pool.verifier(
        clock=clock, token_use="access", groups=["users"], custom_check=lambda c: allowed["yes"]
    )
    token = pool.access_token(groups=["users"])
    verify(verifier, token)
    verify(verifier, token)
    assert len(signature_checks) == 1
    allowed["yes"] = False
    with pytest.raises(CustomCheckError):
        verify(verifier, token)
    with pytest.raises(MissingGroupError):
        verify(verifier, pool.access_token(groups=["other"]))


def test_only_successes_are_cached(
    pool: LocalUserPool, clock: Clock, verify: Callable[..., Claims]
) -> None:
    verifier = pool.verifier(clock=clock, token_use="access")
    refused = [
        pool.access_token(lifetime=-10),  # expired
        pool.id_token(),  # wrong token_use
        pool.access_token(claims={"iat": clock() + 3600}),  # issued in the future
    ]
    for token in refused:
        with pytest.raises(Exception):  # noqa: B017 (each has its own error class)
            verify(verifier, token)
    assert len(verifier._cache) == 0
    # Valid but forbidden: the signature and claims verified, so the entry is kept,
    # but it carries no verdict: the rules run again, and refuse again, on every hit.
    forbidden = pool.access_token()
    for _ in range(2):
        with pytest.raises(MissingGroupError):
            verify(verifier, forbidden, groups=["admin"])
    assert len(verifier._cache) == 1
    assert verify(verifier, forbidden).username == "alice"  # another route, no group


def test_bounded_in_entries(
    clock: Clock, pool: LocalUserPool, verify: Callable[..., Claims]
) -> None:
    verifier = pool.verifier(clock=clock, token_use="id", cache_size=3)
    tokens = [pool.id_token(f"user{i}") for i in range(5)]
    for token in tokens:
        verify(verifier, token)
    assert len(verifier._cache) == 3
    assert verify(verifier, tokens[0]).username == "user0"  # evicted: verified again


def test_long_tokens_are_verified_but_not_cached(
    clock: Clock, pool: LocalUserPool, verify: Callable[..., Claims]
) -> None:
    verifier = pool.verifier(clock=clock, token_use="id")
    token = pool.id_token(claims={"custom:blob": "x" * MAX_CACHED_TOKEN_LENGTH})
    assert verify(verifier, token)["custom:blob"]
    assert len(verifier._cache) == 0


def test_bytes_tokens_are_verified_not_cached(
    clock: Clock, pool: LocalUserPool, verify: Callable[..., Claims]
) -> None:
    verifier = pool.verifier(clock=clock, token_use="id")
    token = pool.id_token()
    assert verify(verifier, token.encode()).sub == verify(verifier, token).sub
    assert len(verifier._cache) == 1


def test_cached_claims_are_immutable(clock: Clock, pool: LocalUserPool) -> None:
    verifier = pool.verifier(clock=clock, token_use="access")
    token = pool.access_token(groups=["users"])
    claims = verifier.verify(token)
    with pytest.raises(TypeError):
        claims["cognito:groups"] += ("admin",)  # type: ignore[index]
    with pytest.raises(AttributeError):
        claims._groups = frozenset({"admin"})  # type: ignore[misc]
    assert verifier.verify(token, groups=["admin"] * 0 or None).groups == {"users"}


def test_key_set_change_drops_entries(clock: Clock) -> None:
    # A pool of its own: rotating the session pool's key would disturb other tests.
    pool = LocalUserPool("eu-west-1_CacheKeys", ("client-a",), clock=clock)
    with pool.serve() as server:
        verifier = CognitoVerifier(
            pool.user_pool_id,
            client_id="client-a",
            token_use="id",
            jwks_url=server.jwks_url,
            clock=clock,
            unknown_kid_cooldown=3600,
        )
        token = pool.id_token()
        verifier.verify(token)  # fetches the keys: verified against a key set in flux,
        first = verifier.verify(token)  # so it is cached only from the next call
        assert verifier.verify(token) is first
        pool.rotate_key(drop_old=True)  # the old key is withdrawn from the JWKS
        verifier.hydrate()  # the key set changes: its version moves on
        with pytest.raises(UnknownKeyError):
            verifier.verify(token)
        verifier.close()


def test_threads_share_the_cache_safely(clock: Clock, pool: LocalUserPool) -> None:
    verifier = pool.verifier(clock=clock, token_use="id", cache_size=4)
    tokens = [pool.id_token(f"user{i}") for i in range(8)]
    errors: list[BaseException] = []

    def work(offset: int) -> None:
        try:
            for i in range(200):
                name = f"user{(i + offset) % 8}"
                assert verifier.verify(tokens[(i + offset) % 8]).username == name
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(verifier._cache) <= 4


def test_nested_claims_of_a_cached_token_cannot_be_altered(
    clock: Clock, pool: LocalUserPool
) -> None:
    # Claims keep the parsed payload and freeze containers when they are read: no
    # reader, of any request, gets a handle that changes what the next one sees.
    verifier = pool.verifier(clock=clock, token_use="id")
    token = pool.id_token(claims={"identities": [{"providerName": "Google"}]})
    claims = verifier.verify(token)
    identities = claims["identities"]
    with pytest.raises(TypeError):
        identities[0]["providerName"] = "Evil"
    plain = claims.to_dict()
    plain["identities"][0]["providerName"] = "Evil"
    plain["identities"].append({})
    again = verifier.verify(token)
    assert again is claims
    assert again["identities"] == ({"providerName": "Google"},)
