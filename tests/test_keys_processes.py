"""The key layer in the process models production runs: real os.fork() at many
moments, and gunicorn --preload (sync and uvicorn workers) with hydrate() at import
and in a background thread, a key rotation while requests flow. JWKS from a real
keep-alive loopback server (connection reuse is what breaks across a fork)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cognito_verify import CognitoVerifier
from cognito_verify.testing import LocalUserPool
from tests.conftest import Clock
from tests.jwks_fault_server import FaultServer, verifier_for, wait_until

ROOT = Path(__file__).resolve().parent.parent
CHILD_TIMEOUT = 20  # seconds a forked child may take to verify (a loaded machine)

pytestmark = [
    pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork"),
    # Python 3.12+ warns about fork() with threads alive: that is the case under test.
    pytest.mark.filterwarnings("ignore:.*multi-threaded.*fork:DeprecationWarning"),
]


@pytest.fixture
def fpool() -> LocalUserPool:
    return LocalUserPool("eu-west-1_ForkPool1", ("fork-client",))


@pytest.fixture
def server(fpool: LocalUserPool) -> Iterator[FaultServer]:
    with FaultServer(lambda: fpool.jwks) as srv:
        yield srv


# --- os.fork() --------------------------------------------------------------------------------


def fork_and_verify(verifier: CognitoVerifier, tok: str, how: str) -> int | str:
    """Fork; the child verifies ``tok`` and exits 0 (ok) or 1 (refused). A child
    that hangs is killed by its own alarm; returns the exit code or what killed it."""
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 2
        try:
            signal.alarm(CHILD_TIMEOUT)
            if how == "sync":
                verifier.verify(tok)
            else:
                asyncio.run(verifier.averify(tok))
            code = 0
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    end = time.monotonic() + CHILD_TIMEOUT + 10
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            if os.WIFSIGNALED(status):
                return f"killed by {signal.Signals(os.WTERMSIG(status)).name} (hung)"
            return os.WEXITSTATUS(status)
        if time.monotonic() > end:  # pragma: no cover - only if the alarm failed
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return "hung"
        time.sleep(0.01)


def slow_pool_build(monkeypatch: pytest.MonkeyPatch, building: threading.Event) -> None:
    import httpcore

    class SlowPool(httpcore.ConnectionPool):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            building.set()
            time.sleep(0.4)  # stands in for a slow client/TLS build on a loaded machine
            super().__init__(*args, **kwargs)

    monkeypatch.setattr("cognito_verify._fetch.httpcore.ConnectionPool", SlowPool)


MOMENTS = [
    "idle_with_keep_alive_connection",
    "first_fetch_in_flight",
    "client_being_built",
    "hydrate_in_background_thread",
    "async_fetch_in_another_thread",
    "refresh_in_flight",
    "layer_locks_held",
]


@pytest.mark.parametrize("how", ["sync", "async"])
@pytest.mark.parametrize("moment", MOMENTS)
def test_fork_at_any_moment_every_child_verifies(
    server: FaultServer,
    fpool: LocalUserPool,
    moment: str,
    how: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mono = Clock(0.0) if moment == "refresh_in_flight" else None
    verifier = verifier_for(server, fpool, **({"monotonic": mono} if mono else {}))
    background: list[threading.Thread] = []

    def start(target: Callable[[], Any]) -> None:
        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        background.append(thread)

    if moment == "idle_with_keep_alive_connection":
        verifier.verify(fpool.access_token("warm"))  # a keep-alive connection is open
        assert server.connections == 1
    elif moment == "first_fetch_in_flight":
        server.delay = 0.6
        start(lambda: verifier.verify(fpool.access_token("parent")))
        wait_until(lambda: server.requests == 1)
    elif moment == "client_being_built":
        building = threading.Event()
        slow_pool_build(monkeypatch, building)
        start(lambda: verifier.verify(fpool.access_token("parent")))
        wait_until(building.is_set)
    elif moment == "hydrate_in_background_thread":
        server.delay = 0.6
        start(verifier.hydrate)
        wait_until(lambda: server.requests == 1)
    elif moment == "async_fetch_in_another_thread":
        server.delay = 0.6
        start(lambda: asyncio.run(verifier.averify(fpool.access_token("parent"))))
        wait_until(lambda: server.requests == 1)
    elif moment == "refresh_in_flight":
        assert mono is not None
        verifier.verify(fpool.access_token("warm"))
        mono.advance(901)
        server.delay = 0.6
        start(lambda: verifier.verify(fpool.access_token("parent")))
        wait_until(lambda: server.requests == 2)
    elif moment == "layer_locks_held":
        verifier.verify(fpool.access_token("warm"))
        source = next(iter(verifier._remote.values()))
        locks = [source._refresh._lock, source._flights._lock, verifier._cache._lock]
        for lock in locks:
            lock.acquire()  # as if a parent thread were inside bookkeeping at the fork
        try:
            fpool.rotate_key()
            status = fork_and_verify(verifier, fpool.access_token("child"), how)
        finally:
            for lock in locks:
                lock.release()
        assert status == 0, status
        return
    # A key the parent has not seen: the child must fetch on its own.
    fpool.rotate_key()
    status = fork_and_verify(verifier, fpool.access_token("child"), how)
    assert status == 0, status
    for thread in background:
        thread.join(10)
    # The parent is unharmed: it verifies the new key too.
    assert verifier.verify(fpool.access_token("parent-after"))


def test_many_children_forked_during_a_fetch_each_fetch_on_their_own(
    server: FaultServer, fpool: LocalUserPool
) -> None:
    verifier = verifier_for(server, fpool)
    verifier.verify(fpool.access_token("warm"))
    fpool.rotate_key()
    server.delay = 0.2
    tok = fpool.access_token("child")
    statuses: list[int | str] = []
    for i in range(6):  # forks at different points of the parent's refetches
        thread = threading.Thread(target=verifier.verify, args=(tok,), daemon=True)
        thread.start()
        time.sleep(0.03 * i)
        statuses.append(fork_and_verify(verifier, tok, "sync" if i % 2 else "async"))
        thread.join(10)
    assert statuses == [0] * 6


def test_nothing_is_imported_on_the_fetch_path(fpool: LocalUserPool) -> None:
    # A fork during a lazy import leaves the child waiting on that module's lock, or
    # with a half-imported module (the "idna" codec of getaddrinfo once did so):
    # everything the first fetch needs is imported before requests run. The client is
    # a fresh interpreter that imports nothing but this package, so no module the test
    # harness happens to load can hide a lazy import; the JWKS is served from here.
    script = r"""
