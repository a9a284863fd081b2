"""Bounded IO of key fetching against real loopback servers: slow and dripping
endpoints, a 50 MB body (memory measured in a subprocess), redirects, hydrate with
endpoints that do not exist, and moto's Cognito emulator through the same path."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from cognito_verify import CognitoVerifier, ConfigurationError, JWKSError, UnknownKeyError, UserPool
from cognito_verify.testing import LocalUserPool
from tests.conftest import Clock
from tests.jwks_fault_server import FaultServer, forged, make, token, wait_until

TIMEOUT = 0.5
MARGIN = 0.4  # thread start-up and scheduling on a loaded 2-core machine


@pytest.fixture(scope="module")
def kpool() -> LocalUserPool:
    return LocalUserPool("eu-west-1_FetchPool1", ("fetch-client",))


@pytest.fixture
def server(kpool: LocalUserPool) -> Iterator[FaultServer]:
    with FaultServer(lambda: kpool.jwks, path=f"/{kpool.user_pool_id}/.well-known/jwks.json") as s:
        yield s


def timed(fn: Any, *args: Any) -> tuple[float, BaseException | None]:
    started = time.monotonic()
    try:
        fn(*args)
    except BaseException as exc:
        return time.monotonic() - started, exc
    return time.monotonic() - started, None


@pytest.mark.parametrize("how", ["sync", "async"])
@pytest.mark.parametrize("fault", ["silent", "drip"])
def test_slow_endpoint_is_cut_at_the_total_timeout(
    server: FaultServer, kpool: LocalUserPool, clock: Clock, how: str, fault: str
) -> None:
    # silent: no answer at all; drip: headers at once, then a byte every 50 ms, which
    # no per-read timeout would ever stop.
    if fault == "silent":
        server.delay = 5.0
    else:
        server.mode = "drip"
    verifier = make(server, kpool, clock, jwks_timeout=TIMEOUT)
    tok = token(kpool, clock)
    call = verifier.verify if how == "sync" else lambda t: asyncio.run(verifier.averify(t))
    elapsed, exc = timed(call, tok)
    assert isinstance(exc, JWKSError) and "timed out" in exc.message
    assert TIMEOUT - 0.05 <= elapsed < TIMEOUT + MARGIN


def test_known_key_does_not_wait_for_a_slow_refetch(
    server: FaultServer, kpool: LocalUserPool, clock: Clock
) -> None:
    verifier = make(server, kpool, clock, jwks_timeout=1.0)
    verifier.verify(token(kpool, clock))
    server.delay = 5.0
    outcome: list[tuple[float, BaseException | None]] = []
    slow = threading.Thread(
        target=lambda: outcome.append(timed(verifier.verify, forged(kpool, clock)))
    )
    slow.start()
    wait_until(lambda: server.requests == 2)  # the unknown-kid refetch hangs
    elapsed, exc = timed(verifier.verify, token(kpool, clock))
    assert exc is None and elapsed < 0.3
    assert slow.is_alive()
    slow.join()
    ((slow_elapsed, slow_exc),) = outcome
    assert isinstance(slow_exc, UnknownKeyError)  # its refetch failed; the kid is unknown
    assert slow_elapsed < 1.0 + MARGIN


_MEASURE = r"""
import json, resource, sys, tracemalloc
from cognito_verify._fetch import Fetcher
from cognito_verify.errors import JWKSError

url = sys.argv[1]
def fetcher(mode):
    return Fetcher(url + "?mode=" + mode, timeout=10, max_bytes=1 << 20)
fetcher("ok").fetch()  # warm up
rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
tracemalloc.start()
errors = []
for mode in ("huge", "huge_declared"):
    try:
        fetcher(mode).fetch()
    except JWKSError as exc:
        errors.append(exc.message)
peak = tracemalloc.get_traced_memory()[1]
rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"errors": errors, "peak": peak, "rss_growth_kib": rss_after - rss_before}))
"""


def test_50_mb_body_is_refused_while_streaming_with_little_memory(server: FaultServer) -> None:
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, server.url],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result = json.loads(out.stdout)
    print("50 MB body:", result)  # `pytest -s -k 50_mb` shows the measurement
    assert len(result["errors"]) == 2
    assert all("exceeds 1048576 bytes" in e for e in result["errors"])
    # The cap is 1 MiB: the body buffer plus a chunk, never the 50 MB.
    assert result["peak"] < 3 * 1024 * 1024, result
    assert result["rss_growth_kib"] < 8 * 1024, result


@pytest.mark.parametrize("how", ["sync", "async"])
def test_redirect_is_not_followed(
    server: FaultServer, kpool: LocalUserPool, clock: Clock, how: str
) -> None:
    server.mode = "redirect"
    verifier = make(server, kpool, clock)
    call = verifier.verify if how == "sync" else lambda t: asyncio.run(verifier.averify(t))
    with pytest.raises(JWKSError, match="redirects are not followed"):
        call(token(kpool, clock))
    assert server.requests == 1


def test_plain_http_to_a_non_loopback_host_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="plain http"):
        CognitoVerifier(
            "eu-west-1_FetchPool1",
            client_id="c",
            token_use="id",
            jwks_url="http://keys.example.com/jwks.json",
        )


# --- hydrate -------------------------------------------------------------------------


class _Route(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Routes Cognito's hosts (outside this machine) to loopback servers, by host.

    The HTTP exchange itself is real; only name resolution is replaced."""

    def __init__(self, routes: dict[str, str]) -> None:
        self.routes = routes
        self.sync = httpx.HTTPTransport()
        self.async_ = httpx.AsyncHTTPTransport()

    def _rewrite(self, request: httpx.Request) -> httpx.Request:
        target = httpx.URL(self.routes.get(request.url.host, self.routes["*"]))
        url = request.url.copy_with(scheme="http", host=target.host, port=target.port)
        return httpx.Request(request.method, url, headers=request.headers)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self.sync.handle_request(self._rewrite(request))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.async_.handle_async_request(self._rewrite(request))


