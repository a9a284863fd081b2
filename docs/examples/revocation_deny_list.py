"""A small in-process deny list for ``is_revoked=`` (docs/revocation.md).

Sessions are denied by ``origin_jti``, which Cognito gives every token derived from
one sign-in's refresh token, so one entry refuses the session's current and future
ID and access tokens. An entry is kept until the denied token's own ``exp``: after
that the verifier refuses the token as expired anyway, so the list never grows
beyond the tokens still alive. For several processes, keep the same entries in a
shared store (Redis ``SET key 1 EXAT <exp>``) and make ``__call__`` async.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from cachetools import TLRUCache

from cognito_verify import Claims, CognitoVerifier


class DenyList:
    """``is_revoked=`` hook: True for a token whose session (or own jti) was denied."""

    def __init__(self, maxsize: int = 100_000, clock: Callable[[], float] = time.time) -> None:
        # Each entry expires at the time stored as its value: the denied token's exp.
        self._entries: TLRUCache[str, float] = TLRUCache(
            maxsize, ttu=lambda _key, exp, _now: exp, timer=clock
        )
        self._lock = threading.Lock()

    def deny(self, claims: Claims) -> None:
        """Refuse this token's whole session (call after ``RevokeToken`` or sign-out)."""
        key = claims.get("origin_jti") or claims.get("jti")
        if isinstance(key, str):
            with self._lock:
                self._entries[key] = claims.expires_at

    def __call__(self, claims: Claims) -> bool:
        keys = [k for k in (claims.get("origin_jti"), claims.get("jti")) if isinstance(k, str)]
        with self._lock:
            return any(k in self._entries for k in keys)


deny_list = DenyList()
verifier = CognitoVerifier(
    "eu-west-1_AbCdEf123",
    client_id="4tg7fhidb5adr5jc1bna4me2i6",
    token_use="access",
    is_revoked=deny_list,
)


def sign_out(claims: Claims) -> None:
    """Your sign-out route: revoke the refresh token with Cognito (RevokeToken), then
    deny the session here so its access tokens stop working before they expire."""
    deny_list.deny(claims)
