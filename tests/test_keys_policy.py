"""The key policy against real loopback servers: two clocks (wall steps change
nothing), every refresh re-validates every JWK, endpoints that serve no keys are
learned, no lock is held across slow work, fetch threads end at their deadline,
and any failure of a user's client is a fetch failure."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from cognito_verify import (
    CognitoVerifier,
    ConfigurationError,
    JWKSError,
    KeyPolicy,
    UnknownKeyError,
    UnusableKeyError,
)
from cognito_verify._fetch import Fetcher
from cognito_verify._remote import RemoteKeys
from cognito_verify.testing import LocalUserPool
from tests.conftest import Clock
from tests.jwks_fault_server import FaultServer, forged, make, token, wait_until

Run = Callable[..., Any]


@pytest.fixture
def rpool(clock: Clock) -> LocalUserPool:
    return LocalUserPool("eu-west-1_PolicyPool", ("keys-client",), clock=clock)


@pytest.fixture
def server(rpool: LocalUserPool) -> Iterator[FaultServer]:
    with FaultServer(lambda: rpool.jwks) as srv:
        yield srv


@pytest.fixture(params=["sync", "async"])
def run(request: pytest.FixtureRequest) -> Run:
    def call(verifier: CognitoVerifier, tok: str) -> Any:
        if request.param == "sync":
            return verifier.verify(tok)
        return asyncio.run(verifier.averify(tok))

    return call


# --- two clocks ----------------------------------------------------------------------------


@pytest.mark.parametrize("step", [-3600.0, 3600.0])
def test_a_wall_clock_step_changes_nothing_in_the_key_policy(
    server: FaultServer, rpool: LocalUserPool, clock: Clock, run: Run, step: float
) -> None:
    wall, mono = clock, Clock(1000.0)  # driven separately
    verifier = make(
        server, rpool, wall, monotonic=mono, jwks_max_age=60, unknown_kid_cooldown=10
    )
    assert run(verifier, token(rpool, wall))
    wall.advance(step)  # NTP steps the wall clock; monotonic time goes on as before
    # Max age: nothing refreshed before 60 monotonic seconds, whatever the wall says.
    assert run(verifier, token(rpool, wall))
    assert server.requests == 1
    # Cooldown: an unknown kid starts a 10 s window on the monotonic clock only.
    with pytest.raises(UnknownKeyError):
        run(verifier, forged(rpool, wall))
    assert server.requests == 2
    rpool.rotate_key()
    fresh = token(rpool, wall)
    with pytest.raises(UnknownKeyError):
        run(verifier, fresh)  # inside the window
    mono.advance(10.5)
    assert run(verifier, fresh)  # the window ends after 10 s, not after 10 s + step
    assert server.requests == 3
    # Back-off: failures retry on monotonic time.
    server.mode = "500"
    mono.advance(61)
    assert run(verifier, token(rpool, wall))  # refresh fails, stale key serves
    assert server.requests == 4
    wall.advance(-step)
    assert run(verifier, token(rpool, wall))  # inside the back-off: no request
    assert server.requests == 4
    mono.advance(1.1)
    assert run(verifier, token(rpool, wall))
    assert server.requests == 5
    # A withdrawn key stops verifying at max age on the monotonic clock.
    server.mode = "ok"
    old = token(rpool, wall)
    rpool.rotate_key(drop_old=True)
    mono.advance(61)
    with pytest.raises(UnknownKeyError):
        run(verifier, old)
    assert verifier.stats.stale_hits >= 2


def test_a_cached_token_ends_at_max_age_on_the_monotonic_clock(
    server: FaultServer, rpool: LocalUserPool, clock: Clock
) -> None:
    mono = Clock(0.0)
    verifier = make(server, rpool, clock, monotonic=mono, jwks_max_age=60)
    old = token(rpool, clock)
    assert verifier.verify(old) and verifier.verify(old)  # the second is a cache hit
    rpool.rotate_key(drop_old=True)
    clock.advance(-3600)  # a wall step back must not stretch the cached verification
    mono.advance(61)
    clock.advance(3600)
    with pytest.raises(UnknownKeyError):
        verifier.verify(old)
    assert server.requests == 2


# --- re-validation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [{"use": "enc"}, {"alg": "RS512"}, {"key_ops": ["encrypt"]}, {"kty": "EC"}],
    ids=["use-enc", "alg", "key_ops", "kty"],
)
def test_every_refresh_revalidates_every_jwk(
    server: FaultServer, rpool: LocalUserPool, clock: Clock, run: Run, change: dict[str, Any]
) -> None:
    mono = Clock(0.0)
    verifier = make(server, rpool, clock, monotonic=mono, jwks_max_age=60)
    tok = token(rpool, clock)
    assert run(verifier, tok) and run(verifier, tok)
    version = verifier._remote[server.url].version
    # kid, n and e unchanged; the JWKS now says the key is not for RS256 signatures.
    server._jwks = lambda: {"keys": [{**k, **change} for k in rpool.jwks["keys"]]}
    mono.advance(61)
    with pytest.raises(UnusableKeyError):
        run(verifier, token(rpool, clock))
    with pytest.raises(UnusableKeyError):
        run(verifier, tok)  # the cached verification is dropped too
    assert verifier._remote[server.url].version == version + 1
    # A cold process refuses it the same way.
    cold = make(server, rpool, clock, monotonic=mono)
    with pytest.raises((UnusableKeyError, JWKSError)):  # no usable key at all: 503
        run(cold, tok)


# --- endpoints that serve no keys -----------------------------------------------------------


class FakeAws:
    """Stands in for AWS's two JWKS hosts (outside this machine): the original form
    serves the pool's JWKS, the updated form answers 404 until ``switched``."""

    def __init__(self, pool: LocalUserPool) -> None:
        self.pool = pool
        self.switched = False
        self.requests: dict[str, int] = {"original": 0, "updated": 0}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        form = "updated" if request.url.host.startswith("issuer-") else "original"
        self.requests[form] += 1
        if form == "updated" and not self.switched:
            return httpx.Response(404, json={"message": "not found"})
        return httpx.Response(200, content=json.dumps(self.pool.jwks).encode())


