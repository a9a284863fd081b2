"""Many documents, one per name: a bounded set of ``RemoteKeys`` created on demand.

For key sources where the URL depends on the name being looked up: an ALB serves
one PEM per ``kid`` at ``{base}/{kid}``. Each name gets its own ``RemoteKeys``
(single flight, back-off, stale window, 403/404 learned, bounded IO, fork safety),
kept in an LRU of ``max_sources``.

Flood protection across names. Anyone can send a token naming an invented ``kid``,
and every name never found costs a request, so such a fetch is a **probe**, and:

* one probe at a time per directory: a caller with another new name waits for the
  probe in flight (bounded), then decides again;
* a probe that finds nothing (403/404, a document without the key, or a failed
  fetch: timeout, 5xx) starts a window of ``policy.unknown_kid_cooldown`` seconds
  (monotonic) in which names never found are refused without a request:
  ``UnknownKeyError`` (401), or ``JWKSError`` (503) for a name whose fetch failed;
* a name found absent is not held (memory stays bounded by ``max_sources`` however
  many names are invented); a name whose fetch failed is held, so its repeats are
  answered from its back-off.

So a flood of invented names costs at most one request per window, whatever the
concurrency (threads, tasks of any event loop), and names already found are served
throughout. The caller must validate a name before it reaches ``url_for`` (an ALB
``kid`` is a UUID): this class builds URLs, it does not judge them.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Generic, TypeVar

from cachetools import LRUCache

from ._flight import Flight, SingleFlight
from ._keyset import Parser
from ._policy import KeyPolicy, KeyStats
from ._remote import RemoteKeys, check_fork, reset_in_child
from .errors import JWKSError, UnknownKeyError

if TYPE_CHECKING:
    import httpx

K = TypeVar("K")


class KeyDirectory(Generic[K]):
    """Keys looked up by name, each name's document at ``url_for(name)``.

    Args:
        url_for: name -> the document's URL (the name is already validated).
        parse_for: name -> the ``Parser`` for that document (bytes -> ``KeySet``
            holding at least the key named ``name``).
        policy / monotonic / http_client / async_http_client: as for ``RemoteKeys``.
        max_sources: names held at once (least recently used dropped first).
        label: how errors name this directory.
    """

    def __init__(
        self,
        url_for: Callable[[str], str],
        parse_for: Callable[[str], Parser],
        *,
        policy: KeyPolicy | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
        max_sources: int = 64,
        label: str = "the key directory",
    ) -> None:
        self.policy = policy or KeyPolicy()
        self.label = label
        self._url_for = url_for
        self._parse_for = parse_for
        self._monotonic = monotonic
        self._clients = (http_client, async_http_client)
        self._lock = threading.Lock()  # a few lines of bookkeeping, never IO
        self._sources: LRUCache[str, RemoteKeys[K]] = LRUCache(maxsize=max_sources)
        # One probe (a fetch for a name never found) at a time; waits bounded as a fetch's.
        self._probes = SingleFlight(label, monotonic, self.policy.timeout + 1.0)
        self._new_refused_until = -math.inf
        self._refused = 0
        self._dropped = KeyStats()  # counters of sources no longer held
        reset_in_child(self)

    def after_fork_in_child(self) -> None:
        # A parent thread may have held the lock mid-update, or been probing: a new
        # lock, no probe, and a copy of the names held (or none, if the copy fails);
        # the sources reset themselves.
        self._lock = threading.Lock()
        self._probes.after_fork_in_child()
        fresh: LRUCache[str, RemoteKeys[K]] = LRUCache(maxsize=self._sources.maxsize)
        try:
            fresh.update(list(self._sources.items()))
        except Exception:  # pragma: no cover - an update cut short by the fork
            fresh = LRUCache(maxsize=self._sources.maxsize)
        self._sources = fresh

    @property
    def stats(self) -> KeyStats:
        with self._lock:
            sources = list(self._sources.values())
            total = self._dropped + KeyStats(unknown_kid_rejections=self._refused)
        for source in sources:
            total += source.stats
        return total

    # --- admission: names found are served; a name never found is a probe -------------

    def _held(self, name: str) -> RemoteKeys[K] | None:
        """Under the lock: the source of a name already found; else None, or a refusal
        inside the window (counted)."""
        found = self._sources.get(name)
        if found is not None and found.keyset is not None:
            return found
        if self._monotonic() < self._new_refused_until:
            self._refused += 1
            if found is not None and found.failed:
                raise JWKSError(f"no key for the token's kid could be fetched from {self.label}")
            raise UnknownKeyError(f"the token's kid is not a key of {self.label}")
        return None

    def _admit(self, name: str) -> Generator[Flight, None, tuple[RemoteKeys[K], Flight | None]]:
        """Yields a probe flight to wait for; returns (source, the probe this caller
        leads, or None when the name was already found)."""
        for _ in range(2):
            with self._lock:
                held = self._held(name)
            if held is not None:
                return held, None
            flight, leader = self._probes.lead_or_join(name, "new name")
            if leader:
                try:
                    with self._lock:
                        held = self._held(name)  # a probe landed just before this one
                        source = self._sources.get(name)
                    if held is None and source is None:
                        # Built outside the lock (a TLS context may be built for https).
                        created: RemoteKeys[K] = RemoteKeys(
                            self._url_for(name),
                            parse=self._parse_for(name),
                            policy=self.policy,
                            monotonic=self._monotonic,
                            http_client=self._clients[0],
                            async_http_client=self._clients[1],
                        )
                        with self._lock:
                            source = self._sources.setdefault(name, created)
                except BaseException:
                    self._probes.land(flight, None, aborted=True)  # waiters decide again
                    raise
                if held is not None:
                    self._probes.land(flight, None, aborted=False)
                    return held, None
                assert source is not None  # found held, or created above
                return source, flight
            yield flight
        with self._lock:
            held = self._held(name)  # the probe just waited for may have been this name's
            if held is not None:
                return held, None
            # Probes of other names kept the directory busy: refused, not queued.
            self._refused += 1
        raise UnknownKeyError(f"the token's kid is not a key of {self.label} (not fetched now)")

    def _probed(
        self, name: str, source: RemoteKeys[K], probe: Flight, absent: bool, before: int
    ) -> None:
        """After a probe's fetch: a name still never found starts the window (and is
        dropped if found absent); then the waiting callers decide again."""
        settled = source.stats.fetches > before  # no: cancelled before any outcome
        with self._lock:
            if settled and source.keyset is None:
                self._new_refused_until = self._monotonic() + self.policy.unknown_kid_cooldown
                if absent and self._sources.get(name) is source:
                    del self._sources[name]
                    self._dropped += source.stats
        if settled and source.keyset is None and absent:
            source.close()
        self._probes.land(probe, None, aborted=not settled)

    def source(self, name: str) -> RemoteKeys[K]:
        """The source held for ``name`` (found earlier, or in its first fetch).

        Raises:
            UnknownKeyError: ``name`` is not held.
        """
        with self._lock:
            found = self._sources.get(name)
        if found is None:
            raise UnknownKeyError(f"the token's kid is not a key of {self.label}")
        return found

    def get(self, name: str, kid: str | None = None) -> K:
        """The key ``kid`` (default: ``name``) of ``name``'s document.

        Raises:
            UnknownKeyError / UnusableKeyError / JWKSError: as ``RemoteKeys.get``, and
            for a name never found while another is probed or inside the window.
        """
        check_fork()
        admit = self._admit(name)
        try:
            flight = next(admit)
            while True:
                self._probes.wait(flight)
                flight = admit.send(None)
        except StopIteration as stop:
            source, probe = stop.value
        absent = False
        before = source.stats.fetches if probe is not None else 0
        try:
            result: K = source.get(kid if kid is not None else name)
        except UnknownKeyError:
            absent = True
            raise
        finally:
            if probe is not None:
                self._probed(name, source, probe, absent, before)
        return result

    async def aget(self, name: str, kid: str | None = None) -> K:
        """Async twin of :meth:`get` (asyncio, uvloop or trio)."""
        check_fork()
        admit = self._admit(name)
        try:
            flight = next(admit)
            while True:
                await self._probes.await_(flight)
                flight = admit.send(None)
        except StopIteration as stop:
            source, probe = stop.value
        absent = False
        before = source.stats.fetches if probe is not None else 0
        try:
            result: K = await source.aget(kid if kid is not None else name)
        except UnknownKeyError:
            absent = True
            raise
        finally:
            # Also on cancellation: the probe lands and a waiter probes instead.
            if probe is not None:
                self._probed(name, source, probe, absent, before)
        return result

    def close(self) -> None:
        with self._lock:
            sources = list(self._sources.values())
            self._sources.clear()
        for source in sources:
            source.close()
