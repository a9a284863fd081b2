"""Key sources: ``RemoteKeys`` (a document at a URL, fetched and refreshed by policy)
and ``StaticKeys`` (keys given in memory). The drivers only: the policy is in
``_policy``, the single flight in ``_flight``, HTTP in ``_fetch``, parsing in
``_keyset`` (or any ``Parser``).

The retry loop is written once, as a generator (``_flow``) that yields "lead this
fetch" or "wait for that flight"; ``get`` and ``aget`` are thin drivers that do the
sync or async IO for each step, as httpx's ``auth_flow`` does for authentication.

Invariant: **no lock of this layer is held across slow work** (IO, building an
HTTP client or TLS context, importing, logging). Locks guard a few lines of
bookkeeping; the key set is an immutable snapshot replaced by one assignment, so a
known key is served without waiting for anything. Nothing the fetch path needs is
imported lazily: ``_fetch`` imports it all, and TLS contexts are built when a
source is created.

Forks: every ``RemoteKeys`` alive in a process is reset in a forked child by an
``os.register_at_fork`` hook: new locks, no flight, no connection (the parent's is
dropped unused). A child forked without Python's hooks (uWSGI's workers, forked in
C) is noticed by its pid at its first key lookup (``check_fork``) and reset then.
Keys the parent held keep serving the child; from then on it
fetches on its own.

Plugging in another key source (an ALB's one PEM per ``kid``, a pool resolved at
run time): build ``RemoteKeys(url, parse=your_parser, ...)`` where ``your_parser``
turns the response bytes into a ``KeySet`` (``_keyset``); single flight, back-off,
stale window, 403/404 learning, bounded IO and fork safety come with it. For one
document per kid, keep one ``RemoteKeys`` per kid (a 404 is then learned for
``absent_cooldown``), in a bounded cache.
"""

from __future__ import annotations

import logging
import math
import os
import random
import threading
import time
import weakref
from collections.abc import Callable, Generator, Mapping
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from . import _cache
from ._fetch import DocumentAbsentError, Fetcher
from ._flight import Flight, SingleFlight
from ._keyset import KeySet, NoUsableKeyError, Parser, jwks_keyset, parse_jwks
from ._policy import Fetch, KeyPolicy, KeyStats, Refresh
from .errors import ConfigurationError, JWKSError

if TYPE_CHECKING:  # typing only: httpx is imported only if you pass its clients
    import httpx

log = logging.getLogger("cognito_verify")

K = TypeVar("K")

# A step of the flow: (flight, True) to lead its fetch, (flight, False) to wait for it.
_Step = tuple[Flight, bool]


