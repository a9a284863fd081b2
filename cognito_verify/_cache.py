"""The verified-token cache: a repeated token skips parsing and the RSA check.

A client reuses its access token for up to an hour, so most requests carry a token
this process has already verified. An entry maps the exact token string to the
``Claims`` it produced, the time window in which those claims are valid, and the
version of the key set that verified it. The verifier re-checks on every hit:

* the window (``iat``/``nbf`` - leeway - clock_skew <= now < ``exp`` + leeway) against
  its clock,
  so an entry never outlives the token;
* the key source's ``version``, so a changed key set drops every entry it vouched for;
* and the verifier runs the rules after the claims on every hit, exactly as on a
  miss: revocation (``is_revoked``), step-up (``max_auth_age`` against its clock),
  the verifier's and the call's group/scope requirements and ``custom_check``. An
  entry holds verified claims, never a verdict.

Only tokens whose signature and claims verified are stored (a rule may still refuse
them, on this call and on every later one). A cache of failures would be filled by
anyone who can send junk (each junk token is free to make), evicting the good
entries; it would also pin time-dependent refusals (expired, not yet valid, keys
unreachable) and save nothing worth having, since a bad token already costs at most
one parse and one RSA check. An entry requires a token signed by the pool, which an
attacker cannot mint, so the cache cannot be flooded from outside.

Lookups are a single ``dict.get`` without a lock (atomic in CPython, and the
stored tuples are immutable); insertions and evictions take a lock. Eviction is
first-in first-out through the dict's insertion order: cachetools' ``LRUCache``
runs Python code on every read (``docs/benchmarks.md`` measures the difference),
while an entry's lifetime is bounded by its ``exp`` anyway, so recency adds
little.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections import OrderedDict
from typing import Any

from .claims import Claims

# Entries at the default size. Measured by ``make bench`` (docs/benchmarks.md,
# "memory"): about 7 MB for 2048 realistic 1.4 KB tokens, about 21 MB if every
# cached token is at the length limit below; either way under 32 MB.
DEFAULT_CACHE_SIZE = 2048
# Tokens longer than this are verified but not cached, which bounds the memory of a
# full cache whatever the token sizes. Real Cognito tokens are 1-4 KB.
MAX_CACHED_TOKEN_LENGTH = 6 * 1024


# What a hit needs to re-check before the claims may be returned, as a plain tuple
# (no NamedTuple: building one runs Python code, and this is built on every miss):
# (claims, not_before = max(iat, nbf) - leeway - clock_skew, not_after = exp + leeway,
#  the key source that verified the token, that source's version at the time).
Entry = tuple[Claims, float, float, Any, int]


class TokenCache:
    """A bounded map from token string to :class:`Entry`; ``size=0`` stores nothing."""

    __slots__ = ("size", "_data", "_lock", "get", "__weakref__")

    def __init__(self, size: int) -> None:
        self.size = size
        self._data: OrderedDict[str, Entry] = OrderedDict()
        self._lock = threading.Lock()
        # Bound once: the hot path is then one C call.
        self.get = self._data.get
        _LIVE.add(self)

    def _after_fork_in_child(self) -> None:
        # A thread of the parent may have held the lock at the fork; it does not exist
        # in the child, so the lock would never be released there.
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._data)

    def put(
        self,
        token: str,
        claims: Claims,
        leeway: float,
        source: Any,
        version: int,
        clock_skew: float = 0.0,
    ) -> None:
        """Store a token that just passed every check (a no-op when disabled)."""
        if not self.size or len(token) > MAX_CACHED_TOKEN_LENGTH:
            return
        data = claims._data
        iat, nbf = data["iat"], data.get("nbf")
        start = iat if nbf is None or nbf < iat else nbf
        # A hit also needs the key set younger than its maximum age (the verifier checks
        # source.fresh_until on the monotonic clock): a hit skips the key lookup that
        # would refresh the set, so a key removed from the JWKS must not keep vouching.
        not_after = data["exp"] + leeway
        entry: Entry = (claims, start - leeway - clock_skew, not_after, source, version)
        items = self._data
        with self._lock:
            items[token] = entry
            if len(items) > self.size:
                items.popitem(last=False)

    def discard(self, token: Any, entry: Any) -> None:
        """Drop ``token`` if it still maps to ``entry`` (a stale or expired hit)."""
        with self._lock:
            if self._data.get(token) is entry:
                del self._data[token]

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


_LIVE: weakref.WeakSet[TokenCache] = weakref.WeakSet()


def after_fork_in_child() -> None:
    """New locks for every live cache (also run by ``_remote.check_fork``)."""
    for cache in list(_LIVE):
        cache._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=after_fork_in_child)
