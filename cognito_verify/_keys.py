"""JWKS -> usable public keys, and the refresh policy, as plain code.

``KeySet`` is an immutable snapshot of one JWKS document. ``StaticKeys`` serves a
JWKS given in memory; ``RemoteKeys`` fetches one URL and decides when to refetch.

The policy is sans-IO: ``_plan`` looks at the current snapshot and says "use this
key", "refuse", or "a fetch is needed"; ``_settle`` applies a fetch's outcome. ``get``
and ``aget`` add only the IO and the single-flight coordination around it, so the
sync and async paths cannot drift apart. The full policy is described in docs/keys.md.

Concurrency: the key set is an immutable ``KeySet`` swapped in by one assignment, so
a token signed by a known key is served without waiting for any lock held across IO.
A short ``threading.Lock`` guards counters and bookkeeping only. One fetch at a time
per URL is enforced by a ``_Flight`` record shared by threads and by tasks of any
event loop: the first caller that needs a fetch makes it; the others wait on a
``threading.Event`` (threads) or on a future of their own loop, resolved thread-safely
(tasks), so a verifier created at import time works from several event loops.
"""

from __future__ import annotations

import base64
import binascii
import logging
import math
import random
import re
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

import httpx
from cachetools import TTLCache
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey, RSAPublicNumbers

from ._fetch import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_BYTES,
    DEFAULT_TIMEOUT,
    afetch_jwks,
    default_timeout,
    fetch_jwks,
)
from .errors import JWKSError, UnknownKeyError, UnusableKeyError

if TYPE_CHECKING:  # asyncio is imported on first async use: sync users never pay for it
    import asyncio

log = logging.getLogger("cognito_verify")

MIN_RSA_BITS = 2048
# Cognito uses 2048-bit keys. A far larger modulus makes every check slow (verify
# cost grows with the square of the size), so a JWKS cannot turn into a CPU sink.
MAX_RSA_BITS = 8192
_B64URL = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class KeyPolicy:
    """When keys are fetched again, and how a fetch is bounded. Times are seconds."""

    max_age: float = 900.0  # a key set older than this is refreshed on next use
    unknown_kid_cooldown: float = 10.0  # at most one unknown-kid refetch per window
    max_stale: float = 24 * 3600.0  # past max_age, how long a set serves while refresh fails
    retry_base: float = 1.0  # first back-off delay after a failed fetch
    retry_cap: float = 60.0  # back-off never exceeds this
    timeout: float = DEFAULT_TIMEOUT  # total time one fetch may take
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    max_bytes: int = DEFAULT_MAX_BYTES
    unknown_kid_memory: int = 1024  # unknown kids remembered (each for one cooldown)

    @classmethod
    def from_options(cls, **options: object) -> KeyPolicy:
        """Validate the verifier's ``jwks_*`` knobs (named as fields) and build a policy.

        Raises:
            ConfigurationError: a value is not a finite number in its range.
        """
        from .errors import ConfigurationError

        # Zero is refused where it would disable a protection: a zero cooldown turns
        # every invented kid into a request, a zero timeout makes every fetch fail.
        minimum = {"max_stale": 0.0, "max_bytes": 1024}
        values: dict[str, Any] = {}
        for name, value in options.items():
            low = minimum.get(name)
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
                or (value < low if low is not None else value <= 0)
                or (name == "max_bytes" and not isinstance(value, int))
            ):
                need = (
                    "an int >= 1024"
                    if name == "max_bytes"
                    else ("seconds >= 0" if low is not None else "seconds > 0")
                )
                raise ConfigurationError(f"{_KNOBS[name]} must be {need}, got {value!r}")
            values[name] = value if name == "max_bytes" else float(value)
        return cls(**values)


_KNOBS = {
    "max_age": "jwks_max_age",
    "unknown_kid_cooldown": "unknown_kid_cooldown",
    "max_stale": "jwks_max_stale",
    "retry_cap": "jwks_retry_cap",
    "timeout": "jwks_timeout",
    "connect_timeout": "jwks_connect_timeout",
    "max_bytes": "jwks_max_bytes",
}


