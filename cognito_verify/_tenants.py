"""Pools resolved at run time (``pool_resolver=``): one verifier for many tenants.

A SaaS application with one user pool per tenant cannot list its pools at start-up.
The verifier then asks the application's resolver, ``(user_pool_id, region) ->
UserPool | None``, about pools it has not been configured with. The rules:

* **Only the exact Cognito issuer form reaches the resolver.** ``iss`` is parsed by
  ``_pool.parse_issuer`` (``https://cognito-idp.{region}.{domain}/{poolId}`` or the
  ``issuer-cognito-idp`` host, the partition's own domain, nothing else: no port,
  userinfo, path, query or trailing slash). The token is unverified at this point,
  so a URL taken from it is never fetched; the keys come from the ``UserPool`` the
  resolver returns, built by ``_pool.resolve`` exactly as a configured pool.
* **Static first.** A pool id configured on the verifier is never resolved, even
  for an issuer form or region it was not configured with.
* **Resolved pools live in a bounded LRU** (``pool_cache_size``) with their key
  sources, for ``pool_cache_ttl`` seconds; then the next token of that pool asks
  the resolver again (same pool: the key sets are kept; changed: the sources of
  unchanged JWKS URLs are kept; refused: dropped). A pool leaving the LRU (evicted
  or expired) makes every cached token it vouched for unverified: the source the
  token cache holds reports a version that never matches and a freshness in the
  past, so those tokens are verified again through a new resolution.
* **Refusals are remembered** for ``pool_refusal_ttl`` seconds (up to
  ``REFUSALS_HELD`` pool ids, oldest dropped first): a flood of invented pool ids
  costs at most one resolver call per id and window, and never a key request.
  A resolved pool whose ``user_pool_id`` differs from the token's is a refusal.
* **Failures fail closed, with 503** (``PoolResolverError``): the resolver raised,
  timed out (``pool_resolver_timeout``, async resolvers; sync callers waiting for
  another caller's call), or answered something else than a valid ``UserPool`` or
  None.
* **A failing resolver is backed off, for every pool at once** (a database that is
  down is down for all tenants, and invented pool ids must not become calls to it):
  after the n-th failed call in a row, no call for any pool not held for
  ``min(policy.retry_cap, policy.retry_base * 2**(n-1))`` seconds times a jitter
  of 0.5-1 (the key fetches' back-off), then one call at a time until one answers.
  Tokens needing a call meanwhile get the 503 at once, naming the last failure;
  pools held keep serving. The first answer (a pool or None) ends the back-off.
* **Single flight per pool id**, over threads and the tasks of any event loop: many
  concurrent first tokens of a new tenant cause one resolver call (the key layer's
  ``SingleFlight``; waits are bounded, abandoned leaders replaced).
* **Forks**: the lock and flights are reset in a forked child (as the key sources
  are); resolved pools and refusals are kept, like keys the parent held.

All intervals run on the key policy's monotonic clock, never on the wall clock.
"""

from __future__ import annotations

import inspect
import itertools
import logging
import math
import random
import threading
from collections.abc import Awaitable, Callable, Generator
from collections.abc import Set as AbstractSet
from typing import TYPE_CHECKING, Any, NamedTuple

import anyio

from ._fetch import import_async_backends, tls_context
from ._flight import Flight, SingleFlight
from ._policy import KeyPolicy, KeyStats
from ._pool import PoolConfig, UserPool, parse_issuer, resolve
from ._remote import RemoteKeys, StaticKeys, check_fork, reset_in_child
from .errors import ConfigurationError, InvalidIssuerError, JWKSError, PoolResolverError

if TYPE_CHECKING:
    import httpx
    from cachetools import LRUCache, TTLCache

log = logging.getLogger("cognito_verify")

#: ``pool_resolver=``: ``(user_pool_id, region) -> UserPool | None``, sync or async.
PoolResolver = Callable[[str, str], "UserPool | None | Awaitable[UserPool | None]"]

DEFAULT_POOL_CACHE_SIZE = 256
DEFAULT_POOL_CACHE_TTL = 300.0
DEFAULT_POOL_REFUSAL_TTL = 60.0
DEFAULT_POOL_RESOLVER_TIMEOUT = 5.0
# Refused pool ids remembered at once; a full set of 55-character ids takes about
# 2.4 MB (tracemalloc over a filled TTLCache, cachetools 8, CPython 3.11). A flood of
# more distinct ids costs the same one call per id as new ids do.
REFUSALS_HELD = 8192
# UserPoolId: "Length Constraints: Minimum length of 1. Maximum length of 55."
# (Amazon Cognito user pools API Reference, DescribeUserPool, Request Parameters.)
_MAX_POOL_ID_LENGTH = 55