def updated_form(pool: LocalUserPool) -> str:
    return pool.issuer.replace("https://cognito-idp.", "https://issuer-cognito-idp.")


@pytest.mark.parametrize("how", ["sync", "async"])
def test_forged_issuer_form_token_is_401_with_a_bounded_number_of_requests(
    rpool: LocalUserPool, clock: Clock, how: str
) -> None:
    aws = FakeAws(rpool)
    mono = Clock(0.0)
    kw: dict[str, Any] = (
        {"http_client": httpx.Client(transport=httpx.MockTransport(aws))}
        if how == "sync"
        else {"async_http_client": httpx.AsyncClient(transport=httpx.MockTransport(aws))}
    )
    verifier = CognitoVerifier(
        rpool.user_pool_id,
        client_id=rpool.client_id,
        token_use="access",
        clock=clock,
        monotonic=mono,
        jwks_retry_cap=10,
        **kw,
    )

    def call(tok: str) -> Any:
        if how == "sync":
            return verifier.verify(tok)
        return asyncio.run(verifier.averify(tok))

    forged_iss = forged(rpool, clock).split(".")
    payload = {"iss": updated_form(rpool), "token_use": "access", "exp": int(clock()) + 9999}
    from cognito_verify.testing import b64url

    attack = ".".join([forged_iss[0], b64url(json.dumps(payload).encode()), forged_iss[2]])
    # A long run: a forged token every 5 s for 30 minutes, genuine ones throughout.
    refused = 0
    for _ in range(360):
        with pytest.raises(UnknownKeyError):  # 401 invalid_token, never 503
            call(attack)
        refused += 1
        assert call(token(rpool, clock))
        mono.advance(5)
        clock.advance(5)
    # One request per absent_cooldown (300 s), not one per token or back-off window.
    assert 1 <= aws.requests["updated"] <= 1 + 1800 // 300
    assert aws.requests["original"] <= 1 + 1800 // 900 + 1
    assert refused == 360
    # The pool switches to the updated form: picked up once the cooldown ends.
    aws.switched = True
    genuine = {**dict(call(token(rpool, clock))), "iss": updated_form(rpool), "jti": "u"}
    mono.advance(301)
    assert call(rpool.sign(genuine)).issuer == updated_form(rpool)