@pytest.mark.parametrize("how", ["sync", "async"])
def test_hydrate_tolerates_a_missing_second_endpoint(
    server: FaultServer, kpool: LocalUserPool, how: str, caplog: pytest.LogCaptureFixture
) -> None:
    # The original-issuer endpoint answers; the updated-issuer and replica-region
    # endpoints of this pool do not exist (404 and connection refused).
    with FaultServer(lambda: {}, path="/nowhere") as missing, FaultServer(dict) as closed:
        closed.down()
        route = _Route(
            {
                "cognito-idp.eu-west-1.amazonaws.com": server.url,
                "issuer-cognito-idp.eu-west-1.amazonaws.com": missing.url,
                "*": closed.url,
            }
        )
        verifier = CognitoVerifier(
            kpool.user_pool_id,
            client_id=kpool.client_id,
            token_use="access",
            issuer_format="any",
            replica_regions=["us-east-1"],
            http_client=httpx.Client(transport=route),
            async_http_client=httpx.AsyncClient(transport=route),
        )

        async def ahydrate() -> None:
            async with route.async_:
                await verifier.ahydrate()

        if how == "sync":
            with route.sync:
                verifier.hydrate()
        else:
            asyncio.run(ahydrate())
        assert missing.requests == 1
    assert verifier.stats.fetches == 4 and verifier.stats.fetch_failures == 3
    assert sum("hydrate:" in r.getMessage() for r in caplog.records) == 3
    kpool.clock = time.time
    assert verifier.verify(kpool.access_token("dora")).username == "dora"
    assert server.requests == 1


@pytest.mark.parametrize("how", ["sync", "async"])
def test_hydrate_loads_all_pools_concurrently(kpool: LocalUserPool, clock: Clock, how: str) -> None:
    ids = [f"eu-west-1_Hydrate{i}" for i in range(3)]
    servers = [FaultServer(lambda: kpool.jwks) for _ in ids]
    try:
        for s in servers:
            s.delay = 0.5
        verifier = CognitoVerifier(
            pools=[
                UserPool(user_pool_id=i, client_id="c", token_use="id", jwks_url=s.url)
                for i, s in zip(ids, servers, strict=True)
            ],
            clock=clock,
        )
        call = verifier.hydrate if how == "sync" else lambda: asyncio.run(verifier.ahydrate())
        elapsed, exc = timed(call)
        assert exc is None
        assert 0.5 <= elapsed < 1.2  # together, not one after another (1.5 s)
        assert [s.requests for s in servers] == [1, 1, 1]
    finally:
        for s in servers:
            s.down()


def test_hydrate_fails_when_a_pool_has_no_keys(
    server: FaultServer, kpool: LocalUserPool, clock: Clock
) -> None:
    server.mode = "html"
    verifier = make(server, kpool, clock)
    with pytest.raises(JWKSError, match="not JSON"):
        verifier.hydrate()


# --- moto ----------------------------------------------------------------------------


def test_moto_tokens_verify_through_the_hardened_path(caplog: pytest.LogCaptureFixture) -> None:
    boto3 = pytest.importorskip("boto3")
    moto_server = pytest.importorskip("moto.server")
    caplog.set_level(logging.INFO, logger="cognito_verify")
    srv = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    srv.start()
    try:
        host, port = srv.get_host_and_port()
        idp = boto3.client(
            "cognito-idp",
            region_name="eu-west-1",
            endpoint_url=f"http://{host}:{port}",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        pool_id = idp.create_user_pool(PoolName="keys")["UserPool"]["Id"]
        client_id = idp.create_user_pool_client(
            UserPoolId=pool_id, ClientName="app", ExplicitAuthFlows=["USER_PASSWORD_AUTH"]
        )["UserPoolClient"]["ClientId"]
        idp.admin_create_user(UserPoolId=pool_id, Username="erin")
        idp.admin_set_user_password(
            UserPoolId=pool_id, Username="erin", Password="Passw0rd!Passw0rd", Permanent=True
        )
        auth = idp.initiate_auth(
            ClientId=client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "erin", "PASSWORD": "Passw0rd!Passw0rd"},
        )["AuthenticationResult"]
        verifier = CognitoVerifier(
            pool_id,
            client_id=client_id,
            token_use="access",
            jwks_url=f"http://{host}:{port}/{pool_id}/.well-known/jwks.json",
            jwks_timeout=2.0,
        )
        assert verifier.verify(auth["AccessToken"]).username == "erin"
        assert asyncio.run(verifier.averify(auth["AccessToken"])).username == "erin"
        assert verifier.stats.fetches == 1
        verifier.close()
    finally:
        srv.stop()
    assert any(r.getMessage().startswith("JWKS fetched from") for r in caplog.records)
