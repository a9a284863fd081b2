"""Pools resolved at run time (``pool_resolver=``), against a real keep-alive loopback
JWKS server with one JWKS per pool: valid tenants through verify, averify and the
token cache; floods of invented pool ids counted (resolver calls and key requests);
remembered refusals on the injected monotonic clock; LRU eviction and re-resolution;
issuer forms that must never reach the resolver; failures (503); single flight under
threads, asyncio and trio; a real fork."""

from __future__ import annotations

import asyncio
import json
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import anyio
import pytest
import trio

from cognito_verify import (
    CognitoVerifier,
    ConfigurationError,
    InvalidClientError,
    InvalidIssuerError,
    JWKSError,
    KeyPolicy,
    PoolResolverError,
    UserPool,
)
from cognito_verify.testing import LocalUserPool
from tests.conftest import Clock

Run = Callable[..., Any]


class TenantServer:
    """Serves ``/{pool_id}/.well-known/jwks.json`` for the pools it holds (404 for
    others), over HTTP/1.1 keep-alive; counts requests per pool."""

    def __init__(self) -> None:
        self.pools: dict[str, LocalUserPool] = {}
        self.requests: dict[str, int] = {}
        lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802
                pool_id = self.path.split("/")[1]
                with lock:
                    outer.requests[pool_id] = outer.requests.get(pool_id, 0) + 1
                pool = outer.pools.get(pool_id)
                body = json.dumps(pool.jwks).encode() if pool else b"{}"
                self.send_response(200 if pool else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def total(self) -> int:
        return sum(self.requests.values())

    def url(self, pool_id: str) -> str:
        return f"{self.base}/{pool_id}/.well-known/jwks.json"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class Directory:
    """The application's tenant directory: a sync resolver that counts its calls."""

    def __init__(self, server: TenantServer) -> None:
        self.server = server
        self.tenants: dict[str, LocalUserPool] = {}
        self.calls: list[tuple[str, str]] = []
        self.gate: threading.Event | None = None  # holds calls, in this process only
        self.owner = os.getpid()
        self.entered = threading.Event()
        self.fail: Exception | None = None
        self.answer: Callable[[str, str], Any] | None = None
        self.options: dict[str, Any] = {}

    def add(self, pool: LocalUserPool) -> LocalUserPool:
        self.tenants[pool.user_pool_id] = pool
        self.server.pools[pool.user_pool_id] = pool
        return pool

    def pool_for(self, pool_id: str) -> UserPool | None:
        tenant = self.tenants.get(pool_id)
        if tenant is None:
            return None
        return UserPool(
            user_pool_id=pool_id,
            client_id=tenant.client_id,
            token_use="access",
            jwks_url=self.server.url(pool_id),
            **self.options,
        )

    def __call__(self, pool_id: str, region: str) -> UserPool | None:
        self.calls.append((pool_id, region))
        self.entered.set()
        if self.gate is not None and os.getpid() == self.owner:
            self.gate.wait(10)
        if self.fail is not None:
            raise self.fail
        if self.answer is not None:
            answer: UserPool | None = self.answer(pool_id, region)
            return answer
        return self.pool_for(pool_id)


class AsyncDirectory(Directory):
    """The same directory behind an ``async def`` (anyio: asyncio or trio)."""

    async def __call__(self, pool_id: str, region: str) -> UserPool | None:  # type: ignore[override]
        self.calls.append((pool_id, region))
        self.entered.set()
        await anyio.sleep(0.1)  # a real suspension: the other tasks pile up meanwhile
        if self.fail is not None:
            raise self.fail
        return self.pool_for(pool_id)


@pytest.fixture
def server() -> Iterator[TenantServer]:
    srv = TenantServer()
    yield srv
    srv.close()


@pytest.fixture
def directory(server: TenantServer) -> Directory:
    return Directory(server)


@pytest.fixture(scope="module")
def shared_key() -> Any:
    return LocalUserPool("eu-west-1_KeyMaker1").private_key


def tenant(key: Any, clock: Clock, name: str, region: str = "eu-west-1") -> LocalUserPool:
    return LocalUserPool(f"{region}_{name}", (f"client-{name.lower()}",), clock=clock, key=key)


def verifier(directory: Directory, clock: Clock, **kw: Any) -> CognitoVerifier:
    kw.setdefault("jwks_timeout", 5.0)
    return CognitoVerifier(pool_resolver=directory, clock=clock, monotonic=clock, **kw)


@pytest.fixture(params=["sync", "async"])
def run(request: pytest.FixtureRequest) -> Run:
    def call(v: CognitoVerifier, tok: str) -> Any:
        if request.param == "sync":
            return v.verify(tok)
        return asyncio.run(v.averify(tok))

    return call


# --- valid tenants -------------------------------------------------------------------------


def test_tenants_are_resolved_once_and_verified(
    directory: Directory, server: TenantServer, shared_key: Any, clock: Clock, run: Run
) -> None:
    a = directory.add(tenant(shared_key, clock, "TenantA1"))
    b = directory.add(tenant(shared_key, clock, "TenantB1", region="us-east-1"))
    v = verifier(directory, clock)
    ta, tb = a.access_token("alice"), b.access_token("bob")

    assert run(v, ta)["username"] == "alice"
    assert run(v, tb)["username"] == "bob"
    assert directory.calls == [
        ("eu-west-1_TenantA1", "eu-west-1"),
        ("us-east-1_TenantB1", "us-east-1"),
    ]
    assert server.requests == {"eu-west-1_TenantA1": 1, "us-east-1_TenantB1": 1}

    # Repeated tokens (the token cache) and new tokens of known tenants: no call, no fetch.
    for _ in range(3):
        assert run(v, ta)["username"] == "alice"
        assert run(v, a.access_token("carol"))["username"] == "carol"
    assert len(directory.calls) == 2
    assert server.total == 2
    stats = v.pool_resolver_stats
    assert (stats.calls, stats.resolved, stats.refused, stats.pools_held) == (2, 2, 0, 2)
    assert v.stats.fetches == 2

    # The resolved pool's own rules apply: another tenant's client id is refused.
    wrong_client = a.access_token("eve", client_id="client-tenantb1")
    with pytest.raises(InvalidClientError):
        run(v, wrong_client)


def test_static_pools_come_first_and_are_never_resolved(
    directory: Directory, server: TenantServer, shared_key: Any, clock: Clock, run: Run
) -> None:
    static = tenant(shared_key, clock, "Static01")
    directory.add(static)  # the directory would accept it: it must not be asked
    v = verifier(
        directory,
        clock,
        pools=[
            UserPool(
                user_pool_id=static.user_pool_id,
                client_id=static.client_id,
                token_use="access",
                jwks=static.jwks,
                issuer_format="original",
            )
        ],
    )
    assert run(v, static.access_token("s"))["username"] == "s"
    # The same pool id under the issuer form it was not configured with: refused at once.
    updated = static.issuer.replace("https://cognito-idp.", "https://issuer-cognito-idp.")
    with pytest.raises(InvalidIssuerError):
        run(v, static.access_token("s", claims={"iss": updated}))
    assert directory.calls == []
    assert server.total == 0


def test_issuer_forms_and_replica_regions_reach_the_resolver_with_the_issuing_region(
    directory: Directory, shared_key: Any, clock: Clock, run: Run
) -> None:
    a = directory.add(tenant(shared_key, clock, "TenantR1"))
    v = verifier(directory, clock)
    updated = a.issuer.replace("https://cognito-idp.", "https://issuer-cognito-idp.")
    assert run(v, a.access_token("u", claims={"iss": updated}))["username"] == "u"
    replica = "https://cognito-idp.eu-central-1.amazonaws.com/" + a.user_pool_id
    # Not replicated there (the resolved pool lists no replica): refused, pool kept.
    with pytest.raises(InvalidIssuerError):
        run(v, a.access_token("r", claims={"iss": replica}))
    assert directory.calls == [(a.user_pool_id, "eu-west-1")]

    # A resolver that lists the replica: the region it is given is the issuing one.
    directory.options = {"replica_regions": ["eu-central-1"]}
    v2 = verifier(directory, clock)
    assert run(v2, a.access_token("r", claims={"iss": replica}))["username"] == "r"
    assert directory.calls[-1] == (a.user_pool_id, "eu-central-1")


# --- what never reaches the resolver ----------------------------------------------------

GOOD = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TenantX1"
NEVER = [
    "https://evil.example.com/eu-west-1_TenantX1",
    "https://cognito-idp.eu-west-1.amazonaws.com.evil.example/eu-west-1_TenantX1",
    "https://cognito-idp.eu-west-1.evil.example/eu-west-1_TenantX1",
    "https://xcognito-idp.eu-west-1.amazonaws.com/eu-west-1_TenantX1",
    "https://cognito-idp.eu-west-1.amazonaws.com:443/eu-west-1_TenantX1",
    "https://cognito-idp.eu-west-1.amazonaws.com:8443/eu-west-1_TenantX1",
    "https://user@cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TenantX1",
    "https://cognito-idp.eu-west-1.amazonaws.com@evil.example/eu-west-1_TenantX1",
    "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TenantX1/",
    "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TenantX1/.well-known/jwks.json",
    "https://cognito-idp.eu-west-1.amazonaws.com/x/eu-west-1_TenantX1",
    "https://cognito-idp.eu-west-1.amazonaws.com//eu-west-1_TenantX1",
    "https://cognito-idp.eu-west-1.amazonaws.com/../eu-west-1_TenantX1",
    "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TenantX1?x=1",
    "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TenantX1#f",
    "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1%5FTenantX1",
    "https://cognito-idp.eu-west-1.amazonaws.com%2Feu-west-1_TenantX1",
    "http://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TenantX1",
    "HTTPS://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TenantX1",
    "https://COGNITO-IDP.eu-west-1.amazonaws.com/eu-west-1_TenantX1",
    "https://cognito-idp.eu-west-1.amazonaws.com./eu-west-1_TenantX1",
    " " + GOOD,
    GOOD + "\n",
    GOOD + " ",
    GOOD + "\x00",
    "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Tenant-X1",
    "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_",
    "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_" + "A" * 50,  # > 55 chars
    "https://cognito-idp.eu-west-1.amazonaws.com/local_TenantX1",
    "https://cognito-idp.local.amazonaws.com/eu-west-1_TenantX1",
    # Another partition's region in the host than the pool id's.
    "https://cognito-idp.cn-north-1.amazonaws.com.cn/eu-west-1_TenantX1",
    "https://cognito-idp.eu-west-1.amazonaws.com.cn/eu-west-1_TenantX1",
    # Unicode lookalikes: Cyrillic i and a, fullwidth digit, Kelvin sign, dotless i.
    "https://cogn\u0456to-idp.eu-west-1.amazonaws.com/eu-west-1_TenantX1",
    "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Ten\u0430ntX1",
    "https://cognito-idp.eu-west-\uff11.amazonaws.com/eu-west-1_TenantX1",
    "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TenantX\uff11",
    "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_\u212aenantX1",
    "https://cognito-\u0131dp.eu-west-1.amazonaws.com/eu-west-1_TenantX1",
    "https://cognito\u2010idp.eu-west-1.amazonaws.com/eu-west-1_TenantX1",
    "https://cognito-idp.eu-west-1.amazonaws.com\uff0feu-west-1_TenantX1",
]


@pytest.mark.parametrize("iss", NEVER)
def test_issuers_not_exactly_of_the_cognito_form_never_reach_the_resolver(
    directory: Directory, server: TenantServer, shared_key: Any, clock: Clock, run: Run, iss: str
) -> None:
    directory.add(tenant(shared_key, clock, "TenantX1"))
    v = verifier(directory, clock)
    victim = directory.tenants["eu-west-1_TenantX1"]
    with pytest.raises(InvalidIssuerError):
        run(v, victim.access_token("m", claims={"iss": iss}))
    assert directory.calls == []
    assert server.total == 0
    # The exact form does reach it (the list above is not refused for another reason).
    assert run(v, victim.access_token("m", claims={"iss": GOOD}))["username"] == "m"
    assert len(directory.calls) == 1


@pytest.mark.parametrize("iss", [None, 42, ["x"], {"a": 1}, ""])
def test_an_iss_that_is_not_a_string_never_reaches_the_resolver(
    directory: Directory, shared_key: Any, clock: Clock, run: Run, iss: Any
) -> None:
    a = directory.add(tenant(shared_key, clock, "TenantN1"))
    v = verifier(directory, clock)
    with pytest.raises(InvalidIssuerError):
        run(v, a.access_token("m", claims={"iss": iss}))
    assert directory.calls == []


# --- floods and remembered refusals -------------------------------------------------------


def test_a_flood_of_invented_pool_ids_costs_one_call_each_per_window_and_no_key_request(
    directory: Directory, server: TenantServer, shared_key: Any, clock: Clock, run: Run
) -> None:
    real = directory.add(tenant(shared_key, clock, "TenantF1"))
    v = verifier(directory, clock, pool_refusal_ttl=60)
    invented = [f"eu-west-1_{uuid.uuid4().hex[:9]}" for _ in range(200)]
    attacker = LocalUserPool("eu-west-1_Attacker1", ("x",), clock=clock, key=shared_key)

    def forged(pool_id: str) -> str:
        iss = f"https://cognito-idp.eu-west-1.amazonaws.com/{pool_id}"
        return attacker.access_token("mallory", claims={"iss": iss})

    tokens = [forged(p) for p in invented]
    for _ in range(3):  # each id three times inside the window
        for tok in tokens:
            with pytest.raises(InvalidIssuerError):
                run(v, tok)
    assert len(directory.calls) == 200
    assert sorted(p for p, _ in directory.calls) == sorted(invented)
    assert server.total == 0  # never a key request for a refused pool
    stats = v.pool_resolver_stats
    assert (stats.calls, stats.refused, stats.refusal_hits) == (200, 200, 400)

    # The genuine tenant is served throughout.
    assert run(v, real.access_token("alice"))["username"] == "alice"

    # Inside the window, still remembered; after it, one more call per id.
    clock.advance(59)
    with pytest.raises(InvalidIssuerError):
        run(v, tokens[0])
    assert len(directory.calls) == 201  # + the genuine tenant's one
    clock.advance(2)
    for tok in tokens[:10]:
        for _ in range(3):
            with pytest.raises(InvalidIssuerError):
                run(v, tok)
    assert len(directory.calls) == 211
    assert server.requests == {real.user_pool_id: 1}


def test_a_refused_pool_is_accepted_once_its_refusal_expires(
    directory: Directory, shared_key: Any, clock: Clock, run: Run
) -> None:
    late = tenant(shared_key, clock, "TenantL1")
    v = verifier(directory, clock, pool_refusal_ttl=30)
    tok = late.access_token("new")
    with pytest.raises(InvalidIssuerError):
        run(v, tok)
    directory.add(late)  # onboarded meanwhile
    clock.advance(29)
    with pytest.raises(InvalidIssuerError):
        run(v, tok)  # remembered: not asked
    assert len(directory.calls) == 1
    clock.advance(1)
    assert run(v, tok)["username"] == "new"
    assert len(directory.calls) == 2


def test_windows_run_on_the_monotonic_clock_not_the_wall_clock(
    directory: Directory, shared_key: Any, clock: Clock, run: Run
) -> None:
    mono = Clock(1000.0)
    a = directory.add(tenant(shared_key, clock, "TenantW1"))
    invented = LocalUserPool("eu-west-1_Invented1", ("x",), clock=clock, key=shared_key)
    v = CognitoVerifier(pool_resolver=directory, clock=clock, monotonic=mono, jwks_timeout=5.0)
    run(v, a.access_token("a"))
    with pytest.raises(InvalidIssuerError):
        run(v, invented.access_token("x"))
    for step in (3600.0, -7200.0):  # NTP steps the wall clock
        clock.advance(step)
        run(v, a.access_token("a"))
        with pytest.raises(InvalidIssuerError):
            run(v, invented.access_token("x"))
    assert len(directory.calls) == 2


def test_a_pool_with_another_id_than_the_tokens_is_refused_and_remembered(
    directory: Directory, server: TenantServer, shared_key: Any, clock: Clock, run: Run
) -> None:
    victim = directory.add(tenant(shared_key, clock, "TenantV1"))
    other = directory.add(tenant(shared_key, clock, "TenantO1"))
    # A buggy directory that answers every id with the victim's pool.
    directory.answer = lambda pool_id, region: directory.pool_for(victim.user_pool_id)
    v = verifier(directory, clock)
    with pytest.raises(InvalidIssuerError):
        run(v, other.access_token("o"))
    with pytest.raises(InvalidIssuerError):
        run(v, other.access_token("o"))
    assert len(directory.calls) == 1
    assert server.total == 0
    assert v.pool_resolver_stats.refused == 1


# --- the LRU, re-resolution and the token cache ---------------------------------------


def test_lru_eviction_re_resolves_and_cached_tokens_follow(
    directory: Directory, server: TenantServer, shared_key: Any, clock: Clock, run: Run
) -> None:
    a, b, c = (directory.add(tenant(shared_key, clock, f"TenantE{i}")) for i in range(3))
    v = verifier(directory, clock, pool_cache_size=2)
    ta, tb, tc = (p.access_token(p.user_pool_id[-8:]) for p in (a, b, c))
    for tok in (ta, ta, tb, tb):  # each token's second call stores a cache entry
        run(v, tok)
    hits = v.stats.cache_hits
    run(v, ta)  # a token cache hit: it neither looks the pool up nor moves it in the LRU
    assert v.stats.cache_hits == hits  # (the key layer was not asked either)
    run(v, tc)  # room for two: A, the least recently looked up, leaves
    ids = [p for p, _ in directory.calls]
    assert ids == [a.user_pool_id, b.user_pool_id, c.user_pool_id]
    stats = v.pool_resolver_stats
    assert (stats.evictions, stats.pools_held) == (1, 2)

    # A's cached token is verified again through a new resolution and key fetch (it
    # would otherwise be a cache hit); B then leaves in turn.
    assert run(v, ta)["username"] == "TenantE0"
    assert [p for p, _ in directory.calls][3:] == [a.user_pool_id]
    assert server.requests[a.user_pool_id] == 2
    assert v.pool_resolver_stats.evictions == 2
    run(v, tc)  # still held: no call
    run(v, tb)
    assert [p for p, _ in directory.calls][4:] == [b.user_pool_id]
    # The totals keep counting the fetches of pools that were dropped.
    assert v.stats.fetches == server.total == 5


def test_resolution_expires_and_a_pool_the_resolver_now_refuses_stops_even_cached(
    directory: Directory, server: TenantServer, shared_key: Any, clock: Clock, run: Run
) -> None:
    a = directory.add(tenant(shared_key, clock, "TenantT1"))
    v = verifier(directory, clock, pool_cache_ttl=300)
    tok = a.access_token("alice")
    run(v, tok)
    clock.advance(299)
    del directory.tenants[a.user_pool_id]  # offboarded
    assert run(v, tok)["username"] == "alice"  # within the resolution's time: documented
    assert len(directory.calls) == 1
    clock.advance(1)
    with pytest.raises(InvalidIssuerError):
        run(v, tok)  # the cached token too
    with pytest.raises(InvalidIssuerError):
        run(v, a.access_token("bob"))
    assert len(directory.calls) == 2
    assert v.pool_resolver_stats.pools_held == 0


def test_an_unchanged_resolution_keeps_its_keys_and_cached_tokens(
    directory: Directory, server: TenantServer, shared_key: Any, clock: Clock, run: Run
) -> None:
    a = directory.add(tenant(shared_key, clock, "TenantK1"))
    v = verifier(directory, clock, pool_cache_ttl=300)
    tok = a.access_token("alice")
    run(v, tok)
    clock.advance(301)
    run(v, tok)
    assert len(directory.calls) == 2  # asked again
    assert server.total == 1  # the key set was kept
    # A changed resolution (another client id) applies to cached tokens at once.
    clock.advance(301)
    directory.answer = lambda pool_id, region: UserPool(
        user_pool_id=pool_id, client_id="another", token_use="access", jwks_url=server.url(pool_id)
    )
    with pytest.raises(InvalidClientError):
        run(v, tok)
    assert server.total == 1  # same JWKS URL: its source carried over


# --- failures ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        lambda pool_id, region: {"user_pool_id": pool_id},  # not a UserPool
        lambda pool_id, region: "yes",
        lambda pool_id, region: UserPool(user_pool_id=pool_id, token_use="access"),  # no client
        lambda pool_id, region: UserPool(user_pool_id=pool_id, client_id="c", token_use="both"),
        lambda pool_id, region: UserPool(
            user_pool_id=pool_id, client_id="c", token_use="id", jwks={"keys": "none"}
        ),
    ],
)
def test_an_unusable_answer_is_a_503_not_remembered(
    directory: Directory, server: TenantServer, shared_key: Any, clock: Clock, run: Run, answer: Any
) -> None:
    a = directory.add(tenant(shared_key, clock, "TenantU1"))
    directory.answer = answer
    v = verifier(directory, clock)
    with pytest.raises(PoolResolverError) as info:
        run(v, a.access_token("x"))
    assert info.value.status_code == 503 and info.value.code == "pool_resolver_failed"
    assert isinstance(info.value, JWKSError)
    directory.answer = None
    with pytest.raises(PoolResolverError):
        run(v, a.access_token("x"))  # backed off: no call (tests/test_pool_resolver.py)
    clock.advance(60)
    assert run(v, a.access_token("x"))["username"] == "x"
    assert len(directory.calls) == 2
    assert v.pool_resolver_stats.failures == 1
    assert server.total == 1