_OUTCOMES_HELD = 256  # landed flights whose outcome waiters may still read
_RETIRED = itertools.count(-1, -1)  # versions no cache entry was ever stored with
_NEEDED: Any = object()  # no settled answer: the resolver must be asked

KeySource = RemoteKeys[Any] | StaticKeys
# A step of the flow: (register, flight, True) to call the resolver, False to wait.
_Step = tuple[SingleFlight, Flight, bool]


class PoolResolverStats(NamedTuple):
    """Counters of a verifier's ``pool_resolver`` (a snapshot; all but ``pools_held``
    only grow).

    Attributes:
        calls: times the resolver was called.
        resolved: calls that returned a usable ``UserPool``.
        refused: calls that returned None (or a pool with another id).
        failures: calls that raised, timed out or returned something unusable.
        backed_off: tokens refused (503) without a call while the resolver was
            failing (see the back-off in the module docstring).
        refusal_hits: tokens refused from the remembered refusals, without a call.
        evictions: resolved pools dropped from the LRU to make room.
        pools_held: resolved pools currently held.
    """

    calls: int = 0
    resolved: int = 0
    refused: int = 0
    failures: int = 0
    refusal_hits: int = 0
    evictions: int = 0
    pools_held: int = 0
    backed_off: int = 0


class Need(NamedTuple):
    """A token whose pool must be resolved before its key can be looked up."""

    pool_id: str
    region: str
    iss: str


class Tenant:
    """One resolved pool: its configuration, key sources, and until when it holds."""

    __slots__ = ("config", "keys", "expires", "retired")

    def __init__(self, config: PoolConfig, keys: dict[str, KeySource], expires: float) -> None:
        self.config = config
        self.keys = keys  # by issuer
        self.expires = expires
        self.retired = False


class TenantKeys:
    """The key source of one issuer of a resolved pool, as the verifier and its token
    cache see it: the underlying source's version and freshness while the pool is
    held and its resolution current; once it is not, a version that matches no
    cache entry and a freshness in the past, so cached tokens are verified again."""

    __slots__ = ("source", "tenant", "_monotonic")

    def __init__(self, source: KeySource, tenant: Tenant, monotonic: Callable[[], float]) -> None:
        self.source = source
        self.tenant = tenant
        self._monotonic = monotonic

    @property
    def version(self) -> int:
        tenant = self.tenant
        if tenant.retired or self._monotonic() >= tenant.expires:
            return next(_RETIRED)
        return self.source.version

    @property
    def fresh_until(self) -> float:
        tenant = self.tenant
        if tenant.retired:
            return -math.inf
        return min(self.source.fresh_until, tenant.expires)

    def get(self, kid: str) -> Any:
        return self.source.get(kid)

    async def aget(self, kid: str) -> Any:
        return await self.source.aget(kid)


def is_async(fn: Callable[..., Any]) -> bool:
    """True for an ``async def`` function, or an object whose ``__call__`` is one."""
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004 - the method itself is inspected
    )


