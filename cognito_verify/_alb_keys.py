"""The load balancer's public keys: one PEM document per ``kid``, on the generic key
machinery (``KeyDirectory`` of ``RemoteKeys``).

Each kid gets its own ``RemoteKeys`` over ``{base}/{kid}`` with the PEM parser below:
single flight, bounded IO, maximum age, back-off, the stale window and fork safety are
exactly the JWKS ones. The kid reaching ``url_for`` has already passed ``_alb.parse``
(a UUID), so no kid can point the request at another path or host.

A never-seen kid is where invented kids arrive. ``KeyDirectory`` probes one never-seen
kid at a time, and after a probe that found nothing (HTTP 403/404, or a failed fetch:
timeout, 5xx) refuses never-seen kids without a request for ``unknown_kid_cooldown``,
so neither a flood of invented kids nor an outage costs a request per kid.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ._alb import load_pem_key
from ._directory import KeyDirectory
from ._keyset import KeySet, Parser
from ._policy import KeyPolicy, KeyStats
from .errors import JWKSError

if TYPE_CHECKING:  # httpx is imported only by whoever passes its clients
    import httpx


def pem_parser(kid: str) -> Parser:
    """The ``Parser`` of the document at ``{base}/{kid}``: one P-256 PEM public key."""

    def parse(body: bytes) -> KeySet[Any]:
        try:
            key = load_pem_key(body)
        except ValueError as exc:  # not a PEM key at all: the endpoint is broken (503)
            raise JWKSError(f"the load balancer key for a kid is {exc}") from None
        except TypeError as exc:
            # A real key of another kind (RSA, P-384): the kid names a key this
            # verifier may not use (401 unusable_key), the endpoint is not down.
            return KeySet({}, {kid: str(exc)}, frozenset({(kid, "rejected")}))
        der = key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        return KeySet({kid: key}, {}, frozenset({(kid, hashlib.sha256(der).hexdigest())}))

    return parse


class AlbKeys:
    """The public keys of one load balancer key endpoint (one region).

    Args:
        base_url: the endpoint; a key is at ``{base_url}/{kid}``.
        policy: the same ``KeyPolicy`` a JWKS uses (max age, cooldown, timeouts, ...).
        monotonic: the key policy's clock (injectable for tests).
    """

    def __init__(
        self,
        base_url: str,
        *,
        policy: KeyPolicy,
        monotonic: Callable[[], float] = time.monotonic,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self.url = base_url
        self.label = f"the load balancer keys at {base_url}"
        self._dir: KeyDirectory[EllipticCurvePublicKey] = KeyDirectory(
            lambda kid: f"{base_url.rstrip('/')}/{kid}",
            pem_parser,
            policy=policy,
            monotonic=monotonic,
            http_client=http_client,
            async_http_client=async_http_client,
            label=self.label,
        )

    @property
    def stats(self) -> KeyStats:
        """Counters summed over every kid's source (plus refused new kids)."""
        return self._dir.stats

    def get(self, kid: str) -> EllipticCurvePublicKey:
        """The P-256 key for ``kid``.

        Raises:
            UnknownKeyError: no such key, or a new kid refused during the cooldown.
            UnusableKeyError: the endpoint serves a key of another type for it.
            JWKSError: the endpoint cannot be reached and no key is cached.
        """
        return self._dir.get(kid)

    async def aget(self, kid: str) -> EllipticCurvePublicKey:
        """Async twin of :meth:`get`."""
        return await self._dir.aget(kid)

    def close(self) -> None:
        self._dir.close()
