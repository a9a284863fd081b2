"""The load balancer's public keys: one PEM document per ``kid``, fetched by the same
machinery as a JWKS.

Each kid that was ever found gets its own ``RemoteKeys`` over ``{base}/{kid}`` with a
PEM ``KeyDocument``: single flight, bounded IO, maximum age, back-off and the stale
window are exactly the JWKS ones. What is new here is only the choice of source for
a kid that has no source yet (a "cold" kid), which is where invented kids arrive:

* the kid must be the load balancer's UUID form (``_alb.parse`` checked it already),
  so no kid can reach another path or host;
* at most one cold kid is fetched at a time; every token of that kid joins the
  same fetch (its ``RemoteKeys`` flight), a different cold kid meanwhile is refused;
* a cold fetch that does not find a key (HTTP 4xx, or not a P-256 PEM) remembers the
  kid as unknown and starts the unknown-kid cooldown: during it, every cold kid is
  refused with ``UnknownKeyError`` and no request is made;
* a cold fetch that fails otherwise (timeout, 5xx) answers ``JWKSError`` (503) and
  starts the same cooldown, so an outage is not probed once per invented kid.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

import httpx
from cachetools import TTLCache
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ._alb import key_url, load_pem_key
from ._fetch import HTTPStatusError
from ._keys import KeyDocument, KeyPolicy, KeySet, KeyStats, RemoteKeys
from .errors import JWKSError, UnknownKeyError, UnusableKeyError

log = logging.getLogger("cognito_verify")

# Known kids kept per key endpoint; the load balancer rotates rarely, so a handful is
# the real number. The oldest is dropped beyond this (it is fetched again if seen).
MAX_KIDS = 64


class _NotAKey(JWKSError):
    """The URL answered, but not with a usable P-256 PEM."""


def _pem_document(kid: str) -> KeyDocument:
    def decode(body: bytes, url: str) -> EllipticCurvePublicKey:
        try:
            return load_pem_key(body)
        except ValueError as exc:
            raise _NotAKey(f"key response from {url} is {exc}") from None

    def keyset(key: EllipticCurvePublicKey, fetched_at: float, previous: KeySet | None) -> KeySet:
        der = key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        mark = (kid, hashlib.sha256(der).hexdigest(), "")
        if previous is not None and mark in previous.fingerprint:
            return KeySet(previous.keys, {}, fetched_at, previous.fingerprint)
        return KeySet({kid: key}, {}, fetched_at, frozenset({mark}))  # type: ignore[dict-item]

    return KeyDocument(decode, keyset)


class AlbKeys:
    """The public keys of one load balancer key endpoint (one region).

    Args:
        base_url: the endpoint; a key is at ``{base_url}/{kid}``.
        policy: the same ``KeyPolicy`` a JWKS uses (max age, cooldown, timeouts, ...).
        clock: monotonic seconds for the key policy (injectable for tests).
    """

    def __init__(
        self,
        base_url: str,
        *,
        policy: KeyPolicy,
        clock: Callable[[], float] = time.monotonic,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self.url = base_url
        self.label = f"the load balancer keys at {base_url}"
        self.policy = policy
        self._clock = clock
        self._http = http_client
        self._ahttp = async_http_client
        self._lock = threading.Lock()  # never held across IO
        self._sources: OrderedDict[str, RemoteKeys] = OrderedDict()
        self._cold: str | None = None  # the cold kid being fetched now
        self._cooldown_until = -float("inf")
        self._unknown: TTLCache[str, bool] = TTLCache(
            maxsize=policy.unknown_kid_memory,
            ttl=max(policy.unknown_kid_cooldown, 1e-9),
            timer=clock,
        )
        self._rejections = 0
        self._retired = KeyStats()  # counters of sources dropped from the map

    @property
    def stats(self) -> KeyStats:
        """Counters summed over every kid's source (plus cold-kid refusals)."""
        with self._lock:
            total = self._retired + KeyStats(unknown_kid_rejections=self._rejections)
            sources = list(self._sources.values())
        for source in sources:
            total += source.stats
        return total

    def _refuse(self, why: str) -> UnknownKeyError:
        with self._lock:
            self._rejections += 1
        return UnknownKeyError(f"the token's kid is not a key of {self.label} ({why})")

    def _source(self, kid: str) -> tuple[RemoteKeys, bool]:
        """The source for ``kid`` and whether it is cold (this caller leads its fetch)."""
        with self._lock:
            source = self._sources.get(kid)
            if source is not None:
                return source, kid == self._cold
            now = self._clock()
            # Invented kids cost one request per cooldown window at most, whatever
            # their number: a flood of forged tokens never becomes a flood of fetches.
            if kid in self._unknown or now < self._cooldown_until:
                remembered = True
            elif self._cold is not None:
                remembered = True  # another cold kid is being fetched right now
            else:
                remembered = False
                source = RemoteKeys(
                    key_url(self.url, kid),
                    policy=self.policy,
                    clock=self._clock,
                    http_client=self._http,
                    async_http_client=self._ahttp,
                    document=_pem_document(kid),
                )
                self._sources[kid] = source
                self._cold = kid
        if remembered:
            raise self._refuse("unknown kids are refused without a request for a cooldown")
        assert source is not None
        return source, True

    def _settle(self, kid: str, source: RemoteKeys, error: JWKSError | None) -> None:
        """After a cold fetch: keep the source (found), or forget it and start the
        cooldown (not found, or failed before any key was had)."""
        dropped: list[RemoteKeys] = []
        with self._lock:
            if self._cold == kid:
                self._cold = None
            if error is None:
                while len(self._sources) > MAX_KIDS:
                    _, old = self._sources.popitem(last=False)
                    self._retired += old.stats
                    dropped.append(old)
            elif source._keyset is None and self._sources.get(kid) is source:
                # (A known kid failing a refresh keeps RemoteKeys' stale policy; a second
                # caller of the same cold fetch finds it settled already.)
                del self._sources[kid]
                self._retired += source.stats
                self._unknown[kid] = True
                self._cooldown_until = self._clock() + self.policy.unknown_kid_cooldown
                dropped.append(source)
        if self._http is None:
            for old in dropped:
                old.close()  # the client it built; a client passed in stays open
        if error is not None and dropped:
            log.info(
                "load balancer key fetch for a new kid failed (%s); new kids are refused "
                "without a request for %.1f s",
                error.message,
                self.policy.unknown_kid_cooldown,
            )

    def _outcome(self, kid: str, source: RemoteKeys, cold: bool, exc: JWKSError) -> Exception:
        if cold:
            self._settle(kid, source, exc)
        if source._keyset is None and (
            isinstance(exc, _NotAKey)
            or (isinstance(exc, HTTPStatusError) and 400 <= exc.status < 500)
        ):
            # The endpoint answered that there is no such key: the token is bad (401),
            # the keys are not unavailable (503).
            return self._refuse("the key endpoint has no key for it")
        return exc

    def get(self, kid: str) -> EllipticCurvePublicKey:
        """The P-256 key for ``kid``.

        Raises:
            UnknownKeyError: no such key, or a cold kid refused during the cooldown.
            JWKSError: the endpoint cannot be reached and no key is cached.
        """
        source, cold = self._source(kid)
        try:
            key = source.get(kid)
        except JWKSError as exc:
            raise self._outcome(kid, source, cold, exc) from None
        if cold:
            self._settle(kid, source, None)
        return _ec(key)

    async def aget(self, kid: str) -> EllipticCurvePublicKey:
        """Async twin of :meth:`get`."""
        source, cold = self._source(kid)
        try:
            key = await source.aget(kid)
        except JWKSError as exc:
            raise self._outcome(kid, source, cold, exc) from None
        if cold:
            self._settle(kid, source, None)
        return _ec(key)

    def close(self) -> None:
        """Close the HTTP clients the sources created (never one passed in)."""
        if self._http is None:
            with self._lock:
                sources = list(self._sources.values())
            for source in sources:
                source.close()


def _ec(key: object) -> EllipticCurvePublicKey:
    if not isinstance(key, EllipticCurvePublicKey):  # pragma: no cover - PEM decode checked
        raise UnusableKeyError("the load balancer key is not an EC key")
    return key