def test_a_raising_resolver_fails_closed_with_503_and_recovers(
    directory: Directory, shared_key: Any, clock: Clock, run: Run, caplog: pytest.LogCaptureFixture
) -> None:
    a = directory.add(tenant(shared_key, clock, "TenantZ1"))
    directory.fail = ConnectionError("database down: secret-dsn")
    v = verifier(directory, clock)
    tok = a.access_token("x")
    for _ in range(2):
        with pytest.raises(PoolResolverError) as info:
            run(v, tok)
        assert "ConnectionError" in info.value.message
        assert "secret-dsn" not in info.value.message
        clock.advance(60)  # past the back-off: each failure is a new call
    assert len(directory.calls) == 2
    assert tok not in caplog.text
    directory.fail = None
    assert run(v, tok)["username"] == "x"


def test_verify_with_an_async_resolver_says_to_use_averify(
    server: TenantServer, shared_key: Any, clock: Clock
) -> None:
    adir = AsyncDirectory(server)
    a = adir.add(tenant(shared_key, clock, "TenantS1"))
    v = verifier(adir, clock)
    with pytest.raises(ConfigurationError, match="averify"):
        v.verify(a.access_token("x"))
    assert adir.calls == []
    # A sync callable that returns a coroutine is caught too (and the coroutine closed).
    sync_returning_coro = lambda pool_id, region: adir(pool_id, region)  # noqa: E731
    v2 = CognitoVerifier(pool_resolver=sync_returning_coro, clock=clock, monotonic=clock)
    with pytest.raises(ConfigurationError, match="averify"):
        v2.verify(a.access_token("x"))
    assert asyncio.run(v2.averify(a.access_token("y")))["username"] == "y"


