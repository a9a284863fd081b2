"""CognitoVerifier: configuration, keys and checks glued together.

The order of the checks lives in ``_begin`` (structure, header, pool selection),
``_finish`` (signature, claims) and ``_rules`` (revocation, step-up, groups/scopes,
custom check). ``verify`` and ``averify`` differ only in how they obtain the key
between the first two, and in how they wait for a hook that returns an awaitable:
``_rules`` is a generator that yields such awaitables to its driver (``_run`` refuses
them with a ``ConfigurationError``, ``_arun`` awaits them).
"""

from __future__ import annotations

import inspect
import logging
import math
import threading
import time
from collections.abc import Awaitable, Callable, Generator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import anyio

from . import _fetch, _token
from ._cache import DEFAULT_CACHE_SIZE, TokenCache
from ._hints import paste_hint
from ._policy import KeyPolicy, KeyStats
from ._pool import MISSING, IssuerFormat, PoolConfig, TokenUse, UserPool, resolve
from ._remote import RemoteKeys, StaticKeys
from ._tenants import (
    DEFAULT_POOL_CACHE_SIZE,
    DEFAULT_POOL_CACHE_TTL,
    DEFAULT_POOL_REFUSAL_TTL,
    DEFAULT_POOL_RESOLVER_TIMEOUT,
    Need,
    PoolResolver,
    PoolResolverStats,
    TenantKeys,
    Tenants,
    resolved_pools,
)
from ._token import DEFAULT_MAX_TOKEN_LENGTH, ParsedToken, Requirements
from .claims import Claims
from .errors import (
    CognitoVerifyError,
    ConfigurationError,
    CustomCheckError,
    InvalidIssuerError,
    InvalidTokenError,
    JWKSError,
    MalformedTokenError,
    RevocationCheckError,
    TokenRevokedError,
)

if TYPE_CHECKING:  # httpx itself is imported only when you pass its clients
    import httpx

__all__ = ["CognitoVerifier"]

log = logging.getLogger("cognito_verify")

KeySource = RemoteKeys[Any] | StaticKeys | TenantKeys
#: ``custom_check=``: a plain function, or an ``async def`` (then only ``averify`` works).
CustomCheck = Callable[[Claims], bool | Awaitable[bool]]
#: ``is_revoked=``: answers True (revoked) or False; sync or ``async def``.
RevocationCheck = Callable[[Claims], bool | Awaitable[bool]]
# A step of the rules that waits: the hook's name and the awaitable it returned.
_Wait = tuple[str, Awaitable[Any]]


