"""Races in the key layer, forced with real threads, tasks and a real keep-alive
loopback server: a caller that decided to fetch just before another caller's fetch
landed, fetches that land out of order, a key withdrawn and published again, one kid
in two pools, and a trio task cancelled in the middle of a fetch.

Interleavings are forced by holding one caller between its decision and its action
(the decision is the real code's; the test only delays the caller), never by sleeping
for expiry: time is moved with injected clocks."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
import trio

from cognito_verify import CognitoVerifier, InvalidSignatureError, UnknownKeyError, UserPool
from cognito_verify._policy import Fetch
from cognito_verify._remote import RemoteKeys
from cognito_verify.testing import LocalUserPool
from tests.conftest import Clock
from tests.jwks_fault_server import FaultServer, forged, make, token


@pytest.fixture
def pool(clock: Clock) -> LocalUserPool:
    # Its own pool: these tests rotate, withdraw and re-add keys (the shared session
    # pool of conftest must stay as other tests expect it).
    return LocalUserPool("eu-west-1_RacePool1", ("race-client",), clock=clock)


def _hold_after_plan(source: Any, release: threading.Event) -> threading.Event:
    """The next caller whose plan says "fetch" is held right after deciding so, until
    ``release``; the returned event is set once it is held."""
    held = threading.Event()
    original = source._refresh.plan
    taken = threading.Lock()

    def plan(kid: str, may_fetch: bool) -> Any:
        step = original(kid, may_fetch)
        if isinstance(step, Fetch) and taken.acquire(blocking=False):
            held.set()
            release.wait(10)
        return step

    source._refresh.plan = plan
    return held


@pytest.mark.parametrize("late", ["thread", "asyncio", "trio"])
@pytest.mark.parametrize("case", ["initial fetch", "unknown kid", "max age"])
def test_a_caller_that_decided_to_fetch_as_a_fetch_landed_makes_no_second_one(
    pool: LocalUserPool, clock: Clock, case: str, late: str
) -> None:
    with FaultServer(lambda: pool.jwks) as server:
        verifier = make(server, pool, clock, jwks_max_age=60)
        source = next(iter(verifier._remote.values()))
        if case != "initial fetch":
            verifier.verify(token(pool, clock))
            clock.advance(61 if case == "max age" else 0)
        before = server.requests
        release = threading.Event()
        held = _hold_after_plan(source, release)
        outcome: list[object] = []

        def run(tok: str) -> None:
            try:
                if late == "thread":
                    outcome.append(verifier.verify(tok))
                elif late == "asyncio":
                    outcome.append(asyncio.run(verifier.averify(tok)))
                else:
                    outcome.append(trio.run(verifier.averify, tok))
            except Exception as exc:  # noqa: BLE001 - recorded and asserted on
                outcome.append(exc)

        late_token = forged(pool, clock) if case == "unknown kid" else token(pool, clock)
        waiter = threading.Thread(target=run, args=(late_token,))
        waiter.start()
        assert held.wait(10)  # the late caller decided to fetch and is held there
        # Meanwhile another caller fetches and its flight lands.
        first = forged(pool, clock) if case == "unknown kid" else token(pool, clock)
        if case == "unknown kid":
            with pytest.raises(UnknownKeyError):
                verifier.verify(first)
        else:
            verifier.verify(first)
        assert server.requests == before + 1
        release.set()
        waiter.join(20)
        assert len(outcome) == 1
        if case == "unknown kid":
            assert isinstance(outcome[0], UnknownKeyError)
        else:
            assert not isinstance(outcome[0], Exception), outcome
        # The late caller used the landed flight's outcome: still one request.
        assert server.requests == before + 1


def test_a_stalled_fetch_landing_after_a_newer_one_does_not_bring_back_old_keys(
    pool: LocalUserPool, clock: Clock
) -> None:
    """A leader stalls (its loop or thread starved) past the wait limit; the next caller
    replaces its flight and lands the rotated JWKS; then the stalled one lands the JWKS
    it fetched before the rotation. The newer set must stay."""
    from cognito_verify._keyset import parse_jwks

    stalled = threading.Event()
    release = threading.Event()
    calls = [0]

    def parse(body: bytes) -> Any:
        calls[0] += 1
        if calls[0] == 1:  # the first fetch's body is parsed late
            stalled.set()
            release.wait(10)
        return parse_jwks(body)

    with FaultServer(lambda: pool.jwks) as server:
        source: RemoteKeys[Any] = RemoteKeys(server.url, parse=parse, monotonic=clock)
        old_kid = pool.kid
        first = threading.Thread(target=source.refresh)
        first.start()
        assert stalled.wait(10)
        pool.rotate_key(drop_old=True)  # the old key is withdrawn
        clock.advance(source.policy.timeout + 2)  # past the wait limit: abandoned
        source.refresh()  # a new flight lands the rotated set
        assert pool.kid in source.keyset.keys and old_kid not in source.keyset.keys
        version = source.version
        release.set()
        first.join(10)
        assert server.requests == 2
        assert pool.kid in source.keyset.keys, "an older fetch replaced a newer set"
        assert old_kid not in source.keyset.keys
        assert source.version == version
        with pytest.raises(UnknownKeyError):
            source.get(old_kid)


def test_a_key_withdrawn_then_published_again_follows_the_jwks(
    pool: LocalUserPool, clock: Clock
) -> None:
    with FaultServer(lambda: pool.jwks) as server:
        verifier = make(server, pool, clock, jwks_max_age=60, unknown_kid_cooldown=10)
        old_kid = pool.kid
        old_key = pool.private_key
        cached = token(pool, clock)
        assert verifier.verify(cached)
        pool.rotate_key(drop_old=True)  # withdrawn
        clock.advance(61)
        assert verifier.verify(token(pool, clock))  # the max-age refresh sees it gone
        assert server.requests == 2
        with pytest.raises(UnknownKeyError):
            verifier.verify(cached)  # cached before, refused now
        pool._keys[old_kid] = old_key  # published again (a rollback)
        pool.kid = old_kid
        again = token(pool, clock)
        with pytest.raises(UnknownKeyError):
            verifier.verify(again)  # remembered as withdrawn: no request this window
        assert server.requests == 2
        clock.advance(11)
        assert verifier.verify(again)  # one refetch finds it
        assert verifier.verify(cached)
        assert server.requests == 3


@pytest.mark.parametrize("how", ["sync", "async"])
def test_one_kid_in_two_pools_never_crosses_pools(
    pool: LocalUserPool, clock: Clock, how: str
) -> None:
    """Two pools whose JWKS share a kid (different keys): a token is checked only with
    the key of the pool its iss names, cached or not."""
    other = LocalUserPool("eu-west-1_OtherPool", ("client-o",), clock=clock)
    other_key = other.private_key
    other._keys = {pool.kid: other_key}  # the same kid, another key
    other.kid = pool.kid
    with FaultServer(lambda: pool.jwks) as first, FaultServer(lambda: other.jwks) as second:
        verifier = CognitoVerifier(
            pools=[
                UserPool(
                    user_pool_id=pool.user_pool_id,
                    client_id=[pool.client_id, other.client_id],
                    token_use="access",
                    jwks_url=first.url,
                ),
                UserPool(
                    user_pool_id=other.user_pool_id,
                    client_id=[pool.client_id, other.client_id],
                    token_use="access",
                    jwks_url=second.url,
                ),
            ],
            clock=clock,
            monotonic=clock,
        )

        def check(tok: str) -> Any:
            if how == "sync":
                return verifier.verify(tok)
            return asyncio.run(verifier.averify(tok))

        assert check(token(pool, clock))
        assert check(other.access_token("o"))
        # The other pool's key under the shared kid, naming the first pool: refused.
        crossed = other.access_token("mallory", claims={"iss": pool.issuer})
        with pytest.raises(InvalidSignatureError):
            check(crossed)
        # And the first pool's key naming the other pool.
        pool.clock = clock
        with pytest.raises(InvalidSignatureError):
            check(pool.access_token("mallory", claims={"iss": other.issuer}))
        assert check(token(pool, clock))
        assert (first.requests, second.requests) == (1, 1)


def test_a_transient_403_of_a_pools_own_endpoint_at_import_is_retried(
    pool: LocalUserPool, clock: Clock
) -> None:
    """hydrate() at import meets a 403 from the pool's only JWKS endpoint (a proxy not
    ready yet, say): the app catches the JWKSError, and genuine tokens are accepted as
    soon as the back-off allows a retry, not refused as "unknown key" for the
    endpoint-serves-no-keys cooldown (300 s) meant for extra issuer forms."""
    from cognito_verify import JWKSError

    with FaultServer(lambda: pool.jwks) as server:
        answer = {"status": 403}
        real = server._answer

        def flaky(h: Any) -> None:
            if answer["status"] == 403:
                server._send(h, 403, b'{"message": "forbidden"}')
            else:
                real(h)

        server._answer = flaky  # type: ignore[method-assign]
        verifier = make(server, pool, clock)
        with pytest.raises(JWKSError):
            verifier.hydrate()  # what an app's import sees; it must not stay broken
        answer["status"] = 200
        tok = token(pool, clock)
        clock.advance(1.0)  # past the first back-off delay (0.5-1 s)
        assert verifier.verify(tok)
        assert server.requests == 2