def test_an_async_resolver_that_hangs_times_out_with_503(
    server: TenantServer, shared_key: Any, clock: Clock
) -> None:
    hung = threading.Event()

    async def resolver(pool_id: str, region: str) -> UserPool | None:
        hung.set()
        await anyio.sleep(60)
        return None

    a = tenant(shared_key, clock, "TenantH1")
    v = CognitoVerifier(
        pool_resolver=resolver, clock=clock, monotonic=clock, pool_resolver_timeout=0.2
    )
    for backend in ("asyncio", "trio"):
        with pytest.raises(PoolResolverError, match="did not answer"):
            anyio.run(v.averify, a.access_token("x"), backend=backend)
    assert hung.is_set()


# --- single flight -------------------------------------------------------------------------


def test_concurrent_first_tokens_of_a_tenant_make_one_call_threads(
    directory: Directory, server: TenantServer, shared_key: Any, clock: Clock
) -> None:
    a = directory.add(tenant(shared_key, clock, "TenantC1"))
    directory.gate = threading.Event()
    v = verifier(directory, clock, pool_resolver_timeout=30)
    tokens = [a.access_token(f"u{i}") for i in range(16)]
    results: list[Any] = []

    def work(tok: str) -> None:
        try:
            results.append(v.verify(tok)["username"])
        except Exception as exc:  # recorded, asserted below
            results.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in tokens]
    for t in threads:
        t.start()
    assert directory.entered.wait(10)
    # A hand-off pause (not an expiry): the other threads reach the flight and wait.
    threading.Event().wait(0.3)
    directory.gate.set()
    for t in threads:
        t.join(30)
    assert sorted(results) == sorted(f"u{i}" for i in range(16))
    assert len(directory.calls) == 1
    assert server.total == 1


