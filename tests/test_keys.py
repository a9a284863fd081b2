"""The JWKS cache against a real loopback server: single flight, unknown kids, rotation,
freshness, outages. Time is driven with the injected clock, never slept away."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from cognito_verify import CognitoVerifier, JWKSError, UnknownKeyError, UnusableKeyError
from cognito_verify.testing import LocalUserPool, b64url
from tests.conftest import Clock
from tests.jwks_fault_server import FaultServer, forged, make, token, wait_until

Run = Callable[..., Any]


@pytest.fixture(scope="module")
def kpool() -> LocalUserPool:
    """A pool of this module's own, so rotation tests never disturb other modules."""
    return LocalUserPool("eu-west-1_KeysPool1", ("keys-client",))


@pytest.fixture
def server(kpool: LocalUserPool) -> Iterator[FaultServer]:
    with FaultServer(lambda: kpool.jwks) as srv:
        yield srv


@pytest.fixture(params=["sync", "async"])
def run(request: pytest.FixtureRequest) -> Run:
    """Calls verify or averify; async runs each call in a fresh event loop (on purpose:
    one verifier used from many loops is a supported case)."""

    def call(verifier: CognitoVerifier, tok: str) -> Any:
        if request.param == "sync":
            return verifier.verify(tok)
        return asyncio.run(verifier.averify(tok))

    return call


# --- one fetch at a time -------------------------------------------------------------------


def test_100_threads_on_a_cold_cache_make_one_request(
    server: FaultServer, kpool: LocalUserPool, clock: Clock
) -> None:
    server.delay = 0.3  # everyone arrives while the first fetch is in flight
    verifier = make(server, kpool, clock)
    tokens = [token(kpool, clock) for _ in range(100)]
    start = threading.Barrier(100)
    results: list[object] = []

    def work(tok: str) -> None:
        start.wait()
        try:
            results.append(verifier.verify(tok).username)
        except Exception as exc:  # collected and asserted below
            results.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in tokens]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert server.requests == 1
    assert all(isinstance(r, str) for r in results), results[:3]
    assert verifier.stats.fetches == 1


def test_100_tasks_on_a_cold_cache_make_one_request(
    server: FaultServer, kpool: LocalUserPool, clock: Clock
) -> None:
    server.delay = 0.3
    verifier = make(server, kpool, clock)
    tokens = [token(kpool, clock) for _ in range(100)]

    async def main() -> list[Any]:
        return await asyncio.gather(*(verifier.averify(t) for t in tokens))

    claims = asyncio.run(main())
    assert server.requests == 1
    assert len({c.username for c in claims}) == 100


def test_threads_and_several_event_loops_share_one_fetch(
    server: FaultServer, kpool: LocalUserPool, clock: Clock
) -> None:
    # A verifier made once (as at import time) and used by 3 event loops and 5 threads.
    server.delay = 0.4
    verifier = make(server, kpool, clock)
    tokens = [token(kpool, clock) for _ in range(35)]
    outcomes: list[object] = []

    def loop_worker(batch: list[str]) -> None:
        async def main() -> list[Any]:
            return await asyncio.gather(*(verifier.averify(t) for t in batch))

        outcomes.extend(asyncio.run(main()))

    def sync_worker(tok: str) -> None:
        outcomes.append(verifier.verify(tok))

    threads = [
        threading.Thread(target=loop_worker, args=(tokens[i : i + 10],)) for i in (0, 10, 20)
    ]
    threads += [threading.Thread(target=sync_worker, args=(t,)) for t in tokens[30:]]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert server.requests == 1
    assert len(outcomes) == 35


def test_cancelled_leader_does_not_strand_waiters(
    server: FaultServer, kpool: LocalUserPool, clock: Clock
) -> None:
    server.delay = 0.3
    verifier = make(server, kpool, clock)

    async def main() -> str:
        leader = asyncio.create_task(verifier.averify(token(kpool, clock)))
        await asyncio.sleep(0.05)  # the leader's fetch is in flight
        waiter = asyncio.create_task(verifier.averify(token(kpool, clock)))
        await asyncio.sleep(0.05)
        leader.cancel()
        claims = await asyncio.wait_for(waiter, 3)
        return str(claims.username)

    assert asyncio.run(main()).startswith("user-")
    assert server.requests == 2  # the waiter fetched in the cancelled leader's place


