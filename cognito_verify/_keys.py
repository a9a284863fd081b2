"""JWKS -> usable public keys, and the refresh policy, as plain code.

``KeySet`` is an immutable snapshot of one JWKS document. ``StaticKeys`` serves a
JWKS given in memory; ``RemoteKeys`` fetches one URL and decides when to refetch.
The policy (``_plan`` / ``_settle``) does no IO; ``get`` and ``aget`` only add the
fetch and the lock around it, so the sync and async paths cannot drift apart.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import random
import threading
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey, RSAPublicNumbers

from ._fetch import DEFAULT_MAX_BYTES, DEFAULT_TIMEOUT, afetch_jwks, default_timeout, fetch_jwks
from .errors import JWKSError, UnknownKeyError, UnusableKeyError

log = logging.getLogger("cognito_verify")

MIN_RSA_BITS = 2048


@dataclass(frozen=True)
class KeyPolicy:
    """When keys are fetched again. Every figure is in seconds."""

    max_age: float = 3600.0
    unknown_kid_cooldown: float = 10.0
    max_stale: float = 24 * 3600.0
    retry_base: float = 1.0
    retry_cap: float = 60.0
    timeout: float = DEFAULT_TIMEOUT
    max_bytes: int = DEFAULT_MAX_BYTES


def _b64url_int(value: object) -> int:
    if not isinstance(value, str) or not value:
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


class StaticKeys:
    """Keys given in memory (``jwks=``): never fetches."""

    def __init__(self, jwks: Mapping[str, Any], label: str) -> None:
        self.label = label
        self.version = 0
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


class RemoteKeys:
    """The key set of one JWKS URL, fetched on need and refreshed by policy."""

    def __init__(
        self,
        url: str,
        *,
        policy: KeyPolicy,
        clock: Callable[[], float],
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self.url = url
        self.label = url
        self.policy = policy
        self._clock = clock
        self._http = http_client
        self._ahttp = async_http_client
        self._keyset: KeySet | None = None
        self.version = 0  # bumped whenever the set of keys changes
        self._fetch_count = 0
        self._failures = 0
        self._retry_at = 0.0
        self._cooldown_until = 0.0
        self._last_error: JWKSError | None = None
        self._lock = threading.Lock()
        self._alocks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    # --- policy, no IO -------------------------------------------------------------

    def _plan(self, kid: str, now: float, may_fetch: bool) -> RSAPublicKey | None:
        """The key if it may be used without IO; None if a fetch should be made."""
        ks = self._keyset
        backing_off = now < self._retry_at
        if ks is None:
            if backing_off or not may_fetch:
                raise self._last_error or JWKSError(f"no keys could be fetched from {self.url}")
            return None
        key = ks.keys.get(kid)
        age = now - ks.fetched_at
        if key is not None:
            if age < self.policy.max_age or backing_off or not may_fetch:
                if age >= self.policy.max_age + self.policy.max_stale:
                    raise JWKSError(
                        f"keys from {self.url} are older than the stale limit and "
                        "cannot be refreshed"
                    )
                return key
            return None
        if kid in ks.rejected:
            raise UnusableKeyError(
                f"the key named by the token's kid in {self.url} is unusable: {ks.rejected[kid]}"
            )
        # Unknown kid: one refetch per cooldown window at most, so a flood of tokens
        # with invented kids cannot become a flood of requests to Cognito.
        if not may_fetch or backing_off or now < self._cooldown_until:
            raise UnknownKeyError(f"the token's kid is not a key of {self.url}")
        return None

    def _settle(self, kid: str | None, jwks: dict[str, Any] | JWKSError) -> None:
        now = self._clock()
        self._fetch_count += 1
        if isinstance(jwks, JWKSError):
            self._failures += 1
            delay = min(self.policy.retry_cap, self.policy.retry_base * 2 ** (self._failures - 1))
            self._retry_at = now + delay * random.uniform(0.5, 1.0)
            self._last_error = jwks
            log.warning("JWKS fetch failed for %s: %s", self.url, jwks.message)
            return
        try:
            ks = KeySet.from_jwks(jwks, now, self._keyset)
        except JWKSError as exc:
            self._settle(kid, JWKSError(f"{self.url}: {exc.message}"))
            return
        if self._keyset is None or ks.fingerprint != self._keyset.fingerprint:
            self.version += 1
        unknown_refetch = (
            self._keyset is not None and kid is not None and (kid not in self._keyset.keys)
        )
        self._keyset = ks
        self._failures = 0
        self._retry_at = 0.0
        self._last_error = None
        if unknown_refetch and kid not in ks.keys:
            self._cooldown_until = now + self.policy.unknown_kid_cooldown
        elif kid in ks.keys:
            self._cooldown_until = 0.0
        log.info("JWKS fetched from %s: %d key(s)", self.url, len(ks.keys))

    # --- IO --------------------------------------------------------------------------

    def _client(self) -> httpx.Client:
        if self._http is None:
            self._http = httpx.Client(
                timeout=default_timeout(self.policy.timeout), follow_redirects=False
            )
        return self._http

    def _fetch(self, kid: str | None) -> None:
        try:
            jwks: dict[str, Any] | JWKSError = fetch_jwks(
                self._client(),
                self.url,
                timeout=self.policy.timeout,
                max_bytes=self.policy.max_bytes,
            )
        except JWKSError as exc:
            jwks = exc
        self._settle(kid, jwks)

    async def _afetch(self, kid: str | None) -> None:
        try:
            if self._ahttp is not None:
                jwks: dict[str, Any] | JWKSError = await afetch_jwks(
                    self._ahttp,
                    self.url,
                    timeout=self.policy.timeout,
                    max_bytes=self.policy.max_bytes,
                )
            else:
                # A client per fetch: fetches are rare, and a client bound to one
                # event loop would break a verifier shared by several loops.
                async with httpx.AsyncClient(follow_redirects=False) as client:
                    jwks = await afetch_jwks(
                        client,
                        self.url,
                        timeout=self.policy.timeout,
                        max_bytes=self.policy.max_bytes,
                    )
        except JWKSError as exc:
            jwks = exc
        self._settle(kid, jwks)

    def get(self, kid: str) -> RSAPublicKey:
        key = self._plan(kid, self._clock(), True)
        if key is not None:
            return key
        seen = self._fetch_count
        with self._lock:
            # Someone else fetched while we waited: use their result, do not refetch.
            if self._fetch_count == seen:
                self._fetch(kid)
        key = self._plan(kid, self._clock(), False)
        assert key is not None
        return key

    async def aget(self, kid: str) -> RSAPublicKey:
        key = self._plan(kid, self._clock(), True)
        if key is not None:
            return key
        seen = self._fetch_count
        async with self._alock():
            if self._fetch_count == seen:
                await self._afetch(kid)
        key = self._plan(kid, self._clock(), False)
        assert key is not None
        return key

    def _alock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        lock = self._alocks.get(loop)
        if lock is None:
            lock = self._alocks.setdefault(loop, asyncio.Lock())
        return lock

    def refresh(self) -> None:
        """Fetch now; raise ``JWKSError`` if no key set is available afterwards."""
        with self._lock:
            self._fetch(None)
        if self._keyset is None or self._last_error is not None:
            raise self._last_error or JWKSError(f"no keys could be fetched from {self.url}")

    async def arefresh(self) -> None:
        async with self._alock():
            await self._afetch(None)
        if self._keyset is None or self._last_error is not None:
            raise self._last_error or JWKSError(f"no keys could be fetched from {self.url}")

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