@pytest.mark.parametrize("backend", ["asyncio", "uvloop", "trio"])
def test_concurrent_first_tokens_of_a_tenant_make_one_call_tasks(
    server: TenantServer, shared_key: Any, clock: Clock, backend: str
) -> None:
    adir = AsyncDirectory(server)
    a = adir.add(tenant(shared_key, clock, "TenantC2"))
    v = verifier(adir, clock)  # type: ignore[arg-type]
    tokens = [a.access_token(f"u{i}") for i in range(30)]
    names: list[str] = []

    async def main() -> None:
        async def one(tok: str) -> None:
            names.append((await v.averify(tok))["username"])

        async with anyio.create_task_group() as group:
            for tok in tokens:
                group.start_soon(one, tok)

    if backend == "uvloop":
        anyio.run(main, backend="asyncio", backend_options={"use_uvloop": True})
    else:
        anyio.run(main, backend=backend)
    assert sorted(names) == sorted(f"u{i}" for i in range(30))
    assert len(adir.calls) == 1
    assert server.total == 1


def test_trio_run_with_an_async_resolver(
    server: TenantServer, shared_key: Any, clock: Clock
) -> None:
    adir = AsyncDirectory(server)
    a = adir.add(tenant(shared_key, clock, "TenantQ1"))
    b = tenant(shared_key, clock, "TenantQ2")  # not onboarded
    v = verifier(adir, clock)  # type: ignore[arg-type]

    async def main() -> None:
        assert (await v.averify(a.access_token("t")))["username"] == "t"
        with pytest.raises(InvalidIssuerError):
            await v.averify(b.access_token("t"))

    trio.run(main)
    assert len(adir.calls) == 2


