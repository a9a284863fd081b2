"""When keys are fetched again, as plain code: the sans-IO refresh policy.

``Refresh`` holds one source's key set and decides, for a ``kid``, "use this key",
"refuse" (raises) or "a fetch is needed" (``Fetch``); ``settle`` applies a fetch's
outcome. It does no IO and reads no clock but the injected monotonic one, so the
whole policy (max age, cooldown, back-off, stale window, documents learned absent)
runs on monotonic time: a wall-clock step changes none of it. The drivers
(``_remote``) add the IO and the single flight.

Its lock guards bookkeeping only and is never held across IO, client building or
logging: ``settle`` returns the log lines it wants written, and the caller writes
them after the lock is released.
"""

from __future__ import annotations

import logging
import math
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, Generic, NamedTuple, TypeVar

from cachetools import TTLCache

from ._fetch import DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_BYTES, DEFAULT_TIMEOUT, DocumentAbsentError
from ._keyset import KeySet, NoUsableKeyError
from .errors import ConfigurationError, JWKSError, UnknownKeyError, UnusableKeyError

log = logging.getLogger("cognito_verify")

K = TypeVar("K")
Note = tuple[Any, ...]  # (level, message, *args) of a log line to write after unlocking


@dataclass(frozen=True)
class KeyPolicy:
    """When keys are fetched again, and how a fetch is bounded; one value object.

    Pass it as ``CognitoVerifier(..., key_policy=KeyPolicy(max_age=300))``; the
    older ``jwks_*`` keywords build the same object. Every time is in seconds on a
    monotonic clock (never the wall clock, so an NTP step changes nothing here).

    Attributes:
        max_age: a key set older than this is refreshed on next use (900); bounds
            how long a key removed from the JWKS is trusted.
        unknown_kid_cooldown: after a refetch that did not find its ``kid``, unknown
            kids are refused without a request this long (10).
        max_stale: how long past ``max_age`` the last good set serves while refreshing
            fails (86400); 0 never serves stale keys.
        retry_base / retry_cap: failed fetches back off exponentially from
            ``retry_base`` (1) up to ``retry_cap`` (60), with jitter x0.5-1.
        absent_cooldown: an endpoint that answered 403/404 with no keys held (a pool
            that does not use that issuer form or region) is not asked again for this
            long (300); tokens naming it are refused at once meanwhile.
        timeout: total time one fetch may take, DNS to last byte (2).
        connect_timeout: TCP and TLS connect, capped at ``timeout`` (1).
        max_bytes: larger responses are refused while streaming (1 MiB).
        unknown_kid_memory: unknown kids remembered, each for one cooldown (1024).

    Raises:
        ConfigurationError: a value is not a finite number in its range.
    """

    max_age: float = 900.0
    unknown_kid_cooldown: float = 10.0
    max_stale: float = 24 * 3600.0
    retry_base: float = 1.0
    retry_cap: float = 60.0
    absent_cooldown: float = 300.0
    timeout: float = DEFAULT_TIMEOUT
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    max_bytes: int = DEFAULT_MAX_BYTES
    unknown_kid_memory: int = 1024

    def __post_init__(self) -> None:
        for f in fields(self):
            _check(f.name, getattr(self, f.name), f"KeyPolicy.{f.name}")

    @classmethod
    def from_options(cls, **options: object) -> KeyPolicy:
        """Build a policy from the verifier's ``jwks_*`` keywords (named as fields).

        Raises:
            ConfigurationError: a value is out of range; the message uses the keyword.
        """
        values: dict[str, Any] = {}
        for name, value in options.items():
            _check(name, value, _KNOBS.get(name, name))
            values[name] = value
        return cls(**values)


_INTS = ("max_bytes", "unknown_kid_memory")
# Zero is refused where it would disable a protection: a zero cooldown turns every
# invented kid into a request, a zero timeout makes every fetch fail.
_MINIMUM = {"max_stale": 0.0, "max_bytes": 1024, "unknown_kid_memory": 1}

_KNOBS = {
    "max_age": "jwks_max_age",
    "unknown_kid_cooldown": "unknown_kid_cooldown",
    "max_stale": "jwks_max_stale",
    "retry_cap": "jwks_retry_cap",
    "timeout": "jwks_timeout",
    "connect_timeout": "jwks_connect_timeout",
    "max_bytes": "jwks_max_bytes",
}