class Tenants:
    """The pools a verifier resolves at run time (see the module docstring)."""

    def __init__(
        self,
        resolver: PoolResolver,
        *,
        static_ids: frozenset[str],
        cache_size: int,
        cache_ttl: float,
        refusal_ttl: float,
        timeout: float,
        policy: KeyPolicy,
        monotonic: Callable[[], float],
        http_client: httpx.Client | None,
        async_http_client: httpx.AsyncClient | None,
    ) -> None:
        self.resolver = resolver
        self.is_async = is_async(resolver)
        self.static_ids = static_ids
        self.cache_ttl = cache_ttl
        self.timeout = timeout
        self.policy = policy
        self._monotonic = monotonic
        self._clients = (http_client, async_http_client)
        self._lock = threading.Lock()  # a few lines of bookkeeping, never IO or user code
        # Imported here, not with the package: only verifiers with a resolver need it.
        from cachetools import LRUCache, TTLCache

        self._pools: LRUCache[str, Tenant] = LRUCache(maxsize=cache_size)
        self._refused: TTLCache[str, bool] = TTLCache(
            maxsize=REFUSALS_HELD, ttl=refusal_ttl, timer=monotonic
        )
        self._flights: dict[str, SingleFlight] = {}
        # Each landed flight's outcome, for its waiters to read once they wake; the
        # oldest are dropped (a waiter that finds none looks in the caches again).
        self._outcomes: dict[Flight, Tenant | None] = {}
        self._counts = dict.fromkeys(
            (
                "calls",
                "resolved",
                "refused",
                "failures",
                "refusal_hits",
                "evictions",
                "backed_off",
            ),
            0,
        )
        # The back-off of a failing resolver, global (see the module docstring).
        self._rng = random.Random()
        self._failures_in_row = 0
        self._retry_at = -math.inf
        self._last_failure = ""
        self._retired_stats = KeyStats()
        # Resolved pools are https: the TLS context is built now, not on the first
        # tenant's request (on an event loop, that would stall it).
        tls_context()
        import_async_backends()  # nothing is imported on a request's path (forks)
        reset_in_child(self)

    def after_fork_in_child(self) -> None:
        # A parent thread may have held the lock, or been calling the resolver, at the
        # fork: the child gets a new lock and waits on no flight of the parent's.
        torn = self._lock.locked()
        self._lock = threading.Lock()
        self._flights = {}
        self._outcomes = {}
        if torn:
            # A parent thread was inside an update of the caches at the fork: the child
            # starts with empty ones (its cached tokens of those pools verified again).
            try:
                for tenant in list(self._pools.values()):
                    tenant.retired = True
            except Exception:  # a torn LRU: its tenants stay unreachable anyway
                pass
            self._pools = type(self._pools)(maxsize=self._pools.maxsize)
            self._refused = type(self._refused)(
                maxsize=REFUSALS_HELD, ttl=self._refused.ttl, timer=self._monotonic
            )

    # --- state -------------------------------------------------------------------------

    @property
    def stats(self) -> PoolResolverStats:
        with self._lock:
            return PoolResolverStats(**self._counts, pools_held=len(self._pools))

    @property
    def key_stats(self) -> KeyStats:
        with self._lock:
            total = self._retired_stats
            sources = {
                id(s): s
                for t in self._pools.values()
                for s in t.keys.values()
                if isinstance(s, RemoteKeys)
            }
        for source in sources.values():
            total += source.stats
        return total

    def remote_sources(self) -> list[RemoteKeys[Any]]:
        with self._lock:
            return [
                s
                for t in self._pools.values()
                for s in t.keys.values()
                if isinstance(s, RemoteKeys)
            ]

    def _hold(self, pool_id: str, tenant: Tenant) -> None:
        """Under the lock: put ``tenant`` in the LRU; a pool pushed out is retired."""
        if pool_id not in self._pools and len(self._pools) >= self._pools.maxsize:
            _, evicted = self._pools.popitem()  # the least recently used
            self._counts["evictions"] += 1
            self._retire(evicted, kept=frozenset())
        self._pools[pool_id] = tenant

    def _retire(self, tenant: Tenant, kept: AbstractSet[RemoteKeys[Any]]) -> None:
        """Under the lock: the pool's cached tokens stop vouching; counters are kept."""
        tenant.retired = True
        for source in set(tenant.keys.values()):
            # A source carried over to the pool's new resolution keeps counting there.
            if isinstance(source, RemoteKeys) and source not in kept:
                self._retired_stats += source.stats

    # --- lookup (no IO, no user code) -------------------------------------------------

    def lookup(self, iss: str) -> tuple[PoolConfig, TenantKeys] | Need | None:
        """The resolved pool for ``iss``, a ``Need`` to resolve it, or None (refused)."""
        check_fork()
        parsed = parse_issuer(iss)
        if parsed is None:
            return None  # not exactly a Cognito issuer: never reaches the resolver
        region, pool_id = parsed
        if len(pool_id) > _MAX_POOL_ID_LENGTH or pool_id in self.static_ids:
            return None  # configured pools are never resolved (static first)
        need = Need(pool_id, region, iss)
        settled = self._settled(need)
        if settled is _NEEDED:
            return need
        return self._entry(settled, iss)

    def _settled(self, need: Need) -> Tenant | None:
        """A current resolution (Tenant), a remembered refusal (None), or _NEEDED."""
        now = self._monotonic()
        with self._lock:
            tenant = self._pools.get(need.pool_id)
            if tenant is not None and now < tenant.expires:
                return tenant
            if need.pool_id in self._refused:
                self._counts["refusal_hits"] += 1
                return None
        result: Tenant | None = _NEEDED
        return result

    def _entry(self, tenant: Tenant | None, iss: str) -> tuple[PoolConfig, TenantKeys] | None:
        if tenant is None:
            return None
        source = tenant.keys.get(iss)
        if source is None:
            # The pool is known but not with this issuer form or region (the token
            # names a replica or a form the resolved pool does not list).
            return None
        return tenant.config, TenantKeys(source, tenant, self._monotonic)

    def _answer(self, tenant: Tenant | None, need: Need) -> tuple[PoolConfig, TenantKeys]:
        entry = self._entry(tenant, need.iss)
        if entry is None:
            raise InvalidIssuerError(
                "the token's issuer is not a configured issuer, and the pool resolver "
                "does not accept it"
            )
        return entry

    # --- resolution: the flow once, sync and async drivers -----------------------------

    def _flow(self, need: Need) -> Generator[_Step, None, Tenant | None]:
        """Yields (register, flight, True) when this caller must call the resolver and
        land the flight, (register, flight, False) to wait for another caller's call."""
        for _ in range(3):
            settled = self._settled(need)
            if settled is not _NEEDED:
                return settled
            with self._lock:
                flights = self._flights.get(need.pool_id)
                if flights is None:
                    # Waits are bounded by the timeout (plus scheduling), and a flight
                    # older than that was abandoned and is replaced.
                    flights = self._flights[need.pool_id] = SingleFlight(
                        "the pool resolver", self._monotonic, self.timeout + 1.0
                    )
            flight, leader = flights.lead_or_join(None, "resolve")
            if leader:
                settled = self._settled(need)  # answered just before this caller led
                if settled is not _NEEDED:
                    self._land(need, flights, flight, settled)
                    return settled
            yield flights, flight, leader
            if flight.aborted:
                continue  # the leader was cancelled (or misused): ask again
            if flight.error is not None:
                # A fresh error per caller: one exception raised in many threads would
                # have its traceback written by all of them.
                raise PoolResolverError(flight.error.message)
            with self._lock:
                outcome = self._outcomes.get(flight, _NEEDED)
            if outcome is not _NEEDED:
                found: Tenant | None = outcome
                return found
        raise PoolResolverError("the pool resolver call for this pool kept being abandoned")

    def _land(self, need: Need, flights: SingleFlight, flight: Flight, outcome: object) -> None:
        """Record the outcome (a Tenant, None, a PoolResolverError, or _NEEDED when the
        leader ended without one), then wake the waiters."""
        with self._lock:
            if outcome is None or isinstance(outcome, Tenant):
                self._outcomes[flight] = outcome
                if len(self._outcomes) > _OUTCOMES_HELD:
                    del self._outcomes[next(iter(self._outcomes))]
            if self._flights.get(need.pool_id) is flights:
                del self._flights[need.pool_id]  # the outcome is in the caches now
        error = outcome if isinstance(outcome, JWKSError) else None
        flights.land(flight, error, aborted=outcome is _NEEDED)

    def resolve(self, need: Need) -> tuple[PoolConfig, TenantKeys]:
        """Resolve ``need`` with a sync resolver (``verify``).

        Raises:
            InvalidIssuerError: the resolver refused the pool (or its issuer).
            PoolResolverError: the resolver failed.
            ConfigurationError: the resolver returned an awaitable: use ``averify``.
        """
        flow = self._flow(need)
        try:
            flights, flight, leader = next(flow)
            while True:
                if leader:
                    outcome: object = _NEEDED
                    try:
                        try:
                            self._gate()
                            outcome = self._settle(need, self._call(need))
                        except PoolResolverError as exc:
                            outcome = exc
                    finally:
                        self._land(need, flights, flight, outcome)
                else:
                    try:
                        flights.wait(flight)
                    except JWKSError:
                        raise self._failure(need, "did not answer in time", call=False) from None
                flights, flight, leader = flow.send(None)
        except StopIteration as stop:
            return self._answer(stop.value, need)

    async def aresolve(self, need: Need) -> tuple[PoolConfig, TenantKeys]:
        """Async twin of :meth:`resolve` (asyncio, uvloop or trio): awaits an async
        resolver (for at most ``timeout`` seconds), calls a sync one directly."""
        flow = self._flow(need)
        try:
            flights, flight, leader = next(flow)
            while True:
                if leader:
                    outcome: object = _NEEDED
                    try:
                        try:
                            self._gate()
                            outcome = self._settle(need, await self._acall(need))
                        except PoolResolverError as exc:
                            outcome = exc
                    finally:
                        # Also on cancellation: waiters wake and one of them asks instead.
                        self._land(need, flights, flight, outcome)
                else:
                    try:
                        await flights.await_(flight)
                    except JWKSError:
                        raise self._failure(need, "did not answer in time", call=False) from None
                flights, flight, leader = flow.send(None)
        except StopIteration as stop:
            return self._answer(stop.value, need)

    # --- calling the resolver ------------------------------------------------------------

    def _count(self, name: str) -> None:
        with self._lock:
            self._counts[name] += 1

    def _call(self, need: Need) -> object:
        self._count("calls")
        try:
            result = self.resolver(need.pool_id, need.region)
        except Exception as exc:
            raise self._failure(need, f"raised {type(exc).__name__}") from exc
        if inspect.isawaitable(result):
            # A coroutine is never awaited here: closed, and the caller told what to do.
            if inspect.iscoroutine(result):
                result.close()
            raise ConfigurationError(
                "pool_resolver returned an awaitable: an async pool_resolver needs "
                "averify(); verify() cannot await it"
            )
        return result

    async def _acall(self, need: Need) -> object:
        self._count("calls")
        answer: object = _NEEDED
        try:
            with anyio.move_on_after(self.timeout):
                result = self.resolver(need.pool_id, need.region)
                if inspect.isawaitable(result):
                    result = await result
                answer = result
        except Exception as exc:
            raise self._failure(need, f"raised {type(exc).__name__}") from exc
        if answer is _NEEDED:
            raise self._failure(need, f"did not answer within {self.timeout:g} s")
        return answer

    def _gate(self) -> None:
        """Before a call: refuse (503, no call) while backing off; while failing, one
        call at a time (the others are refused until it answers)."""
        now = self._monotonic()
        with self._lock:
            if now < self._retry_at:
                self._counts["backed_off"] += 1
                message = (
                    f"the pool resolver is not asked for {self._retry_at - now:.1f} s more "
                    f"(its last call {self._last_failure}); the token is refused"
                )
            else:
                if self._failures_in_row:
                    # Half open: this call probes; others wait out its bound, not call.
                    self._retry_at = now + self.timeout + 1.0
                return
        raise PoolResolverError(message)

    def _answered(self) -> None:
        """A call answered (a pool or None): the resolver works, the back-off ends."""
        with self._lock:
            recovered, self._failures_in_row = self._failures_in_row, 0
            self._retry_at = -math.inf
        if recovered:
            log.info("pool_resolver answers again after %d failed call(s)", recovered)

    def _failure(self, need: Need, what: str, call: bool = True) -> PoolResolverError:
        """A failed call (``call``) backs the resolver off; a caller that gave up
        waiting for another's call only counts."""
        delay = 0.0
        with self._lock:
            self._counts["failures"] += 1
            if call:
                self._failures_in_row += 1
                policy = self.policy
                delay = min(policy.retry_cap, policy.retry_base * 2 ** (self._failures_in_row - 1))
                delay *= self._rng.uniform(0.5, 1.0)
                self._retry_at = self._monotonic() + delay
                self._last_failure = what
        # The pool id may be logged: parse_issuer lets only [0-9A-Za-z_-] through.
        log.error(
            "pool_resolver %s for pool %s; its tokens get 503 (no call for %.1f s)",
            what,
            need.pool_id,
            delay,
        )
        return PoolResolverError(f"the pool resolver {what}; the token is refused")

    def _settle(self, need: Need, result: object) -> Tenant | None:
        """Turn the resolver's answer into a held Tenant, or a remembered refusal."""
        if result is None:
            self._answered()
            self._refuse(need)
            return None
        if not isinstance(result, UserPool):
            raise self._failure(need, f"returned a {type(result).__name__}, not a UserPool")
        if result.user_pool_id != need.pool_id:
            # Trusting it would let one tenant's tokens in under another's pool.
            log.error(
                "pool_resolver answered pool %s with a UserPool for another pool id; refused",
                need.pool_id,
            )
            self._answered()
            self._refuse(need)
            return None
        try:
            config = resolve(result)
        except (ConfigurationError, TypeError) as exc:
            raise self._failure(need, f"returned an invalid UserPool ({_reason(exc)})") from None
        self._answered()
        expires = self._monotonic() + self.cache_ttl
        with self._lock:
            old = self._pools.get(need.pool_id)
            if old is not None and old.config == config:
                # Unchanged: the same tenant (its sources and cached tokens) holds on.
                old.expires = expires
                self._counts["resolved"] += 1
                return old
        # Sources are built outside the lock (a TLS context, a fetcher); those of
        # JWKS URLs the previous resolution also had are carried over with their keys.
        previous: dict[str, RemoteKeys[Any]] = {}
        if old is not None:
            for iss, source in old.keys.items():
                if isinstance(source, RemoteKeys):
                    previous[old.config.jwks_urls[iss]] = source
        keys: dict[str, KeySource] = {}
        built: dict[str, RemoteKeys[Any]] = {}
        try:
            static = (
                StaticKeys(config.static_jwks, f"the jwks given for {config.user_pool_id}")
                if config.static_jwks is not None
                else None
            )
        except ConfigurationError as exc:
            raise self._failure(need, f"returned an invalid UserPool ({exc.message})") from None
        for iss in config.issuers:
            if static is not None:
                keys[iss] = static
                continue
            url = config.jwks_urls[iss]
            remote = built.get(url) or previous.get(url)
            if remote is None:
                remote = RemoteKeys(
                    url,
                    policy=self.policy,
                    monotonic=self._monotonic,
                    http_client=self._clients[0],
                    async_http_client=self._clients[1],
                )
            if iss == config.issuers[0]:
                remote.disown_absent()  # the pool's own endpoint (see _policy)
            built[url] = keys[iss] = remote
        tenant = Tenant(config, keys, expires)
        with self._lock:
            current = self._pools.get(need.pool_id)
            if current is not None:
                self._retire(current, kept=set(built.values()))
            self._hold(need.pool_id, tenant)
            self._counts["resolved"] += 1
        return tenant

    def _refuse(self, need: Need) -> None:
        with self._lock:
            self._counts["refused"] += 1
            self._refused[need.pool_id] = True
            tenant = self._pools.pop(need.pool_id, None)
            if tenant is not None:
                # The resolver no longer accepts a pool it had: its cached tokens stop.
                self._retire(tenant, kept=frozenset())

    def close(self) -> None:
        for source in self.remote_sources():
            source.close()


