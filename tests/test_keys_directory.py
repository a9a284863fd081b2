"""The generic key machinery with another kind of source: one PEM document per kid
(an ALB's ES256 keys at ``{base}/{kid}``), from a real keep-alive loopback server.
Single flight, the flood guard for invented kids, stale keys through an outage."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from cognito_verify import JWKSError, KeyPolicy, UnknownKeyError
from cognito_verify._directory import KeyDirectory
from cognito_verify._keyset import KeySet, Parser
from tests.conftest import Clock


class PemServer:
    """Serves ``/keys/{kid}`` as a PEM public key for known kids, 404 otherwise."""

    def __init__(self) -> None:
        self.keys: dict[str, bytes] = {}
        self.requests = 0
        self.status = 200  # 500: an outage
        self.delay = 0.0
        lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802
                with lock:
                    outer.requests += 1
                if outer.delay:
                    threading.Event().wait(outer.delay)
                kid = self.path.rpartition("/")[2]
                body = outer.keys.get(kid)
                status = outer.status if body is not None else 404
                body = body if status == 200 and body is not None else b"no"
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}/keys"

    def publish(self) -> str:
        kid = str(uuid.uuid4())
        key = ec.generate_private_key(ec.SECP256R1()).public_key()
        self.keys[kid] = key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return kid

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def pem_parser(kid: str) -> Parser:
    def parse(body: bytes) -> KeySet[Any]:
        try:
            key = serialization.load_pem_public_key(body)
        except ValueError:
            raise JWKSError("not a PEM public key") from None
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise JWKSError("not an EC key")
        return KeySet({kid: key}, {}, frozenset({(kid, hashlib.sha256(body).hexdigest())}))

    return parse


@pytest.fixture
def server() -> Iterator[PemServer]:
    srv = PemServer()
    yield srv
    srv.close()


def directory(server: PemServer, clock: Clock, **policy: Any) -> KeyDirectory[Any]:
    return KeyDirectory(
        lambda kid: f"{server.base}/{kid}",
        pem_parser,
        policy=KeyPolicy(timeout=2.0, **policy),
        monotonic=clock,
        label="the ALB keys",
    )


def test_one_request_per_kid_for_many_threads(server: PemServer, clock: Clock) -> None:
    kid = server.publish()
    server.delay = 0.2
    keys = directory(server, clock)
    found: list[object] = []
    threads = [threading.Thread(target=lambda: found.append(keys.get(kid))) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(found) == 20 and len({id(k) for k in found}) == 1
    assert isinstance(found[0], ec.EllipticCurvePublicKey)
    assert server.requests == 1


def test_invented_kids_cost_one_request_per_cooldown(server: PemServer, clock: Clock) -> None:
    real = server.publish()
    keys = directory(server, clock, unknown_kid_cooldown=10)
    assert keys.get(real)
    for _ in range(200):
        with pytest.raises(UnknownKeyError):
            keys.get(str(uuid.uuid4()))
    assert server.requests == 2  # the real kid, then the first invention only
    assert keys.get(real)  # held names keep serving
    clock.advance(11)
    later = server.publish()  # published meanwhile: found once the window ends
    assert keys.get(later)
    assert server.requests == 3
    assert keys.stats.unknown_kid_rejections >= 200


def test_async_and_stale_through_an_outage(server: PemServer, clock: Clock) -> None:
    kid = server.publish()
    keys = directory(server, clock, max_age=60)
    first = asyncio.run(keys.aget(kid))
    server.status = 500
    clock.advance(61)
    assert asyncio.run(keys.aget(kid)) is first  # refresh failed: the held key serves
    assert keys.stats.fetch_failures == 1 and keys.stats.stale_hits == 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
@pytest.mark.filterwarnings("ignore:.*multi-threaded.*fork:DeprecationWarning")
def test_a_forked_child_uses_held_keys_and_fetches_new_ones_on_its_own(
    server: PemServer, clock: Clock
) -> None:
    held = server.publish()
    keys = directory(server, clock)
    first = keys.get(held)
    source = keys.source(held)
    locks = [keys._lock, source._refresh._lock, source._flights._lock]
    for lock in locks:
        lock.acquire()  # as if parent threads were inside bookkeeping at the fork
    try:
        new = server.publish()
        pid = os.fork()
        if pid == 0:  # the child: never returns into pytest
            code = 1
            try:
                signal.alarm(20)
                ok = keys.get(held) is not None and keys.get(new) is not None
                code = 0 if ok else 1
            finally:
                os._exit(code)
    finally:
        for lock in locks:
            lock.release()
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
    assert keys.get(held) is first
    assert server.requests == 2  # the parent's first fetch and the child's new kid


def _flood(keys: KeyDirectory[Any], kids: list[str], how: str) -> list[object]:
    """Every kid looked up at once, by threads or by asyncio tasks; the outcomes."""
    if how == "threads":
        out: list[object] = []
        lock = threading.Lock()

        def one(kid: str) -> None:
            try:
                got: object = keys.get(kid)
            except Exception as exc:  # noqa: BLE001 - recorded and asserted on
                got = exc
            with lock:
                out.append(got)

        threads = [threading.Thread(target=one, args=(k,)) for k in kids]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        return out

    async def main() -> list[object]:
        return list(await asyncio.gather(*(keys.aget(k) for k in kids), return_exceptions=True))

    return asyncio.run(main())


@pytest.mark.parametrize("how", ["threads", "tasks"])
@pytest.mark.parametrize("endpoint", ["404", "500"])
def test_a_concurrent_flood_of_new_kids_costs_one_request_per_window(
    server: PemServer, clock: Clock, how: str, endpoint: str
) -> None:
    real = server.publish()
    keys = directory(server, clock, unknown_kid_cooldown=10)
    assert keys.get(real)
    server.delay = 0.2  # every invented kid arrives while the first probe is out
    if endpoint == "500":
        server.status = 500  # an outage: the held kid's document fails too
    invented = [str(uuid.uuid4()) for _ in range(60)]
    out = _flood(keys, invented, how)
    assert len(out) == 60
    assert all(isinstance(x, UnknownKeyError | JWKSError) for x in out), out
    assert server.requests == 2  # the real kid, then one invented kid: one per window
    # Bounded memory: names that were never found are not held.
    assert len(keys._sources) <= 2
    for _ in range(3):
        with pytest.raises((UnknownKeyError, JWKSError)):
            keys.get(str(uuid.uuid4()))
    assert server.requests == 2
    server.delay = 0.0
    server.status = 200
    clock.advance(11)  # the window ends: a kid published meanwhile is found
    later = server.publish()
    assert keys.get(later) and keys.get(real)
    assert server.requests == 3


def test_a_held_kid_serves_and_a_second_genuine_kid_waits_for_the_probe(
    server: PemServer, clock: Clock
) -> None:
    """Two genuine new kids at once (a rotation seen by a cold process): the second
    waits for the first one's fetch instead of being refused."""
    a, b = server.publish(), server.publish()
    keys = directory(server, clock)
    server.delay = 0.2
    out = _flood(keys, [a, b, a, b], "threads")
    assert all(isinstance(x, ec.EllipticCurvePublicKey) for x in out), out
    assert server.requests == 2