class RemoteKeys(Generic[K]):
    """The key set of one URL, fetched on need and refreshed by policy.

    Args:
        url: the document's http(s) URL.
        parse: bytes -> ``KeySet`` (default: a JWKS of RS256 keys).
        policy: a ``KeyPolicy``.
        monotonic: the policy's clock (``time.monotonic``); tests inject their own.
        http_client / async_http_client: the user's ``httpx`` clients, if any.
        learn_absent: learn a 403/404 (with no keys held) for ``absent_cooldown``
            and refuse with ``UnknownKeyError`` meanwhile (True: an extra issuer form
            or replica region, an ALB kid); False for a pool's own endpoint, where it
            is a failure like any other (see ``disown_absent``).

    ``version`` (an int) changes whenever what the set would verify changes, and
    ``fresh_until`` is the monotonic instant the set reaches its maximum age: a
    verified-token cache keys its invalidation on both.
    """

    def __init__(
        self,
        url: str,
        *,
        parse: Parser = parse_jwks,
        policy: KeyPolicy | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
        rng: random.Random | None = None,
        label: str | None = None,
        learn_absent: bool = True,
    ) -> None:
        policy = policy or KeyPolicy()
        self.url = url
        self.label = label or url
        self.policy = policy
        self._parse = parse
        self._refresh: Refresh[K] = Refresh(self.label, policy, monotonic, rng)
        self._refresh.learn_absent = learn_absent
        # A leader's fetch ends within the timeout; the margin covers scheduling.
        self._flights = SingleFlight(self.label, monotonic, policy.timeout + 1.0)
        self._fetcher = Fetcher(
            url,
            timeout=policy.timeout,
            connect_timeout=policy.connect_timeout,
            max_bytes=policy.max_bytes,
            http_client=http_client,
            async_http_client=async_http_client,
        )
        self.version = 0
        self.fresh_until = -math.inf
        reset_in_child(self)

    @property
    def stats(self) -> KeyStats:
        """A snapshot of this source's counters."""
        return self._refresh.stats

    @property
    def keyset(self) -> KeySet[K] | None:
        return self._refresh.keyset

    @property
    def failed(self) -> bool:
        """True while no key set is held and the last fetch failed (not a 403/404)."""
        error = self._refresh.last_error
        return (
            self.keyset is None and error is not None and not isinstance(error, DocumentAbsentError)
        )

    def disown_absent(self) -> None:
        """This URL is a pool's own endpoint: a 403/404 is a failure, not learned."""
        self._refresh.learn_absent = False

    def after_fork_in_child(self) -> None:
        self._refresh.after_fork_in_child()
        self._flights.after_fork_in_child()
        self._fetcher.after_fork_in_child()

    # --- the flow, once ------------------------------------------------------------------

    def _flow(self, kid: str, first: Fetch, since: int) -> Generator[_Step, None, K]:
        """``first``: the plan made after reading ``since`` (the flights landed)."""
        step: K | Fetch = first
        for attempt in range(3):
            if attempt:
                since = self._flights.landed
                step = self._refresh.plan(kid, True)
            if not isinstance(step, Fetch):
                return step
            entered = self._flights.lead_join_or_skip(kid, step.reason, since)
            if entered is None:
                # A fetch landed after this caller decided to fetch: its outcome is the
                # answer (a second request now could only repeat it, or feed a flood).
                break
            flight, leader = entered
            if not leader and step.serve is not None:
                self._refresh.count("cache_hits")
                serve: K = step.serve
                return serve  # another caller is refreshing; the known key serves on
            yield flight, leader
            if not flight.aborted:
                break
        return self._refresh.after_fetch(kid)

    def _refresh_flow(self) -> Generator[_Step, None, None]:
        for _ in range(3):
            flight, leader = self._flights.lead_or_join(None, "refresh")
            yield flight, leader
            if not flight.aborted:
                break
        if flight.error is not None:
            raise flight.error
        if flight.aborted or self._refresh.keyset is None:
            raise JWKSError(f"no keys could be fetched from {self.label}")

    def _land(self, flight: Flight, body: bytes | JWKSError | None, elapsed: float) -> None:
        """Parse (no lock held), settle the policy, wake waiters, then log."""
        outcome: KeySet[K] | JWKSError | None
        if isinstance(body, bytes):
            try:
                outcome = self._parse(body)
            except NoUsableKeyError as exc:
                message = f"key response from {self.url}: {exc.message}"
                outcome = NoUsableKeyError(message, exc.rejected)
            except JWKSError as exc:
                outcome = JWKSError(f"key response from {self.url}: {exc.message}")
            except Exception as exc:  # a parser's bug is a failed fetch, not a crash
                outcome = JWKSError(f"key response from {self.url}: {type(exc).__name__}")
        else:
            outcome = body
        notes = []
        if outcome is not None:
            notes = self._refresh.settle(
                flight.kid, flight.reason, outcome, elapsed, flight.started
            )
            self.fresh_until = self._refresh.fresh_until
            self.version = self._refresh.version
        error = outcome if isinstance(outcome, JWKSError) else None
        self._flights.land(flight, error, aborted=outcome is None)
        for level, message, *args in notes:
            log.log(level, message, *args)

    # --- sync driver -------------------------------------------------------------------

    def _drive(self, flow: Generator[_Step, None, Any]) -> Any:
        try:
            flight, leader = next(flow)
            while True:
                if leader:
                    self._run(flight)
                else:
                    self._flights.wait(flight)
                flight, leader = flow.send(None)
        except StopIteration as stop:
            return stop.value

    def _run(self, flight: Flight) -> None:
        log.info("JWKS fetch started: %s (%s)", self.url, flight.reason)
        started = time.monotonic()
        body: bytes | JWKSError | None = None
        try:
            try:
                body = self._fetcher.fetch()
            except JWKSError as exc:
                body = exc
            except Exception as exc:  # any failure to fetch is a fetch failure
                body = JWKSError(f"key request to {self.url} failed: {type(exc).__name__}")
        finally:
            self._land(flight, body, time.monotonic() - started)

    def get(self, kid: str) -> K:
        """The key for ``kid``, fetching the document if the policy says so.

        Raises:
            UnknownKeyError / UnusableKeyError: the token names no usable key.
            JWKSError: no key set is available.
        """
        check_fork()
        since = self._flights.landed  # before the plan: see ``_flight``
        step = self._refresh.plan(kid, True)
        if not isinstance(step, Fetch):
            return step  # the common case, without building the flow
        result: K = self._drive(self._flow(kid, step, since))
        return result

    def refresh(self) -> None:
        """Fetch now (or join the fetch in progress).

        Raises:
            JWKSError: that fetch did not yield a usable key set.
        """
        check_fork()
        self._drive(self._refresh_flow())

    # --- async driver ------------------------------------------------------------------

    async def _adrive(self, flow: Generator[_Step, None, Any]) -> Any:
        try:
            flight, leader = next(flow)
            while True:
                if leader:
                    await self._arun(flight)
                else:
                    await self._flights.await_(flight)
                flight, leader = flow.send(None)
        except StopIteration as stop:
            return stop.value

    async def _arun(self, flight: Flight) -> None:
        log.info("JWKS fetch started: %s (%s)", self.url, flight.reason)
        started = time.monotonic()
        body: bytes | JWKSError | None = None
        try:
            try:
                body = await self._fetcher.afetch()
            except JWKSError as exc:
                body = exc
            except Exception as exc:  # any failure to fetch is a fetch failure
                body = JWKSError(f"key request to {self.url} failed: {type(exc).__name__}")
        finally:
            # Also on cancellation: waiters are woken and one of them fetches instead.
            self._land(flight, body, time.monotonic() - started)

    async def aget(self, kid: str) -> K:
        """Async twin of :meth:`get` (asyncio, uvloop or trio)."""
        check_fork()
        since = self._flights.landed
        step = self._refresh.plan(kid, True)
        if not isinstance(step, Fetch):
            return step
        result: K = await self._adrive(self._flow(kid, step, since))
        return result

    async def arefresh(self) -> None:
        """Async twin of :meth:`refresh`."""
        check_fork()
        await self._adrive(self._refresh_flow())

    def close(self) -> None:
        self._fetcher.close()