def _reason(exc: Exception) -> str:
    return exc.message if isinstance(exc, ConfigurationError) else str(exc)


def resolved_pools(
    resolver: PoolResolver | None, static_ids: frozenset[str], **options: Any
) -> Tenants | None:
    """The resolved-pools layer for ``pool_resolver``, its options validated."""
    if resolver is None:
        defaults = (
            DEFAULT_POOL_CACHE_SIZE,
            DEFAULT_POOL_CACHE_TTL,
            DEFAULT_POOL_REFUSAL_TTL,
            DEFAULT_POOL_RESOLVER_TIMEOUT,
        )
        given = tuple(options[k] for k in ("cache_size", "cache_ttl", "refusal_ttl", "timeout"))
        if given != defaults:
            raise ConfigurationError(
                "the pool_cache_* and pool_resolver_* options need pool_resolver="
            )
        return None
    if not callable(resolver):
        raise ConfigurationError(
            "pool_resolver must be a callable taking (user_pool_id, region) and returning "
            "a UserPool or None"
        )
    size = options["cache_size"]
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ConfigurationError(f"pool_cache_size must be an int >= 1, got {size!r}")
    for name, key in (
        ("pool_cache_ttl", "cache_ttl"),
        ("pool_refusal_ttl", "refusal_ttl"),
        ("pool_resolver_timeout", "timeout"),
    ):
        value = options[key]
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or math.isnan(value)
            or value <= 0
            or (key != "cache_ttl" and math.isinf(value))
        ):
            raise ConfigurationError(f"{name} must be a number of seconds > 0, got {value!r}")
    return Tenants(resolver, static_ids=static_ids, **options)