def test_a_probe_cancelled_under_trio_poisons_nothing(server: PemServer, clock: Clock) -> None:
    import trio

    a, b = server.publish(), server.publish()
    keys = directory(server, clock)
    server.delay = 0.5
    outcome: list[object] = []

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(keys.aget, a)  # leads the probe of a
            while server.requests < 1:
                await trio.sleep(0.005)

            async def waiter() -> None:
                outcome.append(await keys.aget(b))  # waits for the probe, then its own

            nursery.start_soon(waiter)
            await trio.sleep(0.05)
            nursery.cancel_scope.cancel()  # both cancelled, the probe mid-fetch
        server.delay = 0.0
        # Nothing was learned from the cancelled probe: no window, no stuck flight.
        outcome.append(await keys.aget(b))
        outcome.append(await keys.aget(a))

    trio.run(main)
    assert all(isinstance(x, ec.EllipticCurvePublicKey) for x in outcome), outcome
    assert len(outcome) == 2
    assert keys.stats.unknown_kid_rejections == 0


def test_a_caller_refused_by_the_window_as_it_leads_a_probe_lands_it(
    server: PemServer, clock: Clock
) -> None:
    """A caller that becomes the probe's leader just as another probe's miss opened the
    window is refused; its probe must land, or every new name would wait on it."""
    real = server.publish()
    keys = directory(server, clock, unknown_kid_cooldown=10)
    original = keys._probes.lead_or_join
    opened = [False]

    def lead_or_join(kid: str | None, reason: str) -> Any:
        step = original(kid, reason)
        if not opened[0]:
            opened[0] = True
            keys._new_refused_until = clock() + 10  # a miss landed meanwhile
        return step

    keys._probes.lead_or_join = lead_or_join  # type: ignore[method-assign]
    with pytest.raises(UnknownKeyError):
        keys.get(str(uuid.uuid4()))
    assert keys._probes._current is None  # landed, not left in flight
    clock.advance(11)
    assert keys.get(real)  # the next probe is not stuck behind it