def test_hydrate_learns_an_endpoint_that_serves_no_keys(
    rpool: LocalUserPool, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="cognito_verify")
    aws = FakeAws(rpool)
    verifier = CognitoVerifier(
        rpool.user_pool_id,
        client_id=rpool.client_id,
        token_use="access",
        clock=clock,
        monotonic=Clock(0.0),
        http_client=httpx.Client(transport=httpx.MockTransport(aws)),
    )
    verifier.hydrate()  # one endpoint answered: hydrate succeeds
    assert aws.requests == {"original": 1, "updated": 1}
    assert any("serves no keys" in r.getMessage() for r in caplog.records)
    payload = {"iss": updated_form(rpool), "token_use": "access", "exp": int(clock()) + 60}
    from cognito_verify.testing import b64url

    head, _, sig = forged(rpool, clock).split(".")
    for _ in range(50):
        with pytest.raises(UnknownKeyError):
            verifier.verify(f"{head}.{b64url(json.dumps(payload).encode())}.{sig}")
    assert aws.requests == {"original": 1, "updated": 1}


# --- the policy value object -------------------------------------------------------------


def test_key_policy_is_one_value_and_the_old_keywords_still_work(
    server: FaultServer, rpool: LocalUserPool, clock: Clock
) -> None:
    policy = KeyPolicy(max_age=60, timeout=1.0)
    verifier = make(server, rpool, clock, key_policy=policy, jwks_timeout=KeyPolicy.timeout)
    assert verifier.key_policy is policy
    assert make(server, rpool, clock, jwks_max_age=60).key_policy.max_age == 60
    with pytest.raises(ConfigurationError, match="key_policy= replaces"):
        make(server, rpool, clock, key_policy=policy, jwks_max_age=30)
    with pytest.raises(ConfigurationError, match="KeyPolicy.max_age"):
        KeyPolicy(max_age=0)
    with pytest.raises(ConfigurationError, match="KeyPolicy.absent_cooldown"):
        KeyPolicy(absent_cooldown=float("inf"))
    with pytest.raises(ConfigurationError, match="key_policy must be"):
        make(server, rpool, clock, key_policy={"max_age": 60})


# --- no lock across slow work ---------------------------------------------------------------


def layer_locks(verifier: CognitoVerifier) -> list[Any]:
    locks: list[Any] = [verifier._cache._lock]
    for source in verifier._remote.values():
        locks += [source._refresh._lock, source._flights._lock]
    return locks


def assert_all_free(verifier: CognitoVerifier, where: str, seen: list[str]) -> None:
    for lock in layer_locks(verifier):
        if not lock.acquire(timeout=0.5):
            raise AssertionError(f"a key layer lock is held during {where}")
        lock.release()
    seen.append(where)