def _check(name: str, value: object, shown: str) -> None:
    low = _MINIMUM.get(name)
    integer = name in _INTS
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or (value < low if low is not None else value <= 0)
        or (integer and not isinstance(value, int))
    ):
        if integer:
            need = f"an int >= {low}"
        else:
            need = "seconds >= 0" if low is not None else "seconds > 0"
        raise ConfigurationError(f"{shown} must be {need}, got {value!r}")


@dataclass(frozen=True)
class KeyStats:
    """Counters of one key source (or the sum over a verifier's sources).

    Attributes:
        fetches: key requests made (each success or failure counts one).
        fetch_failures: requests that did not yield a usable key set.
        unknown_kid_rejections: tokens refused because their kid is not in the set
            (or their endpoint was learned to serve no keys).
        cache_hits: key lookups answered from the cached set without IO.
        stale_hits: of those, answers from a set older than the maximum age because
            refreshing it failed (non-zero means the key endpoint is unreachable).
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


class Fetch(NamedTuple):
    """``plan``'s answer when IO is needed; ``serve`` may be used by non-leaders."""

    reason: str
    serve: Any = None


class Refresh(Generic[K]):
    """The refresh policy of one source, on the monotonic clock ``monotonic``.

    ``version`` (an int) is bumped whenever what the set would verify changes;
    ``fresh_until`` is the monotonic instant the set reaches its maximum age
    (-inf with no set). Both are plain attributes, read without a lock.
    """

    def __init__(
        self,
        label: str,
        policy: KeyPolicy,
        monotonic: Callable[[], float],
        rng: random.Random | None = None,
    ) -> None:
        self.label = label
        self.policy = policy
        self.monotonic = monotonic
        self._rng = rng or random.Random()
        self.keyset: KeySet[K] | None = None
        self.fetched_at = -math.inf
        self.fresh_until = -math.inf
        self.version = 0
        self.retry_at = -math.inf
        self._failures_in_row = 0
        self._cooldown_until = -math.inf
        self.absent_until = -math.inf
        # False for a pool's own endpoint: a 403/404 there is a misconfiguration or a
        # passing fault (a proxy), never "this pool does not use it", so it is backed
        # off as any failure (503) rather than learned for absent_cooldown (401).
        self.learn_absent = True
        self._last_error: JWKSError | None = None
        self._stale_warned = False
        self._settled_started = -math.inf  # when the last fetch settled here began
        self._lock = threading.Lock()
        self._unknown = self._new_memory()
        self._stats: dict[str, int] = {f.name: 0 for f in fields(KeyStats)}

    def _new_memory(self) -> TTLCache[str, bool]:
        # Unknown kids are remembered for one cooldown, bounded in number, so a flood
        # of invented kids is refused without touching the fetch logic or memory growth.
        return TTLCache(
            maxsize=self.policy.unknown_kid_memory,
            ttl=self.policy.unknown_kid_cooldown,
            timer=self.monotonic,
        )

    def after_fork_in_child(self) -> None:
        """A fresh lock (the parent's may have been held by a thread that is gone) and
        fresh bookkeeping that could have been mid-update; the key set serves on."""
        self._lock = threading.Lock()
        self._unknown = self._new_memory()
        self._stats = dict(self._stats)

    @property
    def stats(self) -> KeyStats:
        with self._lock:
            return KeyStats(**self._stats)

    @property
    def last_error(self) -> JWKSError | None:
        """The last fetch's error; None after a success."""
        return self._last_error

    def count(self, name: str) -> None:
        with self._lock:
            self._stats[name] += 1

    # --- decisions ---------------------------------------------------------------------

    def plan(self, kid: str, may_fetch: bool) -> K | Fetch:
        """The key if it may be used now, or ``Fetch`` if IO is needed.

        Raises:
            UnknownKeyError / UnusableKeyError: the token names no usable key.
            JWKSError: no usable set and no fetch allowed now.
        """
        pol = self.policy
        now = self.monotonic()
        can_fetch = may_fetch and now >= self.retry_at
        ks = self.keyset
        age = now - self.fetched_at
        if ks is None or age >= pol.max_age + pol.max_stale:
            if ks is None and now < self.absent_until:
                # The endpoint said it serves no keys: a token naming it (possibly
                # forged, naming a form the pool never used) is refused at once, with
                # no request per token and none per back-off window.
                self.count("unknown_kid_rejections")
                raise UnknownKeyError(
                    f"the token's kid is not a key of {self.label}: "
                    "it serves no keys (HTTP 403/404)"
                )
            # Past the stale limit a set is not trusted at all: keys Cognito may have
            # revoked long ago must not be accepted forever during an outage.
            if can_fetch:
                return Fetch("initial fetch" if ks is None else "stale limit reached")
            raise self._no_keys(ks is not None)
        key = ks.keys.get(kid)
        if key is not None:
            if age < pol.max_age:
                self.count("cache_hits")
                return key
            if can_fetch:
                return Fetch("max age reached", key)
            self._serve_stale(age)
            return key
        if kid in ks.rejected:
            raise UnusableKeyError(
                f"the key named by the token's kid in {self.label} is unusable: {ks.rejected[kid]}"
            )
        with self._lock:
            remembered = kid in self._unknown
        # Unknown kid: one refetch per cooldown window at most, so a flood of tokens
        # with invented kids cannot become a flood of requests to Cognito.
        if remembered or not can_fetch or now < self._cooldown_until:
            self._refuse_unknown(kid)
        return Fetch("unknown kid")

    def _refuse_unknown(self, kid: str) -> None:
        with self._lock:
            if kid not in self._unknown:
                # Not renewed on repeats: once the window ends, a kid that has since been
                # published (a rotation the CDN had not shown yet) gets its refetch.
                self._unknown[kid] = True
            self._stats["unknown_kid_rejections"] += 1
        raise UnknownKeyError(f"the token's kid is not a key of {self.label}")

    def _serve_stale(self, age: float) -> None:
        with self._lock:
            self._stats["cache_hits"] += 1
            self._stats["stale_hits"] += 1
            warn, self._stale_warned = not self._stale_warned, True
        if warn:
            log.warning(
                "JWKS %s could not be refreshed; serving stale keys fetched %.0f s ago "
                "(for at most %.0f s more)",
                self.label,
                age,
                self.policy.max_age + self.policy.max_stale - age,
            )

    def _no_keys(self, too_old: bool) -> JWKSError:
        if too_old:
            return JWKSError(
                f"keys from {self.label} are older than the stale limit and cannot be "
                "refreshed" + (f" ({self._last_error.message})" if self._last_error else "")
            )
        return self._last_error or JWKSError(f"no keys could be fetched from {self.label}")

    def after_fetch(self, kid: str) -> K:
        """The answer once a fetch (or the wait for one) is over: no more IO."""
        step = self.plan(kid, False)
        if isinstance(step, Fetch):  # pragma: no cover - may_fetch=False never asks for IO
            raise self._no_keys(False)
        return step

    # --- outcomes ----------------------------------------------------------------------

    def settle(
        self,
        kid: str | None,
        reason: str,
        outcome: KeySet[K] | JWKSError,
        elapsed: float,
        started: float,
    ) -> list[Note]:
        """Apply the outcome of a fetch that began at ``started`` (monotonic); returns
        the log lines to write (lock released)."""
        notes: list[Note] = []
        with self._lock:
            now = self.monotonic()
            self._stats["fetches"] += 1
            if started < self._settled_started:
                # A stalled fetch landing after one that began later (its flight was
                # replaced as abandoned): what it read is older than what is held, and
                # would bring back keys withdrawn since.
                if isinstance(outcome, JWKSError):
                    self._stats["fetch_failures"] += 1
                notes.append(
                    (
                        logging.INFO,
                        "JWKS %s: a fetch that began %.1f s before the last one ended late; "
                        "its outcome is ignored",
                        self.label,
                        self._settled_started - started,
                    )
                )
                return notes
            self._settled_started = max(self._settled_started, started)
            if isinstance(outcome, JWKSError):
                self._failed(outcome, reason, elapsed, now, notes)
            else:
                self._succeeded(kid, reason, outcome, elapsed, now, notes)
        return notes

    def _failed(
        self, error: JWKSError, reason: str, elapsed: float, now: float, notes: list[Note]
    ) -> None:
        self._stats["fetch_failures"] += 1
        self._last_error = error
        if isinstance(error, DocumentAbsentError) and self.keyset is None and self.learn_absent:
            # 403/404 with nothing held: learnt for a cooldown, not retried per back-off
            # window; a pool that later starts serving here is picked up after it.
            self.absent_until = self.retry_at = now + self.policy.absent_cooldown
            notes.append(
                (
                    logging.INFO,
                    "key endpoint %s serves no keys (%s); not asked again for %.0f s",
                    self.label,
                    error.message,
                    self.policy.absent_cooldown,
                )
            )
            return
        held = self.keyset
        if isinstance(error, NoUsableKeyError) and held is not None:
            withdrawn = error.rejected.keys() & held.keys.keys()
            if withdrawn:
                # The endpoint now calls these keys unusable (say "use": "enc"): they stop
                # verifying now, while the rest of the set serves on as stale.
                rejected = {**held.rejected, **{k: error.rejected[k] for k in withdrawn}}
                keys = {k: v for k, v in held.keys.items() if k not in withdrawn}
                prints = held.fingerprint | {(k, "withdrawn") for k in withdrawn}
                self.keyset = KeySet(keys, rejected, prints)
                self.version += 1
        self._failures_in_row += 1
        # Exponential back-off with jitter: an unreachable Cognito is not hammered,
        # and many processes restarted together do not retry in lockstep.
        delay = min(
            self.policy.retry_cap, self.policy.retry_base * 2 ** (self._failures_in_row - 1)
        )
        delay *= self._rng.uniform(0.5, 1.0)
        self.retry_at = now + delay
        level = logging.WARNING if self._failures_in_row == 1 else logging.INFO
        notes.append(
            (
                level,
                "JWKS fetch failed in %.0f ms (%s, attempt %d): %s; next attempt in %.1f s",
                elapsed * 1000,
                reason,
                self._failures_in_row,
                error.message,
                delay,
            )
        )

    def _succeeded(
        self,
        kid: str | None,
        reason: str,
        ks: KeySet[K],
        elapsed: float,
        now: float,
        notes: list[Note],
    ) -> None:
        previous = self.keyset
        removed = set(previous.keys) - set(ks.keys) if previous is not None else set()
        for known in ks.keys:
            self._unknown.pop(known, None)  # a refetch that finds a kid forgets it was unknown
        for gone in removed:
            # A removed key must stop verifying at once; remembering its kid as unknown
            # also keeps tokens still signed by it from triggering refetches.
            self._unknown[gone] = True
        # The age first: a lock-free reader never pairs the new set with the old age.
        self.fetched_at = now
        self.fresh_until = now + self.policy.max_age
        self.keyset = ks
        if previous is None or ks.fingerprint != previous.fingerprint:
            # Bumped after the swap: whoever reads the new version also sees the new
            # set, so nothing verified with a removed key is stored under the new one.
            self.version += 1
        recovered = self._failures_in_row
        self._failures_in_row = 0
        self.retry_at = self.absent_until = -math.inf
        self._last_error = None
        self._stale_warned = False
        if kid is not None and kid in ks.keys:
            self._cooldown_until = -math.inf
        elif kid is not None and reason in ("unknown kid", "initial fetch"):
            # The window starts when a fetch made for a kid did not find it: the JWKS
            # was just seen, asking again at once could only feed a flood.
            self._cooldown_until = now + self.policy.unknown_kid_cooldown
            notes.append(
                (
                    logging.INFO,
                    "JWKS %s: token kid not found after refetch; unknown kids refused "
                    "without refetch for %.1f s",
                    self.label,
                    self.policy.unknown_kid_cooldown,
                )
            )
        notes.append(
            (
                logging.INFO,
                "JWKS fetched from %s in %.0f ms (%s): %d key(s), version %d%s%s",
                self.label,
                elapsed * 1000,
                reason,
                len(ks.keys),
                self.version,
                f", {len(removed)} key(s) removed" if removed else "",
                f", recovered after {recovered} failure(s)" if recovered else "",
            )
        )