class CognitoVerifier:
    """Verifies ID and access tokens of one or more Cognito user pools.

    Args:
        user_pool_id: e.g. ``"eu-west-1_AbCdEf123"``; the region is taken from it.
        client_id: the app client id, a list of them, or ``None`` (explicitly) to
            accept any app client of the pool. Required.
        token_use: ``"id"``, ``"access"``, or ``None`` (explicitly) for both. Required.
        groups / all_groups: the token must be in at least one / all of these
            ``cognito:groups`` (403 otherwise).
        scopes / all_scopes: the token must carry at least one / all of these scopes.
        custom_check: called with the verified ``Claims`` last; returning False
            refuses the token with ``CustomCheckError`` (403), and so does raising
            an exception that is not this library's (fail closed). May be an
            ``async def``: it is then awaited by ``averify``, and ``verify`` raises
            ``ConfigurationError`` (use ``averify``).
        is_revoked: called with the verified ``Claims`` on every call, cached tokens
            included, after the signature and claims checks; sync or ``async def``.
            ``True`` refuses the token with ``TokenRevokedError`` (401); anything
            other than ``True``/``False``, or an exception, refuses it with
            ``RevocationCheckError`` (503: fail closed). See docs/revocation.md.
        max_auth_age: seconds since the user signed in (``auth_time``) after which
            tokens are refused with ``InsufficientUserAuthenticationError`` (401,
            RFC 9470 step-up); tokens without ``auth_time`` (machine tokens) are
            refused too. ``verify(token, max_auth_age=...)`` sets it per call; the
            stricter of the two applies.
        leeway: seconds of clock skew tolerated on ``exp``, ``iat`` and ``nbf``
            (default 0: a token is refused from the second of its ``exp``).
        clock_skew: seconds ``iat`` and ``nbf`` may lie in the future, on top of
            ``leeway`` (default 5). Cognito writes ``iat`` in whole seconds, so a
            token used at once by a server whose clock is a fraction of a second
            behind Cognito's looks issued in the future; 5 s covers that and ordinary
            NTP drift. ``exp`` is never extended by it. 0 for the strict reading.
        jwks: a JWKS dict; keys are then fully offline and never fetched.
        jwks_url: fetch keys from here (an emulator, a proxy); ``iss`` is still
            checked against the real Cognito issuer unless ``issuer`` is given.
        issuer: the exact ``iss`` to accept, for emulators that do not use the AWS form.
        replica_regions: regions a multi-region pool is replicated to; their
            issuers are accepted too. Never taken from the token.
        issuer_format: ``"original"``, ``"updated"`` (``issuer-cognito-idp``) or
            ``"any"`` (default: both, as a pool can be switched at any time).
        pools: several pools in one verifier, as ``UserPool`` objects, instead of
            the single-pool arguments above. The token's ``iss`` picks the pool,
            among the configured ones only.
        pool_resolver: pools resolved at run time (multi-tenant): a callable, sync or
            ``async def``, given ``(user_pool_id, region)`` parsed from a token's
            ``iss`` when it has exactly the Cognito issuer form and names a pool not
            configured here; it returns that pool's ``UserPool`` (client ids, token
            use, ...) or None to refuse it (401 ``invalid_issuer``). If it raises,
            times out or returns anything else, the token gets ``PoolResolverError``
            (503). An async resolver needs ``averify``. With a resolver, the static
            pool arguments are optional. See docs/multi-tenant.md.
        pool_cache_size: resolved pools (with their key sets) held at once, least
            recently used dropped first (default 256).
        pool_cache_ttl: seconds a resolution holds before the next token of that pool
            asks the resolver again (default 300); its cached tokens are verified
            again then, so a pool the resolver stops accepting stops within this time.
        pool_refusal_ttl: seconds a refusal is remembered: a pool id the resolver
            refused is refused again without a call meanwhile (default 60).
        pool_resolver_timeout: seconds an async resolver may take, and any caller
            waits for another caller's resolution of the same pool (default 5).
        http_client / async_http_client: ``httpx`` clients used to fetch keys, so
            proxies, TLS and timeouts are yours to set.
        clock: returns the current Unix time (``time.time``): the wall clock, used
            for the token's claims (``exp``, ``iat``, ``nbf``) only.
        monotonic: the key policy's clock (``time.monotonic``): key set age,
            cooldowns, back-off, the stale window and fetch deadlines. A wall-clock
            step never changes the key policy; tests inject both.
        key_policy: a ``KeyPolicy`` with every key-cache setting in one value,
            instead of the ``jwks_*`` keywords below (not both).
        max_token_length: longer inputs are refused before any decoding.
        cache_size: how many verified tokens to remember (default 2048, under 32 MB
            even when every cached token is at the 6 KiB cacheable limit; 0 turns
            the cache off). A repeated token skips parsing and the signature check,
            but its lifetime, the key set version, ``is_revoked``, ``max_auth_age``,
            every group/scope requirement and ``custom_check`` are checked again on
            each call. Only tokens whose signature and claims verified are cached.
            See docs/benchmarks.md.
        jwks_max_age: seconds after which the key set is refreshed on next use, so
            keys removed from the pool stop being trusted (default 900).
        unknown_kid_cooldown: after a refetch for an unknown ``kid`` that did not
            find it, further unknown kids are refused without a request for this
            many seconds (default 10), so invented kids cannot flood Cognito.
        jwks_max_stale: how long past ``jwks_max_age`` the last good key set keeps
            serving while refreshing fails (default 86400); then ``JWKSError``.
        jwks_retry_cap: failed fetches back off exponentially (1 s, 2 s, ... with
            jitter) up to this many seconds (default 60).
        jwks_timeout: total seconds one key fetch may take, DNS to last byte
            (default 2); jwks_connect_timeout: for the TCP/TLS connect (default 1).
        jwks_max_bytes: larger JWKS responses are refused while streaming
            (default 1 MiB). See docs/keys.md for the whole cache policy.
            An endpoint answering 403/404 with no keys held is not asked again for
            ``KeyPolicy.absent_cooldown`` (300 s); tokens naming it get 401 at once.

    Raises:
        TypeError: ``client_id`` or ``token_use`` was not given.
        ConfigurationError: an argument is invalid; the message says how to fix it.
    """

    def __init__(
        self,
        user_pool_id: str | None = None,
        *,
        client_id: str | Sequence[str] | None = MISSING,
        token_use: TokenUse | None = MISSING,
        groups: str | Sequence[str] | None = None,
        all_groups: str | Sequence[str] | None = None,
        scopes: str | Sequence[str] | None = None,
        all_scopes: str | Sequence[str] | None = None,
        custom_check: CustomCheck | None = None,
        is_revoked: RevocationCheck | None = None,
        max_auth_age: float | None = None,
        leeway: float = 0.0,
        clock_skew: float = 5.0,
        jwks: Mapping[str, Any] | None = None,
        jwks_url: str | None = None,
        issuer: str | None = None,
        replica_regions: Sequence[str] = (),
        issuer_format: IssuerFormat = "any",
        allow_insecure_jwks_url: bool = False,
        pools: Sequence[UserPool] | None = None,
        pool_resolver: PoolResolver | None = None,
        pool_cache_size: int = DEFAULT_POOL_CACHE_SIZE,
        pool_cache_ttl: float = DEFAULT_POOL_CACHE_TTL,
        pool_refusal_ttl: float = DEFAULT_POOL_REFUSAL_TTL,
        pool_resolver_timeout: float = DEFAULT_POOL_RESOLVER_TIMEOUT,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        key_policy: KeyPolicy | None = None,
        max_token_length: int = DEFAULT_MAX_TOKEN_LENGTH,
        jwks_max_age: float = KeyPolicy.max_age,
        unknown_kid_cooldown: float = KeyPolicy.unknown_kid_cooldown,
        jwks_timeout: float = KeyPolicy.timeout,
        jwks_max_bytes: int = KeyPolicy.max_bytes,
        jwks_max_stale: float = KeyPolicy.max_stale,
        jwks_retry_cap: float = KeyPolicy.retry_cap,
        jwks_connect_timeout: float = KeyPolicy.connect_timeout,
        cache_size: int = DEFAULT_CACHE_SIZE,
    ) -> None:
        if pools is None and user_pool_id is None and pool_resolver is not None:
            pools = []  # resolved pools only
        if pools is None:
            if user_pool_id is None:
                raise TypeError("user_pool_id is required (or pass pools=[UserPool(...), ...])")
            pools = [
                UserPool(
                    user_pool_id=user_pool_id,
                    client_id=client_id,
                    token_use=token_use,
                    jwks=jwks,
                    jwks_url=jwks_url,
                    issuer=issuer,
                    replica_regions=replica_regions,
                    issuer_format=issuer_format,
                    allow_insecure_jwks_url=allow_insecure_jwks_url,
                )
            ]
        else:
            single = (user_pool_id, jwks, jwks_url, issuer)
            if (
                any(v is not None for v in single)
                or client_id is not MISSING
                or (token_use is not MISSING or replica_regions)
            ):
                raise ConfigurationError(
                    "pools= replaces the single-pool arguments: put user_pool_id, client_id, "
                    "token_use, jwks, jwks_url, issuer and replica_regions in each UserPool"
                )
            if isinstance(pools, UserPool) or (not pools and pool_resolver is None):
                raise ConfigurationError("pools must be a non-empty list of UserPool objects")
        if not all(isinstance(p, UserPool) for p in pools):
            raise ConfigurationError("pools must be a list of UserPool objects")

        for name, value in (("leeway", leeway), ("clock_skew", clock_skew)):
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not (math.isfinite(value) and value >= 0)
            ):
                raise ConfigurationError(f"{name} must be a number of seconds >= 0, got {value!r}")
        if leeway > 300:
            raise ConfigurationError(f"leeway of {leeway}s is too large; keep it under 300 seconds")
        if clock_skew > 300:
            raise ConfigurationError(
                f"clock_skew of {clock_skew}s is too large; keep it under 300 seconds"
            )
        if not isinstance(max_token_length, int) or max_token_length < 256:
            raise ConfigurationError("max_token_length must be an int of at least 256")
        if not callable(clock):
            raise ConfigurationError("clock must be a callable returning Unix time in seconds")
        if custom_check is not None and not callable(custom_check):
            raise ConfigurationError("custom_check must be a callable taking Claims")
        if is_revoked is not None and not callable(is_revoked):
            raise ConfigurationError("is_revoked must be a callable taking Claims")
        # Known async hooks make verify() refuse at once, whatever the token.
        self._async_hooks = tuple(
            name
            for name, hook in (("custom_check", custom_check), ("is_revoked", is_revoked))
            if hook is not None and _is_async(hook)
        )
        if not callable(monotonic):
            raise ConfigurationError("monotonic must be a callable returning seconds")
        _fetch.check_clients(http_client, async_http_client)

        self._requirements = Requirements.build(
            groups, all_groups, scopes, all_scopes, max_auth_age
        )
        self._custom_check = custom_check
        self._is_revoked = is_revoked
        if isinstance(cache_size, bool) or not isinstance(cache_size, int) or cache_size < 0:
            raise ConfigurationError(f"cache_size must be an int >= 0, got {cache_size!r}")
        self._cache = TokenCache(cache_size)
        self._cache_get = self._cache.get
        # True when a verified token needs no further rule: the hot path's shortcut.
        self._plain = not self._requirements and custom_check is None and is_revoked is None
        self._leeway = float(leeway)
        self._clock_skew = float(clock_skew)
        self._clock = clock
        self._monotonic = monotonic
        self._max_length = max_token_length
        self._owns_http = http_client is None
        knobs = {
            "max_age": jwks_max_age,
            "unknown_kid_cooldown": unknown_kid_cooldown,
            "max_stale": jwks_max_stale,
            "retry_cap": jwks_retry_cap,
            "timeout": jwks_timeout,
            "connect_timeout": jwks_connect_timeout,
            "max_bytes": jwks_max_bytes,
        }
        if key_policy is None:
            policy = KeyPolicy.from_options(**knobs)
        elif not isinstance(key_policy, KeyPolicy):
            raise ConfigurationError("key_policy must be a KeyPolicy")
        elif any(value != getattr(KeyPolicy, name) for name, value in knobs.items()):
            raise ConfigurationError(
                "key_policy= replaces the jwks_* keywords: put every setting in the KeyPolicy"
            )
        else:
            policy = key_policy
        self.key_policy = policy

        self.pools: tuple[PoolConfig, ...] = tuple(resolve(p) for p in pools)
        self._by_issuer: dict[str, tuple[PoolConfig, KeySource]] = {}
        self._remote: dict[str, RemoteKeys[Any]] = {}
        for pool in self.pools:
            static = (
                StaticKeys(pool.static_jwks, f"the jwks given for {pool.user_pool_id}")
                if pool.static_jwks is not None
                else None
            )
            for iss in pool.issuers:
                if iss in self._by_issuer:
                    raise ConfigurationError(f"issuer {iss} is configured for two pools")
                source: KeySource
                if static is not None:
                    source = static
                else:
                    url = pool.jwks_urls[iss]
                    source = self._remote.get(url) or RemoteKeys(
                        url,
                        policy=policy,
                        monotonic=monotonic,
                        http_client=http_client,
                        async_http_client=async_http_client,
                    )
                    self._remote[url] = source
                    if iss == pool.issuers[0]:
                        source.disown_absent()  # the pool's own endpoint (see _policy)
                self._by_issuer[iss] = (pool, source)
        self._tenants = resolved_pools(
            pool_resolver,
            frozenset(p.user_pool_id for p in self.pools),
            cache_size=pool_cache_size,
            cache_ttl=pool_cache_ttl,
            refusal_ttl=pool_refusal_ttl,
            timeout=pool_resolver_timeout,
            policy=policy,
            monotonic=monotonic,
            http_client=http_client,
            async_http_client=async_http_client,
        )
        if self._tenants is not None and self._tenants.is_async:
            self._async_hooks += ("pool_resolver",)  # verify() refuses at once

    def __repr__(self) -> str:
        pools = ", ".join(p.user_pool_id for p in self.pools)
        resolver = ", pool_resolver" if self._tenants is not None else ""
        return f"<CognitoVerifier pools=[{pools}]{resolver}>"

    # --- the rules ---------------------------------------------------------------------

    def _begin(self, token: object) -> tuple[ParsedToken, tuple[PoolConfig, KeySource] | Need]:
        try:
            parsed = _token.parse(token, self._max_length)
        except MalformedTokenError as exc:
            # Failure path only: name a copy-paste mistake (Bearer prefix, quotes,
            # whitespace) so the message says what to fix.
            hint = paste_hint(token)
            if hint is None:
                raise
            raise MalformedTokenError(f"{exc.message}; {hint}") from None
        iss = parsed.payload.get("iss")
        entry = self._pool_for(iss) if isinstance(iss, str) else None
        if entry is None:
            raise InvalidIssuerError(self._issuer_refusal())
        return parsed, entry

    def _issuer_refusal(self) -> str:
        configured = ", ".join(sorted(self._by_issuer))
        if self._tenants is None:
            return f"the token's issuer is not one of the configured issuers ({configured})"
        # Never the token's own iss: it is unverified (and chosen by whoever sent it).
        static = f"one of the configured issuers ({configured}) nor " if configured else ""
        return f"the token's issuer is neither {static}a Cognito issuer the pool resolver accepts"

    def _pool_for(self, iss: str) -> tuple[PoolConfig, KeySource] | Need | None:
        """The pool (and key source) for ``iss``: a configured one, else one resolved at
        run time (or a ``Need`` to resolve it first), else None (refused).

        The token is attacker-controlled until its signature verifies, so its iss is
        only used to choose among pools configured here, or (exactly the Cognito form,
        see ``_tenants``) to ask the pool resolver; never to build a URL.
        """
        entry = self._by_issuer.get(iss)
        if entry is None and self._tenants is not None:
            return self._tenants.lookup(iss)
        return entry

    def _resolved(self, step: _Unresolved, entry: tuple[PoolConfig, KeySource]) -> _Pending:
        """The pending step of a token whose pool was just resolved."""
        pool, source = entry
        return _Pending(step.parsed, pool, source, source.version, step.extra)

    def _finish(self, parsed: ParsedToken, pool: PoolConfig, key: Any) -> Claims:
        _token.verify_signature(key, parsed)
        # The parser's dict is held by nothing else: wrapped without a copy.
        claims = Claims._owned(parsed.payload)
        try:
            _token.check_claims(
                parsed.payload,
                issuers=pool.issuers,
                client_ids=pool.client_ids,
                token_use=pool.token_use,
                now=self._clock(),
                leeway=self._leeway,
                clock_skew=self._clock_skew,
            )
        except CognitoVerifyError as exc:
            # Signed by the pool: who was refused may be logged (never the token).
            exc.claims = claims
            raise
        return claims

    def _rules(
        self, claims: Claims, extra: Requirements, revocation: bool = True
    ) -> Generator[_Wait, Any, None]:
        """The checks after the claims, in order: revocation (401), step-up (401),
        groups and scopes (403), custom check (403). A hook's awaitable is yielded to
        the driver, which sends back its result or throws its exception in."""
        hook = self._is_revoked
        if hook is not None and revocation:
            try:
                revoked = hook(claims)
                if inspect.isawaitable(revoked):
                    revoked = yield "is_revoked", revoked
            except CognitoVerifyError:
                raise
            except Exception as exc:
                # Fail closed: a deny list that cannot be read must not let the token
                # through; 503, as the token itself may be fine.
                log.error("is_revoked raised %s; the token is refused", type(exc).__name__)
                raise RevocationCheckError(
                    f"the is_revoked hook raised {type(exc).__name__}; the token is refused"
                ) from exc
            if revoked is True:
                raise TokenRevokedError("the token was revoked (is_revoked answered True)")
            # Only an explicit False lets the token through: a hook that forgets to
            # return (None) must not silently disable revocation.
            if revoked is not False:
                raise RevocationCheckError(
                    f"is_revoked must return True or False, got {type(revoked).__name__}; "
                    "the token is refused"
                )
        req = self._requirements.merged(extra)
        if req.max_auth_age is not None:
            _token.check_auth_age(claims._data, req.max_auth_age, self._clock(), self._leeway)
        if req.any_groups or req.all_groups or req.any_scopes or req.all_scopes:
            _token.authorize(claims.groups, claims.scopes, req)
        check = self._custom_check
        if check is not None:
            try:
                verdict = check(claims)
                if inspect.isawaitable(verdict):
                    verdict = yield "custom_check", verdict
            except CognitoVerifyError:
                raise
            except Exception as exc:
                # Fail closed: a check that crashes has not said yes.
                raise CustomCheckError(
                    f"the custom check raised {type(exc).__name__}; the token is refused"
                ) from exc
            if not verdict:
                raise CustomCheckError("the token was refused by the custom check")

    def _run(self, claims: Claims, extra: Requirements, revocation: bool = True) -> None:
        """Drive ``_rules`` without an event loop: an awaitable cannot be waited for."""
        rules = self._rules(claims, extra, revocation)
        try:
            for name, awaitable in rules:
                rules.close()
                # A coroutine is truthy: used as a verdict, it would allow every token.
                if inspect.iscoroutine(awaitable):
                    awaitable.close()
                raise ConfigurationError(
                    f"{name} returned an awaitable: an async {name} needs averify() "
                    "(or aauthorize()); verify() cannot wait for it"
                )
        except CognitoVerifyError as exc:
            if exc.claims is None:
                exc.claims = claims
            raise

    async def _arun(self, claims: Claims, extra: Requirements, revocation: bool = True) -> None:
        """Drive ``_rules``, awaiting what the hooks return."""
        rules = self._rules(claims, extra, revocation)
        try:
            name, awaitable = next(rules)
            while True:
                try:
                    value = await awaitable
                except Exception as exc:  # thrown into the rules: they decide
                    name, awaitable = rules.throw(exc)
                else:
                    name, awaitable = rules.send(value)
        except StopIteration:
            return
        except CognitoVerifyError as exc:
            if exc.claims is None:
                exc.claims = claims
            raise
        finally:
            rules.close()

    def _prepare(self, token: str | bytes, extra: Requirements) -> Claims | _Pending | _Unresolved:
        """Steps before the key: a still-valid cache hit, or the parsed token and its
        pool (or the pool to resolve first, which only the twins can wait for)."""
        hit = self._cache_get(token) if type(token) is str else None
        if hit is not None:
            claims, not_before, not_after, source, version = hit
            # A changed key set may mean a withdrawn key: what it vouched for is verified
            # again. The window is re-checked so an entry never outlives the token's exp.
            if (
                version == source.version
                and not_before <= self._clock() < not_after
                and self._monotonic() < source.fresh_until
            ):
                return claims  # the rules after the claims are the twins' to run
            self._cache.discard(token, hit)  # verified again below: the precise error
        parsed, entry = self._begin(token)
        if isinstance(entry, Need):
            return _Unresolved(parsed, entry, extra)
        pool, source = entry
        # The version is read before the key: if the set changes meanwhile, the entry is
        # born stale (verified again next time), never vouched for by a withdrawn key.
        return _Pending(parsed, pool, source, source.version, extra)

    def _complete(self, token: str | bytes, step: _Pending, key: Any) -> Claims:
        """Signature and claims, then remember them. The rules after the claims
        (revocation, step-up, authorization) are run by the twins on every call,
        cached or not, so an entry never carries a verdict, only verified claims."""
        claims = self._finish(step.parsed, step.pool, key)
        if type(token) is str:
            self._cache.put(
                token, claims, self._leeway, step.source, step.version, self._clock_skew
            )
        return claims

    @staticmethod
    def _extra(
        groups: object,
        all_groups: object,
        scopes: object,
        all_scopes: object,
        max_auth_age: object = None,
    ) -> Requirements:
        if (
            groups is None
            and all_groups is None
            and scopes is None
            and all_scopes is None
            and max_auth_age is None
        ):
            return _NO_REQUIREMENTS
        try:
            return Requirements.build(groups, all_groups, scopes, all_scopes, max_auth_age)
        except ConfigurationError as exc:
            raise TypeError(exc.message) from None

    # --- public API --------------------------------------------------------------------

    def verify(
        self,
        token: str | bytes,
        *,
        groups: str | Sequence[str] | None = None,
        all_groups: str | Sequence[str] | None = None,
        scopes: str | Sequence[str] | None = None,
        all_scopes: str | Sequence[str] | None = None,
        max_auth_age: float | None = None,
    ) -> Claims:
        """Verify ``token`` and return its claims.

        The keyword arguments add requirements for this call on top of the verifier's;
        ``max_auth_age`` (seconds since ``auth_time``) is the stricter of the two.

        Raises:
            InvalidTokenError: (a subclass of) the token is not acceptable -> 401;
                ``TokenRevokedError`` and ``InsufficientUserAuthenticationError``
                among them.
            ForbiddenError: the token is valid but lacks a group/scope -> 403.
            JWKSError: the pool's keys cannot be fetched and none are cached -> 503.
            RevocationCheckError: the ``is_revoked`` hook failed -> 503.
            PoolResolverError: the ``pool_resolver`` failed -> 503 (a ``JWKSError``).
            ConfigurationError: a hook (or ``pool_resolver``) is async: use
                :meth:`averify`.

        An error raised after the signature verified carries the claims as ``.claims``.
        """
        if self._async_hooks:
            raise ConfigurationError(
                f"{self._async_hooks[0]} is an async function: call averify(), "
                "as verify() cannot await it"
            )
        extra = (
            _NO_REQUIREMENTS
            if groups is None
            and all_groups is None
            and scopes is None
            and all_scopes is None
            and max_auth_age is None
            else self._extra(groups, all_groups, scopes, all_scopes, max_auth_age)
        )
        try:
            step = self._prepare(token, extra)
            if isinstance(step, _Unresolved):
                step = self._resolved(step, self._tenants_of(step).resolve(step.need))
            claims = (
                step
                if isinstance(step, Claims)
                else self._complete(token, step, step.source.get(step.parsed.kid))
            )
            # With no requirement and no hook there is nothing more to check: the
            # common case skips the rules entirely.
            if not self._plain or extra is not _NO_REQUIREMENTS:
                self._run(claims, extra)
            return claims
        except CognitoVerifyError:
            raise
        except Exception as exc:  # fail closed: an unforeseen error is a refusal
            raise _unexpected(exc) from exc

    async def averify(
        self,
        token: str | bytes,
        *,
        groups: str | Sequence[str] | None = None,
        all_groups: str | Sequence[str] | None = None,
        scopes: str | Sequence[str] | None = None,
        all_scopes: str | Sequence[str] | None = None,
        max_auth_age: float | None = None,
    ) -> Claims:
        """Async twin of :meth:`verify`, on asyncio, uvloop or trio; fetching keys never
        blocks the event loop, and ``async def`` hooks are awaited."""
        extra = (
            _NO_REQUIREMENTS
            if groups is None
            and all_groups is None
            and scopes is None
            and all_scopes is None
            and max_auth_age is None
            else self._extra(groups, all_groups, scopes, all_scopes, max_auth_age)
        )
        try:
            step = self._prepare(token, extra)
            if isinstance(step, _Unresolved):
                step = self._resolved(step, await self._tenants_of(step).aresolve(step.need))
            claims = (
                step
                if isinstance(step, Claims)
                else self._complete(token, step, await step.source.aget(step.parsed.kid))
            )
            if not self._plain or extra is not _NO_REQUIREMENTS:
                await self._arun(claims, extra)
            return claims
        except CognitoVerifyError:
            raise
        except Exception as exc:
            raise _unexpected(exc) from exc

    def authorize(
        self,
        claims: Claims,
        *,
        groups: str | Sequence[str] | None = None,
        all_groups: str | Sequence[str] | None = None,
        scopes: str | Sequence[str] | None = None,
        all_scopes: str | Sequence[str] | None = None,
        max_auth_age: float | None = None,
    ) -> None:
        """Apply this verifier's requirements, plus the given ones, to claims it
        verified earlier: step-up, groups/scopes and ``custom_check`` (not
        ``is_revoked``, which ran when they were verified).

        Raises:
            InsufficientUserAuthenticationError: ``auth_time`` is too old -> 401.
            ForbiddenError: a group, scope or custom check is not satisfied.
            ConfigurationError: ``custom_check`` is async: use :meth:`aauthorize`.
        """
        extra = self._extra(groups, all_groups, scopes, all_scopes, max_auth_age)
        if "custom_check" in self._async_hooks:
            raise ConfigurationError(
                "custom_check is an async function: call aauthorize(), "
                "as authorize() cannot await it"
            )
        self._run(claims, extra, revocation=False)

    async def aauthorize(
        self,
        claims: Claims,
        *,
        groups: str | Sequence[str] | None = None,
        all_groups: str | Sequence[str] | None = None,
        scopes: str | Sequence[str] | None = None,
        all_scopes: str | Sequence[str] | None = None,
        max_auth_age: float | None = None,
    ) -> None:
        """Async twin of :meth:`authorize`; awaits an ``async def`` custom check."""
        extra = self._extra(groups, all_groups, scopes, all_scopes, max_auth_age)
        await self._arun(claims, extra, revocation=False)

    @property
    def stats(self) -> KeyStats:
        """Key cache counters summed over this verifier's JWKS URLs (a snapshot).

        ``fetches``, ``fetch_failures``, ``unknown_kid_rejections``, ``cache_hits``
        and ``stale_hits`` only grow; export them as counters and alert on
        ``fetch_failures`` and ``stale_hits``. See docs/keys.md.
        """
        total = KeyStats()
        for source in self._remote.values():
            total += source.stats
        if self._tenants is not None:
            total += self._tenants.key_stats  # resolved pools, held or dropped
        return total

    @property
    def pool_resolver_stats(self) -> PoolResolverStats:
        """Counters of ``pool_resolver`` (calls, resolved, refused, failures, refusal
        hits, evictions, pools held); all zero without a resolver. A snapshot."""
        if self._tenants is None:
            return PoolResolverStats()
        return self._tenants.stats

    def _tenants_of(self, step: _Unresolved) -> Tenants:
        assert self._tenants is not None  # only they make _Unresolved steps
        return self._tenants

    def hydrate(self) -> None:
        """Fetch every pool's keys now (concurrently), so the first request does not.

        Raises ``JWKSError`` if a pool has no endpoint that answered with keys; an
        extra endpoint (updated issuer form, replica region) that fails only logs.
        """
        sources = list(self._remote.values())
        if not sources:
            return
        # A thread per URL (a verifier has a handful): nothing imported on this path,
        # so hydrate() in a background thread of a preloading server is fork-safe.
        results: dict[RemoteKeys[Any], JWKSError | None] = {}

        def attempt(source: RemoteKeys[Any]) -> None:
            results[source] = _attempt(source)

        threads = [threading.Thread(target=attempt, args=(s,), daemon=True) for s in sources]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        missing = JWKSError("the fetch thread ended without an outcome")
        self._check_hydrated({s: results.get(s, missing) for s in sources})

    async def ahydrate(self) -> None:
        """Async twin of :meth:`hydrate`."""
        sources = list(self._remote.values())
        results: dict[RemoteKeys[Any], JWKSError | None] = {}

        async def attempt(source: RemoteKeys[Any]) -> None:
            results[source] = await _aattempt(source)

        # anyio, not asyncio: ahydrate runs under asyncio, uvloop or trio.
        async with anyio.create_task_group() as group:
            for source in sources:
                group.start_soon(attempt, source)
        self._check_hydrated(results)

    def _check_hydrated(self, results: Mapping[RemoteKeys[Any], JWKSError | None]) -> None:
        for pool in self.pools:
            urls = [pool.jwks_urls[i] for i in pool.issuers if i in pool.jwks_urls]
            errors = [results[self._remote[u]] for u in urls]
            if urls and all(e is not None for e in errors):
                raise JWKSError(
                    f"no keys could be loaded for pool {pool.user_pool_id}: "
                    f"{errors[0].message if errors[0] else ''}"
                )
            for url, err in zip(urls, errors, strict=True):
                if err is not None:
                    log.warning("hydrate: %s did not answer with keys: %s", url, err.message)

    def close(self) -> None:
        """Close the HTTP client this verifier created (not one you passed in)."""
        if self._owns_http:
            for source in self._remote.values():
                source.close()
            if self._tenants is not None:
                self._tenants.close()

    def __enter__(self) -> CognitoVerifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_NO_REQUIREMENTS = Requirements()


def _is_async(hook: Callable[..., Any]) -> bool:
    """True for an ``async def`` function, or an object whose ``__call__`` is one."""
    return inspect.iscoroutinefunction(hook) or inspect.iscoroutinefunction(
        getattr(hook, "__call__", None)  # noqa: B004 - the method itself is inspected
    )


class _Pending(NamedTuple):
    """A token that passed the steps before the key, waiting for it."""

    parsed: ParsedToken
    pool: PoolConfig
    source: KeySource
    version: int
    extra: Requirements


class _Unresolved(NamedTuple):
    """A token whose pool the resolver must settle before the key (``pool_resolver``)."""

    parsed: ParsedToken
    need: Need
    extra: Requirements


def _unexpected(exc: Exception) -> InvalidTokenError:
    log.error("unexpected %s while verifying a token; refused", type(exc).__name__)
    return InvalidTokenError(f"the token could not be verified ({type(exc).__name__})")


def _attempt(source: RemoteKeys[Any]) -> JWKSError | None:
    try:
        source.refresh()
    except JWKSError as exc:
        return exc
    return None


async def _aattempt(source: RemoteKeys[Any]) -> JWKSError | None:
    try:
        await source.arefresh()
    except JWKSError as exc:
        return exc
    return None