def test_a_cancelled_async_leader_hands_over_to_a_waiter(
    server: TenantServer, shared_key: Any, clock: Clock
) -> None:
    started = asyncio.Event()
    release = asyncio.Event()
    calls: list[str] = []
    a = tenant(shared_key, clock, "TenantX9")
    server.pools[a.user_pool_id] = a

    async def resolver(pool_id: str, region: str) -> UserPool | None:
        calls.append(pool_id)
        if len(calls) == 1:
            started.set()
            await asyncio.sleep(60)  # cancelled below
        await release.wait()
        return UserPool(
            user_pool_id=pool_id,
            client_id=a.client_id,
            token_use="access",
            jwks_url=server.url(pool_id),
        )

    v = CognitoVerifier(pool_resolver=resolver, clock=clock, monotonic=clock)

    async def main() -> str:
        leader = asyncio.ensure_future(v.averify(a.access_token("l")))
        await started.wait()
        waiter = asyncio.ensure_future(v.averify(a.access_token("w")))
        await asyncio.sleep(0.05)
        leader.cancel()
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await leader
        return str((await waiter)["username"])

    assert asyncio.run(main()) == "w"
    assert len(calls) == 2


# --- forks ---------------------------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_child_forked_during_a_resolution_resolves_on_its_own(
    directory: Directory, server: TenantServer, shared_key: Any, clock: Clock
) -> None:
    a = directory.add(tenant(shared_key, clock, "TenantP1"))
    directory.gate = threading.Event()  # holds the parent's call (only in the parent)
    v = verifier(directory, clock, pool_resolver_timeout=30)
    parent = threading.Thread(target=v.verify, args=(a.access_token("p"),))
    parent.start()
    assert directory.entered.wait(10)  # a parent thread is inside the resolver, leading
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit code
        code = 1
        try:
            # Without the at-fork reset the child would wait on the parent's flight,
            # whose leader does not exist here, until the 30 s wait limit.
            ok = v.verify(a.access_token("c"))["username"] == "c"
            calls = v.pool_resolver_stats.calls
            code = 0 if ok and calls == 2 else 2
        finally:
            os._exit(code)
    try:
        for _ in range(2000):  # up to ~20 s, then the child is stuck
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            threading.Event().wait(0.01)
        else:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            raise AssertionError("the forked child did not resolve on its own")
    finally:
        directory.gate.set()
        parent.join(10)
    assert os.waitstatus_to_exitcode(status) == 0
    assert v.verify(a.access_token("p2"))["username"] == "p2"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_child_forked_while_the_resolver_lock_is_held_starts_afresh(
    directory: Directory, server: TenantServer, shared_key: Any, clock: Clock
) -> None:
    a = directory.add(tenant(shared_key, clock, "TenantP2"))
    v = verifier(directory, clock)
    tok = a.access_token("p")
    v.verify(tok)
    v.verify(tok)  # cached
    lock = v._tenants._lock  # type: ignore[union-attr]
    with lock:  # as a parent thread mid-update would hold it at the fork
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child reports through its exit code
            code = 1
            try:
                ok = v.verify(tok)["username"] == "p"
                ok = ok and v.verify(a.access_token("q"))["username"] == "q"
                # The torn caches were dropped: the pool was asked about again.
                code = 0 if ok and v.pool_resolver_stats.calls == 2 else 2
            finally:
                os._exit(code)
    for _ in range(2000):
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        threading.Event().wait(0.01)
    else:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        raise AssertionError("the forked child hung on the parent's lock")
    assert os.waitstatus_to_exitcode(status) == 0
    assert v.pool_resolver_stats.calls == 1