@dataclass(frozen=True)
class KeyStats:
    """Counters of one key source (or the sum over a verifier's sources).

    Attributes:
        fetches: JWKS requests made (each success or failure counts one).
        fetch_failures: requests that did not yield a usable key set.
        unknown_kid_rejections: tokens refused because their kid is not in the set.
        cache_hits: key lookups answered from the cached set without IO.
        stale_hits: of those, answers from a set older than the maximum age because
            refreshing it failed (non-zero means the JWKS endpoint is unreachable).
    """

    fetches: int = 0
    fetch_failures: int = 0
    unknown_kid_rejections: int = 0
    cache_hits: int = 0
    stale_hits: int = 0

    def __add__(self, other: KeyStats) -> KeyStats:
        return KeyStats(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _b64url_int(value: object) -> int:
    # Strict alphabet: the lenient decoder would skip foreign characters and build a
    # different number than the one the JWKS author wrote.
    if not isinstance(value, str) or _B64URL.fullmatch(value) is None or len(value) % 4 == 1:
        raise ValueError("not a base64url string")
    raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    return int.from_bytes(raw, "big")


def _prepare(jwk: Mapping[str, Any]) -> RSAPublicKey:
    """Check one JWK and build its public key; ValueError says why it is unusable."""
    # Each rule stops a key that Cognito would never use for signing from being
    # accepted: an encryption key, a key for another algorithm, or a weak modulus.
    if jwk.get("kty") != "RSA":
        raise ValueError(f"kty is {jwk.get('kty')!r}, not 'RSA'")
    if "use" in jwk and jwk["use"] != "sig":
        raise ValueError(f"use is {jwk['use']!r}, not 'sig'")
    if "alg" in jwk and jwk["alg"] != "RS256":
        raise ValueError(f"alg is {jwk['alg']!r}, not 'RS256'")
    ops = jwk.get("key_ops")
    if ops is not None and (not isinstance(ops, list) or "verify" not in ops):
        raise ValueError("key_ops does not allow 'verify'")
    try:
        n = _b64url_int(jwk.get("n"))
        e = _b64url_int(jwk.get("e"))
    except (ValueError, binascii.Error):
        raise ValueError("n or e is not valid base64url") from None
    if n.bit_length() < MIN_RSA_BITS:
        raise ValueError(f"modulus is {n.bit_length()} bits, below {MIN_RSA_BITS}")
    if n.bit_length() > MAX_RSA_BITS:
        raise ValueError(f"modulus is {n.bit_length()} bits, above {MAX_RSA_BITS}")
    if e < 3 or e % 2 == 0:
        raise ValueError("public exponent is invalid")
    return RSAPublicNumbers(e, n).public_key()


@dataclass(frozen=True)
class KeySet:
    """One JWKS document, its keys prepared once."""

    keys: Mapping[str, RSAPublicKey]
    rejected: Mapping[str, str]  # kid -> why the JWK cannot be used
    fetched_at: float
    fingerprint: frozenset[tuple[str, str, str]] = field(repr=False)

    @classmethod
    def from_jwks(cls, jwks: object, fetched_at: float, previous: KeySet | None = None) -> KeySet:
        if not isinstance(jwks, Mapping) or not isinstance(jwks.get("keys"), list):
            raise JWKSError('the JWKS is not an object with a "keys" list')
        keys: dict[str, RSAPublicKey] = {}
        rejected: dict[str, str] = {}
        prints: set[tuple[str, str, str]] = set()
        old = previous.fingerprint if previous is not None else frozenset()
        for jwk in jwks["keys"]:
            if not isinstance(jwk, Mapping):
                continue
            kid = jwk.get("kid")
            if not isinstance(kid, str) or not kid:
                log.debug("JWKS entry without a kid skipped")
                continue
            if kid in keys or kid in rejected:
                # Two keys under one kid: which one signed is ambiguous, use neither.
                keys.pop(kid, None)
                rejected[kid] = "the JWKS has more than one key with this kid"
                continue
            mark = (kid, str(jwk.get("n")), str(jwk.get("e")))
            if mark in old and previous is not None and kid in previous.keys:
                keys[kid] = previous.keys[kid]  # unchanged key: reuse the prepared one
                prints.add(mark)
                continue
            try:
                keys[kid] = _prepare(jwk)
                prints.add(mark)
            except ValueError as exc:
                rejected[kid] = str(exc)
                log.debug("JWKS key %r skipped: %s", kid, exc)
        if not keys:
            raise JWKSError("the JWKS holds no usable RS256 signing key")
        return cls(keys, rejected, fetched_at, frozenset(prints))


@dataclass(frozen=True)
class KeyDocument:
    """What one key URL serves: how its body is decoded, and how the decoded document
    becomes a ``KeySet``. The default is a JWKS; a load balancer serves one PEM per kid."""

    decode: Callable[[bytes, str], Any]  # (body, url) -> document; raises JWKSError
    keyset: Callable[[Any, float, KeySet | None], KeySet]  # (document, fetched_at, previous)


def _jwks_document() -> KeyDocument:
    from ._fetch import _decode

    return KeyDocument(_decode, KeySet.from_jwks)


class StaticKeys:
    """Keys given in memory (``jwks=``): never fetches."""

    def __init__(self, jwks: Mapping[str, Any], label: str) -> None:
        self.label = label
        self.version = 0
        self.fresh_until = math.inf  # given keys never age
        try:
            self.keyset = KeySet.from_jwks(jwks, 0.0)
        except JWKSError as exc:
            from .errors import ConfigurationError

            raise ConfigurationError(f"jwks= for {label}: {exc.message}") from None

    def get(self, kid: str) -> RSAPublicKey:
        return _find(self.keyset, kid, self.label)

    async def aget(self, kid: str) -> RSAPublicKey:
        return _find(self.keyset, kid, self.label)

    def refresh(self) -> None:
        return None

    async def arefresh(self) -> None:
        return None


def _find(keyset: KeySet, kid: str, label: str) -> RSAPublicKey:
    key = keyset.keys.get(kid)
    if key is not None:
        return key
    if kid in keyset.rejected:
        raise UnusableKeyError(
            f"the key named by the token's kid in {label} is unusable: {keyset.rejected[kid]}"
        )
    raise UnknownKeyError(f"the token's kid is not a key of {label}")


@dataclass(eq=False)
class _Flight:
    """One fetch in progress; everyone who needs the JWKS meanwhile waits for it."""

    kid: str | None  # the kid that made it necessary (None: refresh or max age)
    reason: str
    done: threading.Event = field(default_factory=threading.Event)
    waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = field(
        default_factory=list
    )
    started: float = field(default_factory=time.monotonic)
    finished: bool = False
    error: JWKSError | None = None
    aborted: bool = False  # the leader was cancelled before the fetch had an outcome


@dataclass(frozen=True)
class _Fetch:
    """``_plan``'s answer when IO is needed; ``serve`` may be used by non-leaders."""

    reason: str
    serve: RSAPublicKey | None = None


_TLS: list[ssl.SSLContext] = []
_TLS_LOCK = threading.Lock()


def _tls_context() -> ssl.SSLContext:
    """One default TLS context for the per-fetch async clients (loading the CA bundle
    costs tens of milliseconds, which would otherwise block the event loop each time)."""
    with _TLS_LOCK:
        if not _TLS:
            _TLS.append(httpx.create_ssl_context())
        return _TLS[0]


_Note = tuple[Any, ...]  # (level, message, *args) of a log line to write


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class RemoteKeys:
    """The key set of one JWKS URL, fetched on need and refreshed by policy.

    ``version`` is an int bumped whenever the set of keys changes (a key added,
    removed or replaced); anything derived from keys (a verified-token cache) can key
    its invalidation on it.
    """

    def __init__(
        self,
        url: str,
        *,
        policy: KeyPolicy,
        clock: Callable[[], float],
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
        rng: random.Random | None = None,
        document: KeyDocument | None = None,
    ) -> None:
        self.url = url
        self.label = url
        self._doc = document or _jwks_document()
        self.policy = policy
        self._clock = clock
        self._rng = rng or random.Random()
        self._http = http_client
        self._ahttp = async_http_client
        self._keyset: KeySet | None = None
        self.version = 0  # bumped whenever the set of keys changes
        self._state = threading.Lock()  # never held across IO
        self._flight: _Flight | None = None
        self._retry_at = 0.0
        self._failures_in_row = 0
        self._cooldown_until = 0.0
        self._last_error: JWKSError | None = None
        self._stale_warned = False
        # Unknown kids are remembered for one cooldown, bounded in number, so a flood
        # of invented kids is refused without touching the fetch logic or memory growth.
        self._unknown: TTLCache[str, bool] = TTLCache(
            maxsize=policy.unknown_kid_memory,
            ttl=max(policy.unknown_kid_cooldown, 1e-9),
            timer=clock,
        )
        self._stats: dict[str, int] = {f.name: 0 for f in fields(KeyStats)}

    @property
    def fresh_until(self) -> float:
        """Clock time at which the current set reaches its maximum age (-inf: no set).

        Anything derived from these keys (a verified-token cache entry) should not be
        reused past this instant without going through :meth:`get`, which refreshes
        the set; otherwise a key removed from the JWKS would keep vouching for tokens.
        """
        ks = self._keyset
        return -math.inf if ks is None else ks.fetched_at + self.policy.max_age

    @property
    def stats(self) -> KeyStats:
        """A snapshot of this source's counters."""
        with self._state:
            return KeyStats(**self._stats)

    def _count(self, name: str) -> None:
        with self._state:
            self._stats[name] += 1

    # --- policy, no IO -----------------------------------------------------------------

    def _plan(self, kid: str, now: float, may_fetch: bool) -> RSAPublicKey | _Fetch:
        """The key if it may be used now, or ``_Fetch`` if IO is needed; else raises."""
        pol = self.policy
        can_fetch = may_fetch and now >= self._retry_at
        ks = self._keyset
        age = now - ks.fetched_at if ks is not None else 0.0
        if ks is None or age >= pol.max_age + pol.max_stale:
            # Past the stale limit a set is not trusted at all: keys Cognito may have
            # revoked long ago must not be accepted forever during an outage.
            if can_fetch:
                return _Fetch("initial fetch" if ks is None else "stale limit reached")
            raise self._no_keys(ks is not None)
        key = ks.keys.get(kid)
        if key is not None:
            if age < pol.max_age:
                self._count("cache_hits")
                return key
            if can_fetch:
                return _Fetch("max age reached", serve=key)
            self._serve_stale(age)
            return key
        if kid in ks.rejected:
            raise UnusableKeyError(
                f"the key named by the token's kid in {self.url} is unusable: {ks.rejected[kid]}"
            )
        with self._state:
            remembered = kid in self._unknown
        # Unknown kid: one refetch per cooldown window at most, so a flood of tokens
        # with invented kids cannot become a flood of requests to Cognito.
        if remembered or not can_fetch or now < self._cooldown_until:
            self._refuse_unknown(kid)
        return _Fetch("unknown kid")

    def _refuse_unknown(self, kid: str) -> None:
        with self._state:
            if kid not in self._unknown:
                # Not renewed on repeats: once the window ends, a kid that has since been
                # published (a rotation the CDN had not shown yet) gets its refetch.
                self._unknown[kid] = True
            self._stats["unknown_kid_rejections"] += 1
        raise UnknownKeyError(f"the token's kid is not a key of {self.url}")

    def _serve_stale(self, age: float) -> None:
        with self._state:
            self._stats["cache_hits"] += 1
            self._stats["stale_hits"] += 1
            warn, self._stale_warned = not self._stale_warned, True
        if warn:
            log.warning(
                "JWKS %s could not be refreshed; serving stale keys fetched %.0f s ago "
                "(for at most %.0f s more)",
                self.url,
                age,
                self.policy.max_age + self.policy.max_stale - age,
            )

    def _no_keys(self, too_old: bool) -> JWKSError:
        if too_old:
            return JWKSError(
                f"keys from {self.url} are older than the stale limit and cannot be refreshed"
                + (f" ({self._last_error.message})" if self._last_error else "")
            )
        return self._last_error or JWKSError(f"no keys could be fetched from {self.url}")

    def _settle(
        self, flight: _Flight, outcome: KeySet | JWKSError, elapsed: float, notes: list[_Note]
    ) -> None:
        """Apply a fetch's outcome; called with ``self._state`` held, so the log lines
        are appended to ``notes`` and written after the lock is released."""
        now = self._clock()
        self._stats["fetches"] += 1
        previous = self._keyset
        if isinstance(outcome, JWKSError):
            self._stats["fetch_failures"] += 1
            self._failures_in_row += 1
            # Exponential back-off with jitter: an unreachable Cognito is not hammered,
            # and many processes restarted together do not retry in lockstep.
            delay = min(
                self.policy.retry_cap, self.policy.retry_base * 2 ** (self._failures_in_row - 1)
            )
            delay *= self._rng.uniform(0.5, 1.0)
            self._retry_at = now + delay
            self._last_error = flight.error = outcome
            level = logging.WARNING if self._failures_in_row == 1 else logging.INFO
            notes.append(
                (
                    level,
                    "JWKS fetch failed in %.0f ms (%s, attempt %d): %s; next attempt in %.1f s",
                    elapsed * 1000,
                    flight.reason,
                    self._failures_in_row,
                    outcome.message,
                    delay,
                )
            )
            return
        ks = outcome
        removed = set(previous.keys) - set(ks.keys) if previous is not None else set()
        for kid in ks.keys:
            self._unknown.pop(kid, None)  # a refetch that finds a kid forgets it was unknown
        for kid in removed:
            # A removed key must stop verifying at once; remembering its kid as unknown
            # also keeps tokens still signed by it from triggering refetches.
            self._unknown[kid] = True
        self._keyset = ks
        if previous is None or ks.fingerprint != previous.fingerprint:
            # Bumped after the swap: whoever reads the new version also sees the new
            # set, so nothing verified with a removed key is stored under the new one.
            self.version += 1
        recovered = self._failures_in_row
        self._failures_in_row = 0
        self._retry_at = 0.0
        self._last_error = None
        self._stale_warned = False
        if flight.kid is not None and flight.kid in ks.keys:
            self._cooldown_until = 0.0
        elif flight.kid is not None and flight.reason in ("unknown kid", "initial fetch"):
            # The window starts when a fetch made for a kid did not find it: the JWKS
            # was just seen, asking again at once could only feed a flood.
            self._cooldown_until = now + self.policy.unknown_kid_cooldown
            notes.append(
                (
                    logging.INFO,
                    "JWKS %s: token kid not found after refetch; unknown kids refused "
                    "without refetch for %.1f s",
                    self.url,
                    self.policy.unknown_kid_cooldown,
                )
            )
        notes.append(
            (
                logging.INFO,
                "JWKS fetched from %s in %.0f ms (%s): %d key(s), version %d%s%s",
                self.url,
                elapsed * 1000,
                flight.reason,
                len(ks.keys),
                self.version,
                f", {len(removed)} key(s) removed" if removed else "",
                f", recovered after {recovered} failure(s)" if recovered else "",
            )
        )

    # --- single flight -----------------------------------------------------------------

    def _lead_or_join(self, kid: str | None, reason: str) -> tuple[_Flight, bool]:
        with self._state:
            current = self._flight
            age = time.monotonic() - current.started if current is not None else 0.0
            if current is not None and age <= self._wait_limit():
                return current, False
            # A flight older than any wait had its leader abandoned (a task on an event
            # loop that stopped without cancelling it): without replacing it, every
            # later fetch would wait on it in vain.
            self._flight = flight = _Flight(kid, reason)
        if current is not None:
            log.warning(
                "JWKS fetch from %s unfinished after %.1f s; starting another", self.url, age
            )
        return flight, True

    def _land(self, flight: _Flight, outcome: Any, elapsed: float) -> None:
        """End ``flight``: apply its outcome (None: aborted) and wake every waiter."""
        result: KeySet | JWKSError | None = None
        if outcome is not None and not isinstance(outcome, JWKSError):
            # Prepared outside the lock (only the flight's leader writes the key set,
            # so reading the previous one here is safe); lookups never wait for it.
            try:
                result = self._doc.keyset(outcome, self._clock(), self._keyset)
            except JWKSError as exc:
                result = JWKSError(f"{self.url}: {exc.message}")
        else:
            result = outcome
        notes: list[_Note] = []
        with self._state:
            try:
                if result is None:
                    flight.aborted = True
                else:
                    self._settle(flight, result, elapsed, notes)
            finally:
                flight.finished = True
                if self._flight is flight:
                    self._flight = None
                waiters, flight.waiters = flight.waiters, []
        for level, message, *args in notes:
            log.log(level, message, *args)
        flight.done.set()
        for loop, future in waiters:
            try:
                loop.call_soon_threadsafe(_wake, future)
            except RuntimeError:  # that loop is closed: nobody waits there any more
                pass

    def _wait_limit(self) -> float:
        # A leader's fetch ends within the timeout; the margin covers scheduling. A
        # waiter never hangs longer, even if the leader's event loop stalls.
        return self.policy.timeout + 1.0

    def _join(self, flight: _Flight) -> None:
        if not flight.done.wait(self._wait_limit()):
            raise JWKSError(f"timed out waiting for the JWKS fetch from {self.url} in progress")

    async def _ajoin(self, flight: _Flight) -> None:
        import asyncio

        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._state:
            if flight.finished:
                return
            flight.waiters.append((loop, future))
        try:
            await asyncio.wait_for(future, self._wait_limit())
        except asyncio.TimeoutError:
            raise JWKSError(
                f"timed out waiting for the JWKS fetch from {self.url} in progress"
            ) from None

    # --- IO ----------------------------------------------------------------------------

    def _client(self) -> httpx.Client:
        with self._state:
            if self._http is None:
                self._http = httpx.Client(
                    timeout=default_timeout(self.policy.timeout, self.policy.connect_timeout),
                    follow_redirects=False,
                )
            return self._http

    def _run(self, flight: _Flight) -> None:
        log.info("JWKS fetch started: %s (%s)", self.url, flight.reason)
        started = time.monotonic()
        outcome: Any = None
        try:
            try:
                outcome = fetch_jwks(
                    self._client(),
                    self.url,
                    timeout=self.policy.timeout,
                    connect_timeout=self.policy.connect_timeout,
                    max_bytes=self.policy.max_bytes,
                    decode=self._doc.decode,
                )
            except JWKSError as exc:
                outcome = exc
        finally:
            self._land(flight, outcome, time.monotonic() - started)

    async def _arun(self, flight: _Flight) -> None:
        log.info("JWKS fetch started: %s (%s)", self.url, flight.reason)
        started = time.monotonic()
        outcome: Any = None
        try:
            try:
                outcome = await self._afetch()
            except JWKSError as exc:
                outcome = exc
        finally:
            # Also on cancellation: waiters are woken and one of them fetches instead.
            self._land(flight, outcome, time.monotonic() - started)

    async def _afetch(self) -> Any:
        pol = self.policy
        args: dict[str, Any] = {
            "timeout": pol.timeout,
            "connect_timeout": pol.connect_timeout,
            "max_bytes": pol.max_bytes,
            "decode": self._doc.decode,
        }
        if self._ahttp is not None:
            return await afetch_jwks(self._ahttp, self.url, **args)
        # A client per fetch: fetches are rare, and a client bound to one event loop
        # would break a verifier shared by several loops. The TLS context is reused.
        async with httpx.AsyncClient(follow_redirects=False, verify=_tls_context()) as client:
            return await afetch_jwks(client, self.url, **args)

    # --- public ------------------------------------------------------------------------

    def get(self, kid: str) -> RSAPublicKey:
        """The key for ``kid``, fetching the JWKS if the policy says so.

        Raises:
            UnknownKeyError / UnusableKeyError: the token names no usable key.
            JWKSError: no key set is available.
        """
        for _ in range(3):
            step = self._plan(kid, self._clock(), True)
            if not isinstance(step, _Fetch):
                return step
            flight, leader = self._lead_or_join(kid, step.reason)
            if leader:
                self._run(flight)
            elif step.serve is not None:
                self._count("cache_hits")
                return step.serve  # another caller is refreshing; the known key serves on
            else:
                self._join(flight)
            if not flight.aborted:
                break
        return self._after_fetch(kid)

    async def aget(self, kid: str) -> RSAPublicKey:
        """Async twin of :meth:`get`."""
        for _ in range(3):
            step = self._plan(kid, self._clock(), True)
            if not isinstance(step, _Fetch):
                return step
            flight, leader = self._lead_or_join(kid, step.reason)
            if leader:
                await self._arun(flight)
            elif step.serve is not None:
                self._count("cache_hits")
                return step.serve
            else:
                await self._ajoin(flight)
            if not flight.aborted:
                break
        return self._after_fetch(kid)

    def _after_fetch(self, kid: str) -> RSAPublicKey:
        step = self._plan(kid, self._clock(), False)
        if isinstance(step, _Fetch):  # pragma: no cover - may_fetch=False never asks for IO
            raise self._no_keys(False)
        return step

    def refresh(self) -> None:
        """Fetch now (or join the fetch in progress).

        Raises:
            JWKSError: that fetch did not yield a usable key set.
        """
        for _ in range(3):
            flight, leader = self._lead_or_join(None, "refresh")
            if leader:
                self._run(flight)
            else:
                self._join(flight)
            if not flight.aborted:
                break
        self._check_refreshed(flight)

    async def arefresh(self) -> None:
        """Async twin of :meth:`refresh`."""
        for _ in range(3):
            flight, leader = self._lead_or_join(None, "refresh")
            if leader:
                await self._arun(flight)
            else:
                await self._ajoin(flight)
            if not flight.aborted:
                break
        self._check_refreshed(flight)

    def _check_refreshed(self, flight: _Flight) -> None:
        if flight.error is not None:
            raise flight.error
        if flight.aborted or self._keyset is None:
            raise JWKSError(f"no keys could be fetched from {self.url}")

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
