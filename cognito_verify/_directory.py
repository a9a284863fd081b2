"""Many documents, one per name: a bounded set of ``RemoteKeys`` created on demand.

For key sources where the URL depends on the name being looked up: an ALB serves
one PEM per ``kid`` at ``{base}/{kid}``; a multi-tenant resolver keeps one JWKS per
pool. Each name gets its own ``RemoteKeys`` (single flight, back-off, stale window,
403/404 learned, bounded IO, fork safety), kept in an LRU of ``max_sources``.

Flood protection across names: a name never seen costs a request, so after one
such request finds nothing (403/404, or a document without that key), further new
names are refused without a request for ``policy.unknown_kid_cooldown`` seconds
(monotonic). Names already held are served throughout. The caller must validate a
name before it reaches ``url_for`` (an ALB ``kid`` is a UUID): this class builds
URLs, it does not judge them.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Generic, TypeVar

from cachetools import LRUCache

from ._keyset import Parser
from ._policy import KeyPolicy, KeyStats
from ._remote import RemoteKeys, reset_in_child
from .errors import UnknownKeyError

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
        self._new_refused_until = -math.inf
        self._refused = 0
        reset_in_child(self)

    def after_fork_in_child(self) -> None:
        # A parent thread may have held the lock mid-update: a new lock, and a copy of
        # the names held (or none, if the copy fails); the sources reset themselves.
        self._lock = threading.Lock()
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
            total = KeyStats(unknown_kid_rejections=self._refused)
        for source in sources:
            total += source.stats
        return total

    def source(self, name: str) -> RemoteKeys[K]:
        """The source for ``name``, created if the flood guard allows.

        Raises:
            UnknownKeyError: a new name inside the guard window.
        """
        with self._lock:
            found = self._sources.get(name)
            if found is not None:
                return found
            if self._monotonic() < self._new_refused_until:
                self._refused += 1
                refuse = True
            else:
                refuse = False
        if refuse:
            raise UnknownKeyError(f"the token's kid is not a key of {self.label}")
        # Built outside the lock (a TLS context may be built for a new https URL).
        created: RemoteKeys[K] = RemoteKeys(
            self._url_for(name),
            parse=self._parse_for(name),
            policy=self.policy,
            monotonic=self._monotonic,
            http_client=self._clients[0],
            async_http_client=self._clients[1],
        )
        with self._lock:
            found = self._sources.get(name)
            if found is not None:
                return found
            self._sources[name] = created
        return created

    def _missed(self, name: str) -> None:
        with self._lock:
            source = self._sources.get(name)
            if source is not None and source.keyset is None:
                # Nothing was ever found under this name: a guess. The next new names
                # wait for the window; this one stays held, learned absent.
                self._new_refused_until = self._monotonic() + self.policy.unknown_kid_cooldown

    def get(self, name: str, kid: str | None = None) -> K:
        """The key ``kid`` (default: ``name``) of ``name``'s document.

        Raises:
            UnknownKeyError / UnusableKeyError / JWKSError: as ``RemoteKeys.get``.
        """
        try:
            result: K = self.source(name).get(kid if kid is not None else name)
        except UnknownKeyError:
            self._missed(name)
            raise
        return result

    async def aget(self, name: str, kid: str | None = None) -> K:
        """Async twin of :meth:`get`."""
        try:
            result: K = await self.source(name).aget(kid if kid is not None else name)
        except UnknownKeyError:
            self._missed(name)
            raise
        return result

    def close(self) -> None:
        with self._lock:
            sources = list(self._sources.values())
            self._sources.clear()
        for source in sources:
            source.close()