# --- configuration -------------------------------------------------------------------------


def test_configuration_is_checked(directory: Directory) -> None:
    for bad in (
        {"pool_cache_size": 0},
        {"pool_cache_size": True},
        {"pool_refusal_ttl": 0},
        {"pool_refusal_ttl": float("inf")},
        {"pool_cache_ttl": -1},
        {"pool_resolver_timeout": float("nan")},
    ):
        with pytest.raises(ConfigurationError):
            CognitoVerifier(pool_resolver=directory, **bad)
    with pytest.raises(ConfigurationError, match="pool_resolver"):
        CognitoVerifier("eu-west-1_Abc", client_id="c", token_use="id", pool_cache_size=3)
    with pytest.raises(ConfigurationError, match="callable"):
        CognitoVerifier(pool_resolver="https://directory.example")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        CognitoVerifier()
    v = CognitoVerifier(pool_resolver=directory)
    assert "pool_resolver" in repr(v)
    v.hydrate()  # nothing static to fetch
    v.close()


def test_adapters_answer_a_failing_resolver_with_503_and_retry_after() -> None:
    from cognito_verify.integrations._http import refusal

    answer = refusal(PoolResolverError("the pool resolver raised ConnectionError"))
    assert answer.status == 503
    assert answer.headers.get("Retry-After") == "5"
    assert answer.code == "pool_resolver_failed"