import json, sys
mode = sys.argv[1]
if mode != "sync":
    import asyncio
if mode == "trio":
    import trio
from cognito_verify import CognitoVerifier
pool_id, jwks_url, tok = sys.argv[2:5]
v = CognitoVerifier(pool_id, client_id=None, token_use="access", jwks_url=jwks_url)
before = set(sys.modules)
if mode == "sync":
    v.verify(tok)
elif mode == "asyncio":
    asyncio.run(v.averify(tok))
else:
    trio.run(v.averify, tok)
print(json.dumps(sorted(set(sys.modules) - before)))
"""
    with fpool.serve() as server:
        for mode in ("sync", "asyncio", "trio"):
            out = subprocess.run(
                [sys.executable, "-c", script, mode, fpool.user_pool_id, server.jwks_url,
                 fpool.access_token("u")],
                capture_output=True,
                text=True,
                timeout=120,
                check=True,
                cwd=ROOT,
            )
            assert json.loads(out.stdout) == [], (mode, out.stdout)


_C_FORK = r"""
import ctypes, json, os, signal, sys
from cognito_verify import CognitoVerifier
pool_id, client, url, warm, timeout = sys.argv[1:6]
verifier = CognitoVerifier(pool_id, client_id=client, token_use="access", jwks_url=url,
                           jwks_timeout=5.0)
verifier.verify(warm)  # a keep-alive connection is open
print("warm", flush=True)
child_token, parent_token = sys.stdin.readline().split()
# PyDLL holds the GIL across fork(): with CDLL it is released, another thread may take
# it, and the child then waits forever for a GIL its holder never gives back.
libc = ctypes.PyDLL(None, use_errno=True)
pid = libc.fork()
if pid == 0:  # the child
    code = 2
    try:
        signal.alarm(int(timeout))
        verifier.verify(child_token)
        code = 0
    except BaseException:
        code = 1
    finally:
        os._exit(code)
