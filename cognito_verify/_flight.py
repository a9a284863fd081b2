"""Single flight: one fetch per source at a time, shared by threads and by tasks of
any event loop (asyncio, uvloop, trio), in any number of loops at once.

The first caller that needs a fetch leads it; the others wait for its outcome.
Threads wait on a ``threading.Event``. Tasks poll that event with ``anyio.sleep``
(1 ms doubling to 20 ms): no future tied to one loop, no cross-thread wake-up that
only asyncio or only trio understands, and cancellation works as anywhere else in
the task. Fetches are rare (one per source per ``max_age``), so the polling costs
nothing measurable.

Every wait is bounded by ``wait_limit`` (the fetch timeout plus a margin), measured
in real time: a waiter never hangs, even if the leader's event loop stalls. A flight
older than that on the policy's monotonic clock was abandoned (its loop stopped
without cancelling it) and is replaced by the next caller.

No second flight by a late caller: a caller decides to fetch (from the key set it
read), then asks to lead. If a flight landed in between, the document was fetched
after its decision, so that outcome is its answer: ``lead_or_join`` is given the
``landed`` count read before the decision and tells such a caller to use that
outcome (``lead_join_or_skip`` answers None) rather than lead a second fetch.

Forks: ``after_fork_in_child`` gives the child a new lock and no flight. A flight
in progress at the fork belongs to a parent thread the child does not have: the
child never waits on it, and fetches on its own.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import anyio

from .errors import JWKSError

log = logging.getLogger("cognito_verify")


class Flight:
    """One fetch in progress; everyone who needs the document meanwhile waits for it."""

    __slots__ = ("kid", "reason", "started", "done", "aborted", "error")

    def __init__(self, kid: str | None, reason: str, started: float) -> None:
        self.kid = kid  # the kid that made it necessary (None: refresh, max age)
        self.reason = reason
        self.started = started  # on the policy's monotonic clock
        self.done = threading.Event()
        self.aborted = False  # the leader was cancelled before the fetch had an outcome
        self.error: JWKSError | None = None


class SingleFlight:
    """The flight register of one source. Its lock is held for a few lines, never
    across IO, client building or logging."""

    def __init__(self, label: str, monotonic: Callable[[], float], wait_limit: float) -> None:
        self.label = label
        self._monotonic = monotonic
        self.wait_limit = wait_limit
        self._lock = threading.Lock()
        self._current: Flight | None = None
        self.landed = 0  # flights landed with an outcome; read before deciding to fetch

    def after_fork_in_child(self) -> None:
        self._lock = threading.Lock()
        self._current = None

    def lead_or_join(self, kid: str | None, reason: str) -> tuple[Flight, bool]:
        """The flight to wait for, or a new one this caller leads (``True``)."""
        step = self._enter(kid, reason, None)
        assert step is not None  # only a ``since`` can answer None
        return step

    def lead_join_or_skip(
        self, kid: str | None, reason: str, since: int
    ) -> tuple[Flight, bool] | None:
        """As :meth:`lead_or_join`, but None if a flight landed with an outcome since
        ``landed`` read ``since``: that outcome answers this caller, who must look at
        the key set again instead of fetching a second time."""
        return self._enter(kid, reason, since)

    def _enter(self, kid: str | None, reason: str, since: int | None) -> tuple[Flight, bool] | None:
        now = self._monotonic()
        with self._lock:
            current = self._current
            age = now - current.started if current is not None else 0.0
            if current is not None and age <= self.wait_limit:
                return current, False
            if current is None and since is not None and since != self.landed:
                return None
            # A flight older than any wait had its leader abandoned (a task on an event
            # loop that stopped without cancelling it): without replacing it, every
            # later fetch would wait on it in vain.
            self._current = flight = Flight(kid, reason, now)
        if current is not None:
            log.warning(
                "key fetch from %s unfinished after %.1f s; starting another", self.label, age
            )
        return flight, True

    def land(self, flight: Flight, error: JWKSError | None, aborted: bool) -> None:
        """End ``flight`` and wake every waiter."""
        flight.error = error
        flight.aborted = aborted
        with self._lock:
            if self._current is flight:
                self._current = None
            if not aborted:  # a flight cut short answered nobody
                self.landed += 1
        flight.done.set()

    def _timed_out(self) -> JWKSError:
        return JWKSError(f"timed out waiting for the key fetch from {self.label} in progress")

    def wait(self, flight: Flight) -> None:
        if not flight.done.wait(self.wait_limit):
            raise self._timed_out()

    async def await_(self, flight: Flight) -> None:
        if flight.done.is_set():
            return
        end = time.monotonic() + self.wait_limit
        pause = 0.001
        while not flight.done.is_set():
            left = end - time.monotonic()
            if left <= 0:
                raise self._timed_out()
            await anyio.sleep(min(pause, left))
            pause = min(pause * 2, 0.02)