def test_a_leader_abandoned_by_its_event_loop_is_replaced(
    server: FaultServer, kpool: LocalUserPool, clock: Clock
) -> None:
    # A task starts the fetch, then its loop stops without cancelling it (the task is
    # kept alive, so nothing ever finishes it). Later callers must not wait forever.
    server.delay = 3.0
    # Flight age is policy time: here real monotonic time, since real time must pass.
    verifier = make(server, kpool, clock, jwks_timeout=0.3, monotonic=time.monotonic)
    loop = asyncio.new_event_loop()
    task = loop.create_task(verifier.averify(token(kpool, clock)))
    loop.run_until_complete(asyncio.sleep(0.1))  # the task's fetch is now in flight
    assert server.requests == 1
    started = time.monotonic()
    with pytest.raises(JWKSError, match="in progress"):
        verifier.verify(token(kpool, clock))  # waits its bounded time, then gives up
    assert time.monotonic() - started < 1.3 + 0.5
    server.delay = 0.0
    assert verifier.verify(token(kpool, clock))  # a new leader replaces the stale flight
    assert server.requests == 2
    task.cancel()
    loop.run_until_complete(asyncio.gather(task, return_exceptions=True))
    loop.close()


# --- unknown kids ----------------------------------------------------------------------


def test_1000_unknown_kids_in_one_cooldown_make_at_most_2_requests(
    server: FaultServer, kpool: LocalUserPool, clock: Clock
) -> None:
    verifier = make(server, kpool, clock, unknown_kid_cooldown=30)
    verifier.verify(token(kpool, clock))
    valid = [token(kpool, clock) for _ in range(8)]
    refused = 0
    errors: list[BaseException] = []

    def flood(n: int) -> None:
        nonlocal refused
        for i in range(n):
            try:
                verifier.verify(forged(kpool, clock))
            except UnknownKeyError:
                refused += 1
            except BaseException as exc:
                errors.append(exc)
            if i % 50 == 0:  # valid tokens keep verifying during the flood
                verifier.verify(valid[i % len(valid)])

    threads = [threading.Thread(target=flood, args=(125,)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert refused == 1000
    assert server.requests <= 2
    assert verifier.stats.unknown_kid_rejections == 1000


def test_1000_unknown_kids_async_make_at_most_2_requests(
    server: FaultServer, kpool: LocalUserPool, clock: Clock
) -> None:
    verifier = make(server, kpool, clock, unknown_kid_cooldown=30)

    async def main() -> list[Any]:
        await verifier.averify(token(kpool, clock))
        coros = [verifier.averify(forged(kpool, clock)) for _ in range(1000)]
        coros += [verifier.averify(token(kpool, clock)) for _ in range(5)]
        return await asyncio.gather(*coros, return_exceptions=True)

    results = asyncio.run(main())
    assert all(isinstance(r, UnknownKeyError) for r in results[:1000])
    assert not any(isinstance(r, BaseException) for r in results[1000:])
    assert server.requests <= 2


def test_cooldown_starts_at_an_unknown_kid_refetch_and_ends_when_one_finds_its_kid(
    server: FaultServer, clock: Clock, run: Run
) -> None:
    pool = LocalUserPool("eu-west-1_RotatePool", ("keys-client",), clock=clock)
    server._jwks = lambda: pool.jwks
    verifier = make(server, pool, clock, unknown_kid_cooldown=10)
    verifier.hydrate()
    assert server.requests == 1
    # Rotation right after the initial fetch: accepted at once, after one refetch.
    pool.rotate_key()
    assert run(verifier, token(pool, clock)).token_use == "access"
    assert server.requests == 2
    # That refetch found its kid, so no cooldown: an unknown kid gets one refetch...
    with pytest.raises(UnknownKeyError):
        run(verifier, forged(pool, clock))
    assert server.requests == 3
    # ... which starts the window: more unknown kids fail without a request.
    for _ in range(5):
        with pytest.raises(UnknownKeyError):
            run(verifier, forged(pool, clock))
    assert server.requests == 3
    # A key published inside the window waits for the window's end (fail fast meanwhile).
    pool.rotate_key()
    fresh = token(pool, clock)
    with pytest.raises(UnknownKeyError):
        run(verifier, fresh)
    assert server.requests == 3
    clock.advance(10.5)
    assert run(verifier, fresh).token_use == "access"
    assert server.requests == 4
    # It was found: the cooldown ended, so the next unknown kid may refetch again.
    with pytest.raises(UnknownKeyError):
        run(verifier, forged(pool, clock))
    assert server.requests == 5


def test_repeated_unknown_kid_is_not_remembered_forever(server: FaultServer, clock: Clock) -> None:
    # A kid refused during a cooldown (say the CDN still served the old JWKS) must get
    # its refetch once the window ends, even if tokens with it keep arriving.
    pool = LocalUserPool("eu-west-1_RotatePool", ("keys-client",), clock=clock)
    server._jwks = lambda: pool.jwks
    verifier = make(server, pool, clock, unknown_kid_cooldown=10)
    verifier.hydrate()
    with pytest.raises(UnknownKeyError):
        verifier.verify(forged(pool, clock))  # refetch, window starts
    new_kid = pool.rotate_key()
    for _ in range(12):
        clock.advance(1)
        try:
            verifier.verify(token(pool, clock))
            break
        except UnknownKeyError:
            continue
    assert verifier.verify(token(pool, clock)).token_use == "access"
    assert new_kid
    assert server.requests == 3


# --- rotation and freshness ------------------------------------------------------------


def test_key_removed_from_the_jwks_stops_verifying_once_refreshed(
    server: FaultServer, clock: Clock, run: Run
) -> None:
    pool = LocalUserPool("eu-west-1_RotatePool", ("keys-client",), clock=clock)
    server._jwks = lambda: pool.jwks
    verifier = make(server, pool, clock, jwks_max_age=60)
    old = token(pool, clock)
    assert run(verifier, old)
    version = verifier._remote[server.url].version
    old_kid, old_key = pool.kid, pool.private_key
    claims = {**dict(run(verifier, old)), "jti": "another"}  # a token not seen before
    pool.rotate_key(drop_old=True)
    new = token(pool, clock)
    clock.advance(30)
    assert run(verifier, old)  # younger than max age: still trusted, no request
    assert server.requests == 1
    clock.advance(31)
    with pytest.raises(UnknownKeyError):
        run(verifier, pool.sign(claims, header={"kid": old_kid, "alg": "RS256"}, key=old_key))
    assert server.requests == 2  # that token's lookup refreshed the set: the key is gone
    with pytest.raises(UnknownKeyError):
        run(verifier, old)  # and what it vouched for (a cached verification) is dropped
    assert verifier._remote[server.url].version == version + 1
    assert run(verifier, new)  # the new key came with the same refresh
    with pytest.raises(UnknownKeyError):
        run(verifier, old)
    assert server.requests == 2  # a removed kid is refused without refetching


def test_cached_token_alone_refreshes_the_set_and_drops_a_removed_key(
    server: FaultServer, clock: Clock, run: Run
) -> None:
    # Only the same token keeps arriving (all cache hits): the set must still be
    # refreshed at max age, and a key removed from the JWKS must stop vouching.
    pool = LocalUserPool("eu-west-1_RotatePool", ("keys-client",), clock=clock)
    server._jwks = lambda: pool.jwks
    verifier = make(server, pool, clock, jwks_max_age=60)
    old = token(pool, clock)
    assert run(verifier, old) and run(verifier, old)
    assert server.requests == 1
    pool.rotate_key(drop_old=True)
    clock.advance(59)
    assert run(verifier, old)  # within max age: the cached verification holds
    assert server.requests == 1
    clock.advance(2)
    with pytest.raises(UnknownKeyError):
        run(verifier, old)
    assert server.requests == 2


def test_max_age_refresh_is_made_by_one_caller_while_known_keys_keep_serving(
    server: FaultServer, kpool: LocalUserPool, clock: Clock
) -> None:
    verifier = make(server, kpool, clock, jwks_max_age=60, jwks_timeout=3)
    verifier.verify(token(kpool, clock))
    clock.advance(61)
    server.delay = 1.0
    refresher = threading.Thread(target=verifier.verify, args=(token(kpool, clock),))
    refresher.start()
    wait_until(lambda: server.requests == 2)
    started = time.monotonic()
    for _ in range(20):
        verifier.verify(token(kpool, clock))
    assert time.monotonic() - started < 0.8  # nobody waited for the refresh
    assert refresher.is_alive()
    refresher.join()
    assert server.requests == 2
    assert verifier.stats.cache_hits >= 21 and verifier.stats.stale_hits == 0


# --- outages -----------------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["down", "500", "garbage", "html", "notjwks", "nokeys"])
def test_outage_after_warm_up_serves_known_keys_and_recovers(
    server: FaultServer,
    kpool: LocalUserPool,
    clock: Clock,
    fault: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="cognito_verify")
    verifier = make(server, kpool, clock, jwks_max_age=60, unknown_kid_cooldown=5)
    verifier.verify(token(kpool, clock))
    if fault == "down":
        server.down()
    else:
        server.mode = fault
    clock.advance(61)
    seen = server.requests
    for _ in range(3):
        verifier.verify(token(kpool, clock))  # refresh fails; the known key serves on
    started = time.monotonic()
    with pytest.raises(UnknownKeyError):
        verifier.verify(forged(kpool, clock))  # backing off: no request, no wait
    assert time.monotonic() - started < 0.25
    for _ in range(4):  # more attempts as back-off allows; still serving
        clock.advance(30)
        verifier.verify(token(kpool, clock))
    stats = verifier.stats
    assert stats.fetch_failures == stats.fetches - 1 >= 3
    assert stats.stale_hits >= 7
    stale_warnings = [r for r in caplog.records if "stale keys" in r.getMessage()]
    assert len(stale_warnings) == 1 and stale_warnings[0].levelno == logging.WARNING
    if fault == "down":
        server.up()
        assert server.requests == seen
    else:
        assert server.requests == seen + stats.fetch_failures
    server.mode = "ok"
    clock.advance(61)  # past any back-off (cap 60 s)
    verifier.verify(token(kpool, clock))
    assert verifier.stats.fetch_failures == stats.fetch_failures
    assert verifier.stats.fetches == stats.fetches + 1
    clock.advance(30)
    verifier.verify(token(kpool, clock))
    assert verifier.stats.stale_hits == stats.stale_hits  # fresh again
    assert any("recovered after" in r.getMessage() for r in caplog.records)


def test_stale_keys_stop_serving_after_the_stale_limit(
    server: FaultServer, kpool: LocalUserPool, clock: Clock, run: Run
) -> None:
    verifier = make(server, kpool, clock, jwks_max_age=60, jwks_max_stale=120)
    run(verifier, token(kpool, clock))
    server.mode = "500"
    clock.advance(100)
    run(verifier, token(kpool, clock))
    clock.advance(100)  # 200 s old: past max_age + max_stale
    with pytest.raises(JWKSError, match="stale limit"):
        run(verifier, token(kpool, clock))


def test_no_keys_at_all_fails_promptly_and_backs_off(
    server: FaultServer, kpool: LocalUserPool, clock: Clock, run: Run
) -> None:
    server.down()
    verifier = make(server, kpool, clock)
    started = time.monotonic()
    with pytest.raises(JWKSError, match="ConnectError"):
        run(verifier, token(kpool, clock))
    for _ in range(20):  # inside the back-off: refused at once, no request
        with pytest.raises(JWKSError):
            run(verifier, token(kpool, clock))
    assert time.monotonic() - started < 1.0
    assert verifier.stats.fetches == 1
    server.up()
    clock.advance(2)
    assert run(verifier, token(kpool, clock))
    assert server.requests == 1


def test_backoff_is_exponential_with_jitter_and_capped(
    server: FaultServer, kpool: LocalUserPool, clock: Clock
) -> None:
    server.mode = "500"
    verifier = make(server, kpool, clock, jwks_retry_cap=8)
    source = verifier._remote[server.url]
    delays = []
    for _ in range(6):
        with pytest.raises(JWKSError, match="HTTP 500"):
            verifier.verify(token(kpool, clock))
        delays.append(source._refresh.retry_at - clock())
        clock.advance(delays[-1])
    for delay, full in zip(delays, [1, 2, 4, 8, 8, 8], strict=True):
        assert full / 2 <= delay <= full
    assert server.requests == 6


# --- knobs, observability ---------------------------------------------------------------


@pytest.mark.parametrize(
    "knob, value",
    [
        ("jwks_timeout", 0),
        ("jwks_connect_timeout", -1),
        ("unknown_kid_cooldown", 0),
        ("jwks_max_age", float("nan")),
        ("jwks_max_stale", -1),
        ("jwks_retry_cap", True),
        ("jwks_max_bytes", 100),
        ("jwks_max_bytes", 1e6),
    ],
)
def test_key_policy_knobs_are_validated(knob: str, value: object) -> None:
    from cognito_verify import ConfigurationError

    with pytest.raises(ConfigurationError, match=knob):
        CognitoVerifier("eu-west-1_KeysPool1", client_id="c", token_use="id", **{knob: value})


def test_logs_are_one_line_and_never_carry_the_token(
    server: FaultServer, kpool: LocalUserPool, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="cognito_verify")
    verifier = make(server, kpool, clock)
    good = token(kpool, clock)
    bad = forged(kpool, clock, kid="kid\nINJECTED")
    verifier.verify(good)
    with pytest.raises(UnknownKeyError):
        verifier.verify(bad)
    text = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("JWKS fetch started") for m in text)
    assert any(m.startswith("JWKS fetched from") and " ms " in m for m in text)
    assert any("unknown kids refused" in m for m in text)
    for m in text:
        assert "\n" not in m
        assert good.split(".")[1] not in m and bad.split(".")[2] not in m


def test_unusable_keys_are_skipped_and_refused_with_their_reason(
    server: FaultServer, kpool: LocalUserPool, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="cognito_verify")
    weak = {"kty": "RSA", "kid": "weak", "n": b64url(b"\x01" * 64), "e": "AQAB"}
    server._jwks = lambda: {"keys": [*kpool.jwks["keys"], weak, {"kty": "oct", "kid": "s"}]}
    verifier = make(server, kpool, clock)
    assert verifier.verify(token(kpool, clock))
    with pytest.raises(UnusableKeyError, match="below 2048"):
        verifier.verify(forged(kpool, clock, kid="weak"))
    assert any("skipped" in r.getMessage() for r in caplog.records)
    assert server.requests == 1


@pytest.mark.parametrize(
    ("jwk", "reason"),
    [
        # A modulus far above Cognito's 2048 bits would make every check a CPU sink.
        ({"kty": "RSA", "kid": "huge", "n": b64url(b"\xff" * 1100), "e": "AQAB"}, "above 8192"),
        # Foreign characters must not be skipped into a different number.
        ({"kty": "RSA", "kid": "dirty", "n": "AQAB*" + "x" * 400, "e": "AQAB"}, "base64url"),
        (
            {"kty": "RSA", "kid": "padded", "n": b64url(b"\xc1" * 256) + "==", "e": "AQAB"},
            "base64url",
        ),
    ],
)
def test_oversized_or_badly_encoded_jwk_is_unusable(
    jwk: dict[str, str], reason: str, kpool: LocalUserPool, clock: Clock
) -> None:
    verifier = kpool.verifier(
        token_use="id", clock=clock, jwks={"keys": [*kpool.jwks["keys"], jwk]}
    )
    with pytest.raises(UnusableKeyError, match=reason):
        verifier.verify(forged(kpool, clock, kid=jwk["kid"]))