def test_over_real_http_with_an_async_resolver_under_uvicorn(
    server: TenantServer, shared_key: Any, clock: Clock
) -> None:
    import httpx
    from _asgi_support import uvicorn_server

    from cognito_verify.integrations.asgi import CLAIMS_KEY, CognitoASGIMiddleware

    adir = AsyncDirectory(server)
    a = adir.add(tenant(shared_key, clock, "TenantH2"))
    stranger = tenant(shared_key, clock, "TenantH3")
    v = verifier(adir, clock)  # type: ignore[arg-type]

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        body = json.dumps({"username": scope[CLAIMS_KEY]["username"]}).encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    def bearer(tok: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {tok}"}

    with (
        uvicorn_server(CognitoASGIMiddleware(app, v)) as base,
        httpx.Client(base_url=base, timeout=10) as http,
    ):
        ok = http.get("/", headers=bearer(a.access_token("alice")))
        assert ok.status_code == 200 and ok.json() == {"username": "alice"}
        refused = http.get("/", headers=bearer(stranger.access_token("eve")))
        assert refused.status_code == 401
        assert refused.json()["error"] == "invalid_issuer"
        assert refused.headers["www-authenticate"] == 'Bearer error="invalid_token"'
        adir.fail = RuntimeError("directory down")
        down = http.get("/", headers=bearer(tenant(shared_key, clock, "TenantH4").access_token()))
        assert down.status_code == 503
        assert down.json()["error"] == "pool_resolver_failed"
        assert down.headers["retry-after"] == "5"
        assert "directory down" not in down.text
    assert [p for p, _ in adir.calls] == [
        a.user_pool_id,
        stranger.user_pool_id,
        "eu-west-1_TenantH4",
    ]


# --- a failing resolver under load: backed off ---------------------------------------------


def forged_for(attacker: LocalUserPool, pool_id: str) -> str:
    iss = f"https://cognito-idp.eu-west-1.amazonaws.com/{pool_id}"
    return attacker.access_token("mallory", claims={"iss": iss})


def test_a_failing_resolver_is_called_once_per_backoff_delay_under_load(
    directory: Directory, shared_key: Any, clock: Clock, run: Run
) -> None:
    held = directory.add(tenant(shared_key, clock, "TenantB1"))
    new = directory.add(tenant(shared_key, clock, "TenantB2"))
    policy = KeyPolicy(retry_base=1, retry_cap=8, timeout=5)
    v = CognitoVerifier(pool_resolver=directory, clock=clock, monotonic=clock, key_policy=policy)
    assert run(v, held.access_token("alice"))["username"] == "alice"
    directory.fail = ConnectionError("database down")
    attacker = LocalUserPool("eu-west-1_Attacker2", ("x",), clock=clock, key=shared_key)
    tokens = [new.access_token("bob")] + [
        forged_for(attacker, f"eu-west-1_{uuid.uuid4().hex[:9]}") for _ in range(100)
    ]
    calls = len(directory.calls)
    for tok in tokens:
        with pytest.raises(PoolResolverError) as info:
            run(v, tok)
        assert info.value.status_code == 503
        assert "ConnectionError" in info.value.message  # what failed, every time
    assert len(directory.calls) == calls + 1  # one call for 101 tokens of 101 pools
    # The pool held before the outage serves on; nothing it needs is asked.
    assert run(v, held.access_token("alice"))["username"] == "alice"
    # Exponential back-off (jitter x0.5-1), capped: one call per delay at most.
    for delay in (1, 2, 4, 8, 8, 8):
        clock.advance(delay)
        for tok in tokens[:20]:
            with pytest.raises(PoolResolverError):
                run(v, tok)
        assert len(directory.calls) == calls + 2
        calls += 1
    stats = v.pool_resolver_stats
    assert stats.failures == 7 and stats.backed_off >= 100
    # Recovery: the first call after the delay succeeds and ends the back-off.
    directory.fail = None
    clock.advance(8)
    assert run(v, new.access_token("bob"))["username"] == "bob"
    assert run(v, tokens[0])["username"] == "bob"


def test_the_backoff_holds_for_concurrent_threads_and_tasks(
    directory: Directory, shared_key: Any, clock: Clock
) -> None:
    directory.fail = TimeoutError("database timeout")
    attacker = LocalUserPool("eu-west-1_Attacker3", ("x",), clock=clock, key=shared_key)
    v = verifier(directory, clock)
    tokens = [forged_for(attacker, f"eu-west-1_{uuid.uuid4().hex[:9]}") for _ in range(40)]
    errors: list[BaseException] = []
    lock = threading.Lock()

    def one(tok: str) -> None:
        try:
            v.verify(tok)
        except BaseException as exc:  # noqa: BLE001 - recorded and asserted on
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=one, args=(t,)) for t in tokens]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)

    async def tasks() -> list[Any]:
        return list(
            await asyncio.gather(*(v.averify(t) for t in tokens), return_exceptions=True)
        )

    errors += asyncio.run(tasks())
    assert len(errors) == 80 and all(isinstance(e, PoolResolverError) for e in errors)
    # Concurrent first calls of different pools may each have started before the first
    # failure landed; none is started after it.
    assert 1 <= len(directory.calls) <= 40
    before = len(directory.calls)
    for tok in tokens:
        with pytest.raises(PoolResolverError):
            v.verify(tok)
    assert len(directory.calls) == before
