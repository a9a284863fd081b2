"""averify under every event loop it supports: asyncio, uvloop and trio (directly and
through anyio): single flight, cancellation, rotation, one verifier shared by loops
of different libraries, and the loop stall of the first fetching call (a loop-lag
probe; printed, never asserted: `pytest -s -k stall` shows it)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import anyio
import pytest

from cognito_verify import UnknownKeyError
from cognito_verify.testing import LocalUserPool
from tests.jwks_fault_server import FaultServer, verifier_for

uvloop = pytest.importorskip("uvloop")
trio = pytest.importorskip("trio")

LOOPS = ["asyncio", "uvloop", "trio", "anyio-trio"]


def run_on(loop: str, main: Callable[[], Awaitable[Any]]) -> Any:
    if loop == "asyncio":
        return asyncio.run(main())  # type: ignore[arg-type]
    if loop == "uvloop":
        return uvloop.run(main())
    if loop == "trio":
        return trio.run(main)
    return anyio.run(main, backend="trio")


@pytest.fixture
def lpool() -> LocalUserPool:
    return LocalUserPool("eu-west-1_LoopPool1", ("loop-client",))


@pytest.fixture
def server(lpool: LocalUserPool) -> Iterator[FaultServer]:
    with FaultServer(lambda: lpool.jwks) as srv:
        yield srv


@pytest.mark.parametrize("loop", LOOPS)
def test_single_flight_on_every_loop(server: FaultServer, lpool: LocalUserPool, loop: str) -> None:
    server.delay = 0.3
    verifier = verifier_for(server, lpool)
    tokens = [lpool.access_token(f"user-{i}") for i in range(50)]
    names: list[str] = []

    async def one(tok: str) -> None:
        names.append(str((await verifier.averify(tok)).username))

    async def main() -> None:
        async with anyio.create_task_group() as group:
            for tok in tokens:
                group.start_soon(one, tok)

    run_on(loop, main)
    assert server.requests == 1
    assert len(set(names)) == 50


@pytest.mark.parametrize("loop", LOOPS)
def test_cancelled_leader_hands_over_on_every_loop(
    server: FaultServer, lpool: LocalUserPool, loop: str
) -> None:
    server.delay = 0.4
    verifier = verifier_for(server, lpool)
    got: list[str] = []

    async def leader(scope: anyio.CancelScope) -> None:
        with scope:
            await verifier.averify(lpool.access_token("leader"))

    async def waiter() -> None:
        got.append(str((await verifier.averify(lpool.access_token("waiter"))).username))

    async def main() -> None:
        scope = anyio.CancelScope()
        async with anyio.create_task_group() as group:
            group.start_soon(leader, scope)
            await anyio.sleep(0.1)  # the leader's fetch is in flight
            group.start_soon(waiter)
            await anyio.sleep(0.05)
            scope.cancel()

    run_on(loop, main)
    assert got == ["waiter"]
    assert server.requests == 2  # the waiter fetched in the cancelled leader's place


@pytest.mark.parametrize("loop", LOOPS)
def test_rotation_and_unknown_kids_on_every_loop(
    server: FaultServer, lpool: LocalUserPool, loop: str
) -> None:
    from tests.jwks_fault_server import forged

    verifier = verifier_for(server, lpool)

    async def main() -> None:
        assert await verifier.averify(lpool.access_token("before"))
        lpool.rotate_key()
        assert await verifier.averify(lpool.access_token("after"))  # one refetch
        for _ in range(20):
            with pytest.raises(UnknownKeyError):
                await verifier.averify(forged(lpool, time.time))
        await verifier.ahydrate()  # explicit refresh works on every loop too

    run_on(loop, main)
    assert server.requests == 4  # initial, rotation, one unknown-kid refetch, ahydrate


def test_one_verifier_shared_by_asyncio_uvloop_trio_and_threads(
    server: FaultServer, lpool: LocalUserPool
) -> None:
    server.delay = 0.4
    verifier = verifier_for(server, lpool)
    outcomes: list[Any] = []

    def on(loop: str) -> None:
        async def main() -> None:
            async with anyio.create_task_group() as group:
                for i in range(5):
                    group.start_soon(check, f"{loop}-{i}")

        async def check(name: str) -> None:
            outcomes.append((await verifier.averify(lpool.access_token(name))).username)

        run_on(loop, main)

    threads = [threading.Thread(target=on, args=(loop,)) for loop in LOOPS]
    threads += [
        threading.Thread(target=lambda: outcomes.append(verifier.verify(lpool.access_token())))
        for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(outcomes) == 23
    assert server.requests == 1


@pytest.mark.parametrize("loop", ["asyncio", "uvloop", "trio"])
def test_loop_stall_of_the_first_fetching_averify(
    server: FaultServer, lpool: LocalUserPool, loop: str
) -> None:
    verifier = verifier_for(server, lpool)  # built at import time, as an app does
    tok = lpool.access_token("first")
    gaps: list[float] = []
    done = False

    async def probe() -> None:
        last = time.perf_counter()
        while not done:
            await anyio.sleep(0.001)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    async def main() -> None:
        nonlocal done
        async with anyio.create_task_group() as group:
            group.start_soon(probe)
            await anyio.sleep(0.05)  # the probe's baseline
            baseline = max(gaps)
            started = time.perf_counter()
            assert await verifier.averify(tok)
            took = time.perf_counter() - started
            await anyio.sleep(0.01)
            done = True
        worst = max(gaps)
        print(
            f"\n{loop}: first fetching averify took {took * 1000:.1f} ms; longest loop "
            f"stall {worst * 1000:.1f} ms (probe baseline {baseline * 1000:.1f} ms)"
        )

    run_on(loop, main)
    assert server.requests == 1