class StaticKeys:
    """Keys given in memory (``jwks=``): never fetches, never ages."""

    version = 0
    fresh_until = math.inf

    def __init__(self, jwks: Mapping[str, Any], label: str) -> None:
        self.label = label
        try:
            self.keyset = jwks_keyset(jwks)
        except JWKSError as exc:
            raise ConfigurationError(f"jwks= for {label}: {exc.message}") from None

    def get(self, kid: str) -> Any:
        return self.keyset.find(kid, self.label)

    async def aget(self, kid: str) -> Any:
        return self.keyset.find(kid, self.label)

    def refresh(self) -> None:
        return None

    async def arefresh(self) -> None:
        return None


class _ForkAware(Protocol):
    def after_fork_in_child(self) -> None: ...


_LIVE: weakref.WeakSet[_ForkAware] = weakref.WeakSet()
_PID = [os.getpid()]  # the process the layer's state belongs to
_RESETTING = threading.Lock()


def reset_in_child(obj: _ForkAware) -> None:
    """Call ``obj.after_fork_in_child()`` in every child forked while it is alive."""
    _LIVE.add(obj)


def _after_fork_in_child() -> None:
    global _RESETTING
    _RESETTING = threading.Lock()
    _PID[0] = os.getpid()
    for obj in list(_LIVE):
        obj.after_fork_in_child()
    _cache.after_fork_in_child()


def check_fork() -> None:
    """Reset the layer now if this process was forked without Python's at-fork hooks.

    uWSGI forks its workers in C: unless it runs with ``--py-call-uwsgi-fork-hooks``,
    ``os.register_at_fork`` hooks never run in them, and every worker would share the
    master's keep-alive connection, flights and locks. The pid tells: every key
    lookup calls this (one ``getpid``), and the first one in such a child resets
    everything the hook would have.
    """
    if os.getpid() != _PID[0]:
        with _RESETTING:
            if os.getpid() != _PID[0]:
                _after_fork_in_child()


if hasattr(os, "register_at_fork"):  # POSIX; Windows has no fork
    os.register_at_fork(after_in_child=_after_fork_in_child)