_, status = os.waitpid(pid, 0)
verifier.verify(parent_token)  # the parent fetches too, on its own connection
print(json.dumps(os.waitstatus_to_exitcode(status)), flush=True)
"""


def test_a_child_forked_in_c_without_pythons_hooks_resets_the_layer_itself(
    server: FaultServer, fpool: LocalUserPool
) -> None:
    """libc's fork() runs none of Python's at-fork hooks, as uWSGI's workers are forked:
    the child must still not use the parent's keep-alive connection or flights. The
    forking process is a fresh interpreter with one thread, as a uWSGI master is at
    its fork; pytest's own threads would make a hook-less fork of it a lottery."""
    argv = [fpool.user_pool_id, fpool.client_id, server.url, fpool.access_token("warm")]
    proc = subprocess.Popen(
        [sys.executable, "-c", _C_FORK, *argv, str(CHILD_TIMEOUT)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None and proc.stdin is not None
        assert proc.stdout.readline().strip() == "warm"
        assert server.connections == 1
        fpool.rotate_key()
        # The child's token is signed by a key the parent has not seen: it must fetch.
        proc.stdin.write(f"{fpool.access_token('child')} {fpool.access_token('parent')}\n")
        proc.stdin.flush()
        out, err = proc.communicate(timeout=CHILD_TIMEOUT * 3)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert json.loads(out) == 0, err  # the child verified and exited cleanly
    # warm, the child's fetch, the parent's own fetch of the new key afterwards
    assert server.requests == 3
    # the child opened its own; the parent kept using its keep-alive connection
    assert server.connections == 2


# --- gunicorn --preload ---------------------------------------------------------------------

WORKERS = 4


class Gunicorn:
    def __init__(self, worker: str, hydrate: str, server: FaultServer, pool: LocalUserPool):
        app = "tests.preload_app:wsgi" if worker == "sync" else "tests.preload_app:asgi"
        klass = "sync" if worker == "sync" else "uvicorn_worker.UvicornWorker"
        env = {
            **os.environ,
            "CV_POOL": pool.user_pool_id,
            "CV_CLIENT": pool.client_id,
            "CV_JWKS": server.url,
            "CV_HYDRATE": hydrate,
            "PYTHONPATH": str(ROOT),
        }
        self.proc = subprocess.Popen(
            [
                sys.executable, "-m", "gunicorn", "--preload", "-w", str(WORKERS), "-k", klass,
                "--bind", "127.0.0.1:0", "--graceful-timeout", "5", "--timeout", "60",
                "--log-level", "info", app,
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.log: list[str] = []
        self.port = 0
        self.booted = 0
        listening = threading.Event()

        def read() -> None:
            assert self.proc.stderr is not None
            for line in self.proc.stderr:
                self.log.append(line)
                found = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", line)
                if found:
                    self.port = int(found.group(1))
                    listening.set()
                if "Booting worker" in line:
                    self.booted += 1

        self._reader = threading.Thread(target=read, daemon=True)
        self._reader.start()
        if not listening.wait(90):
            self.stop()
            raise AssertionError("gunicorn did not start:\n" + "".join(self.log[-30:]))
        wait_until(lambda: self.booted >= WORKERS, timeout=90)

    def stop(self) -> float:
        """SIGTERM; returns how long the shutdown took (a hung worker would block it)."""
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("gunicorn did not stop: a worker hung") from None
        finally:
            self._reader.join(10)
            if self.proc.stderr is not None:
                self.proc.stderr.close()
        return time.monotonic() - started


@pytest.mark.slow
@pytest.mark.parametrize("hydrate", ["import", "thread"])
@pytest.mark.parametrize("worker", ["sync", "uvicorn"])
def test_gunicorn_preload_workers_accept_every_genuine_token_through_a_rotation(
    server: FaultServer, fpool: LocalUserPool, worker: str, hydrate: str
) -> None:
    if hydrate == "thread":
        server.delay = 0.5  # the hydrate is still in flight when the workers are forked
    gunicorn = Gunicorn(worker, hydrate, server, fpool)
    try:
        url = f"http://127.0.0.1:{gunicorn.port}/"
        server.delay = 0.0
        results: list[tuple[int, str]] = []
        lock = threading.Lock()
        rotated = threading.Event()

        def client(n: int) -> None:
            with httpx.Client(timeout=30) as http:
                for i in range(n):
                    if i == n // 2:
                        rotated.wait(30)
                    tok = fpool.access_token(f"user-{i}")
                    response = http.get(url, headers={"Authorization": f"Bearer {tok}"})
                    with lock:
                        results.append((response.status_code, response.text))

        threads = [threading.Thread(target=client, args=(20,)) for _ in range(6)]
        for t in threads:
            t.start()
        wait_until(lambda: len(results) >= 30, timeout=60)
        before_rotation = server.requests
        fpool.rotate_key()  # Cognito publishes a new key and signs with it
        rotated.set()
        for t in threads:
            t.join(90)
        assert not any(t.is_alive() for t in threads), "a request hung"
        refused = [r for r in results if r[0] != 200]
        assert not refused, (refused[:5], "".join(gunicorn.log[-40:]))
        assert len(results) == 120
        pids = {text.split()[0] for _, text in results}
        print(f"{worker}/{hydrate}: {len(pids)} workers served, {server.requests} JWKS "
              f"requests ({before_rotation} before the rotation)")
        # Fetch counts as documented: workers inherit the preloaded keys (no request of
        # their own until they need one), then each fetches once for the new kid.
        if hydrate == "import":
            assert before_rotation == 1
        else:
            assert before_rotation <= 1 + WORKERS
        assert server.requests <= before_rotation + WORKERS
        assert server.connections >= 1 + len(pids) - 1  # no connection shared by two
    finally:
        took = gunicorn.stop()
    assert took < 25


# --- uwsgi --master (the app is loaded in the master, then workers are forked) -------------


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


UWSGI = Path(sys.executable).parent / "uwsgi"


class Uwsgi:
    """``uwsgi --master --processes 4`` serving tests/preload_app.py:wsgi. uWSGI forks
    its workers in C: Python's at-fork hooks run only with ``--py-call-uwsgi-fork-hooks``
    (``hooks=True``); without it (the default) the key layer notices the fork itself."""

    def __init__(self, hydrate: str, server: FaultServer, pool: LocalUserPool, hooks: bool):
        self.port = _free_port()
        env = {
            **os.environ,
            "CV_POOL": pool.user_pool_id,
            "CV_CLIENT": pool.client_id,
            "CV_JWKS": server.url,
            "CV_HYDRATE": hydrate,
            "PYTHONPATH": str(ROOT),
        }
        self.proc = subprocess.Popen(
            [
                str(UWSGI), "--master", "--processes", str(WORKERS),
                "--http-socket", f"127.0.0.1:{self.port}", "--module", "tests.preload_app:wsgi",
                "--virtualenv", sys.prefix, "--die-on-term", "--worker-reload-mercy", "10",
                *(["--py-call-uwsgi-fork-hooks"] if hooks else []),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.log: list[str] = []
        self.booted = 0
        ready = threading.Event()

        def read() -> None:
            assert self.proc.stderr is not None
            for line in self.proc.stderr:
                self.log.append(line)
                if "spawned uWSGI worker" in line:
                    self.booted += 1
                    if self.booted >= WORKERS:
                        ready.set()

        self._reader = threading.Thread(target=read, daemon=True)
        self._reader.start()
        if not ready.wait(90):
            self.stop()
            raise AssertionError("uwsgi did not start:\n" + "".join(self.log[-30:]))

    def stop(self) -> float:
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("uwsgi did not stop: a worker hung") from None
        finally:
            self._reader.join(10)
            if self.proc.stderr is not None:
                self.proc.stderr.close()
        return time.monotonic() - started


@pytest.mark.slow
@pytest.mark.skipif(
    not UWSGI.exists(), reason="uwsgi is not installed (make test builds it where gcc exists)"
)
@pytest.mark.parametrize(
    ("hydrate", "hooks"),
    [("import", False), ("import", True), ("thread", True)],
    # Not ("thread", False): a thread still running in the master when uWSGI forks in C
    # can leave Python's own locks (the GIL, threading's, logging's) held in a worker,
    # which no library can undo; workers hung in some runs. docs/keys.md says so.
    ids=["import-default", "import-fork-hooks", "thread-fork-hooks"],
)
def test_uwsgi_master_workers_accept_every_genuine_token_through_a_rotation(
    server: FaultServer, fpool: LocalUserPool, hydrate: str, hooks: bool
) -> None:
    if hydrate == "thread":
        server.delay = 0.5  # the hydrate is still in flight when the workers are forked
    uwsgi = Uwsgi(hydrate, server, fpool, hooks)
    try:
        url = f"http://127.0.0.1:{uwsgi.port}/"
        server.delay = 0.0
        results: list[tuple[int, str]] = []
        lock = threading.Lock()
        rotated = threading.Event()

        def client(n: int) -> None:
            # A connection per request: uWSGI's workers take turns accepting them.
            for i in range(n):
                if i == n // 2:
                    rotated.wait(30)
                tok = fpool.access_token(f"user-{i}")
                try:
                    response = httpx.get(
                        url, headers={"Authorization": f"Bearer {tok}"}, timeout=30
                    )
                    outcome = (response.status_code, response.text)
                except httpx.HTTPError as exc:
                    outcome = (0, repr(exc))
                with lock:
                    results.append(outcome)

        threads = [threading.Thread(target=client, args=(20,)) for _ in range(6)]
        for t in threads:
            t.start()
        try:
            wait_until(lambda: len(results) >= 30, timeout=60)
        except AssertionError:
            raise AssertionError((results[:8], "".join(uwsgi.log[-40:]))) from None
        before_rotation = server.requests
        fpool.rotate_key()
        rotated.set()
        for t in threads:
            t.join(90)
        assert not any(t.is_alive() for t in threads), "a request hung"
        refused = [r for r in results if r[0] != 200]
        assert not refused, (refused[:5], "".join(uwsgi.log[-40:]))
        assert len(results) == 120
        pids = {text.split()[0] for _, text in results}
        print(f"uwsgi {hydrate} hooks={hooks}: {len(pids)} workers served, "
              f"{server.requests} JWKS requests ({before_rotation} before the rotation)")
        if hydrate == "import":
            assert before_rotation == 1
        else:
            assert before_rotation <= 1 + WORKERS
        assert server.requests <= before_rotation + WORKERS
        assert server.connections >= len(pids)  # no connection shared by two processes
    finally:
        took = uwsgi.stop()
    assert took < 25