@pytest.mark.parametrize("how", ["sync", "async"])
def test_no_lock_is_held_across_io_client_building_or_logging(
    server: FaultServer,
    rpool: LocalUserPool,
    clock: Clock,
    how: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[str] = []
    verifier = make(server, rpool, clock, jwks_max_age=60)
    # IO: the server checks every lock while it is answering the request.
    server._jwks = lambda: (assert_all_free(verifier, "IO", seen), rpool.jwks)[1]
    # Client building: the sync connection pool checks them while it is built.
    import httpcore

    class CheckingPool(httpcore.ConnectionPool):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            assert_all_free(verifier, "client building", seen)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr("cognito_verify._fetch.httpcore.ConnectionPool", CheckingPool)

    # Logging: a handler checks them for every line the key layer writes.
    class Checking(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            assert_all_free(verifier, "logging", seen)

    handler = Checking(logging.DEBUG)
    logger = logging.getLogger("cognito_verify")
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        for _ in range(2):
            tok = token(rpool, clock)
            if how == "sync":
                verifier.verify(tok)
            else:
                asyncio.run(verifier.averify(tok))
            with pytest.raises(UnknownKeyError):
                verifier.verify(forged(rpool, clock))
            clock.advance(61)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    assert {"IO", "logging"} <= set(seen)
    if how == "sync":
        assert "client building" in seen


# --- fetch threads end at their deadline -------------------------------------------------


def fetch_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "cognito-verify-key-fetch"]


@pytest.mark.parametrize("mode", ["drip_headers", "drip", "silent"])
def test_sync_fetch_threads_end_at_their_deadline(server: FaultServer, mode: str) -> None:
    wait_until(lambda: not fetch_threads(), timeout=10)
    if mode == "silent":
        server.delay = 10.0
    else:
        server.mode = mode
    server.drip_interval = 0.02
    fetcher = Fetcher(server.url, timeout=0.5)
    started = time.monotonic()
    with pytest.raises(JWKSError, match="timed out"):
        fetcher.fetch()
    released = time.monotonic() - started
    assert released < 0.5 + 0.5
    # The worker ends at the deadline too, whatever the peer keeps sending.
    wait_until(lambda: not fetch_threads(), timeout=1.5)
    print(f"{mode}: caller released after {released:.2f} s; worker gone")
    fetcher.close()


# --- any failure of a user's client is a fetch failure ----------------------------------------


class Exploding(httpx.AsyncBaseTransport):
    """A user's transport that fails in ways httpx does not name."""

    def __init__(self, pool: LocalUserPool) -> None:
        self.pool = pool
        self.fail: BaseException | None = None
        self.calls = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if self.fail is not None:
            raise self.fail
        return httpx.Response(200, content=json.dumps(self.pool.jwks).encode())


@pytest.mark.parametrize(
    "failure",
    [RuntimeError("attached to a different loop"), ValueError("odd"), KeyError("x"), OSError(5)],
    ids=["RuntimeError", "ValueError", "KeyError", "OSError"],
)
def test_any_exception_of_a_user_async_client_is_a_fetch_failure(
    rpool: LocalUserPool, clock: Clock, failure: BaseException
) -> None:
    transport = Exploding(rpool)
    mono = Clock(0.0)
    verifier = CognitoVerifier(
        rpool.user_pool_id,
        client_id=rpool.client_id,
        token_use="access",
        issuer_format="original",
        clock=clock,
        monotonic=mono,
        jwks_max_age=60,
        async_http_client=httpx.AsyncClient(transport=transport),
    )
    tok = token(rpool, clock)
    assert asyncio.run(verifier.averify(tok))
    transport.fail = failure
    mono.advance(61)
    for _ in range(5):  # stale keys serve; one failed attempt, then back-off
        assert asyncio.run(verifier.averify(token(rpool, clock)))
    stats = verifier.stats
    assert (stats.fetches, stats.fetch_failures) == (2, 1) and stats.stale_hits == 5
    assert transport.calls == 2
    mono.advance(1.1)
    assert asyncio.run(verifier.averify(token(rpool, clock)))
    assert verifier.stats.fetch_failures == 2 and transport.calls == 3
    # With nothing usable left, it is a JWKSError (503), never a 401.
    cold = CognitoVerifier(
        rpool.user_pool_id,
        client_id=rpool.client_id,
        token_use="access",
        issuer_format="original",
        clock=clock,
        async_http_client=httpx.AsyncClient(transport=transport),
    )
    with pytest.raises(JWKSError):
        asyncio.run(cold.averify(tok))


def test_closed_or_foreign_loop_async_client_still_serves_cached_keys(
    server: FaultServer, rpool: LocalUserPool, clock: Clock
) -> None:
    mono = Clock(0.0)
    client = httpx.AsyncClient()
    verifier = make(server, rpool, clock, monotonic=mono, jwks_max_age=60,
                    async_http_client=client)

    async def first() -> Any:
        return await verifier.averify(token(rpool, clock))

    loop = asyncio.new_event_loop()
    assert loop.run_until_complete(first())  # the client is now bound to this loop
    mono.advance(61)
    assert asyncio.run(verifier.averify(token(rpool, clock)))  # another loop: stale serves
    loop.run_until_complete(client.aclose())
    loop.close()
    mono.advance(5)
    assert asyncio.run(verifier.averify(token(rpool, clock)))  # closed client: same
    assert verifier.stats.fetch_failures >= 1 and verifier.stats.stale_hits >= 2


@pytest.mark.parametrize("how", ["sync", "async"])
def test_a_404_from_the_default_client_is_learned_too(server: FaultServer, how: str) -> None:
    # An extra endpoint (another issuer form, a replica region) through the default
    # client (httpcore): its 404 is learned for the absent cooldown.
    mono = Clock(0.0)
    extra: RemoteKeys[Any] = RemoteKeys(server.url + ".missing", monotonic=mono)

    def get() -> Any:
        return extra.get("kid") if how == "sync" else asyncio.run(extra.aget("kid"))

    for _ in range(20):
        with pytest.raises(UnknownKeyError, match="serves no keys"):
            get()
        mono.advance(10)  # many back-off windows, one absent cooldown
    assert server.requests == 1
    mono.advance(101)
    with pytest.raises(UnknownKeyError):
        get()
    assert server.requests == 2


def test_a_404_from_a_pools_own_endpoint_is_a_503_backed_off_not_learned(
    server: FaultServer, rpool: LocalUserPool, clock: Clock, run: Run
) -> None:
    # The pool's own endpoint answering 404 is a misconfiguration or a passing fault:
    # a 503 like any failure (genuine tokens are not called unknown), backed off.
    mono = Clock(0.0)
    verifier = CognitoVerifier(
        rpool.user_pool_id,
        client_id=rpool.client_id,
        token_use="access",
        jwks_url=server.url + ".missing",  # the loopback server answers 404 there
        clock=clock,
        monotonic=mono,
    )
    for _ in range(20):
        with pytest.raises(JWKSError, match="HTTP 404") as info:
            run(verifier, token(rpool, clock))
        assert info.value.status_code == 503
        mono.advance(10)
    # Back-off 0.5-1 s doubling to the 60 s cap over 200 s: far fewer than 20 requests.
    assert 4 <= server.requests <= 9


class ExplodingSync(httpx.BaseTransport):
    def __init__(self, pool: LocalUserPool) -> None:
        self.pool = pool
        self.fail: BaseException | None = None
        self.calls = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if self.fail is not None:
            raise self.fail
        return httpx.Response(200, content=json.dumps(self.pool.jwks).encode())


def test_any_exception_of_a_user_sync_client_is_a_fetch_failure(
    rpool: LocalUserPool, clock: Clock
) -> None:
    transport = ExplodingSync(rpool)
    mono = Clock(0.0)
    verifier = CognitoVerifier(
        rpool.user_pool_id,
        client_id=rpool.client_id,
        token_use="access",
        issuer_format="original",
        clock=clock,
        monotonic=mono,
        jwks_max_age=60,
        http_client=httpx.Client(transport=transport),
    )
    assert verifier.verify(token(rpool, clock))
    transport.fail = RuntimeError("Cannot send a request, as the client has been closed.")
    mono.advance(61)
    for _ in range(5):
        assert verifier.verify(token(rpool, clock))
    assert (verifier.stats.fetches, verifier.stats.fetch_failures) == (2, 1)
    assert verifier.stats.stale_hits == 5 and transport.calls == 2
