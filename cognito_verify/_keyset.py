"""A key set (kid -> usable public key) and the JWK rules that decide what is usable.

``KeySet`` is an immutable snapshot of one fetched document, generic over the key
type, so any key source fits it: a JWKS (``parse_jwks``, RSA keys for Cognito) or
one PEM per ``kid`` (an ALB's ES256 keys). A parser is any ``Parser``: bytes in,
``KeySet`` out, ``JWKSError`` for a document that holds nothing usable. Parsing
is pure: no IO, no clock, no state carried over from an earlier set, so every
refresh re-validates every key (a key whose ``use`` turns to ``enc`` stops
verifying at the refresh that sees it).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey, RSAPublicNumbers

from .errors import JWKSError, UnknownKeyError, UnusableKeyError

log = logging.getLogger("cognito_verify")

K = TypeVar("K")

MIN_RSA_BITS = 2048
# Cognito uses 2048-bit keys. A far larger modulus makes every check slow (verify
# cost grows with the square of the size), so a JWKS cannot turn into a CPU sink.
MAX_RSA_BITS = 8192
_B64URL = re.compile(r"[A-Za-z0-9_-]+")


class KeySet(Generic[K]):
    """Usable keys by ``kid``, the kids refused with the reason, and a fingerprint.

    ``fingerprint`` changes whenever what the set would verify changes (a key added,
    removed, replaced or newly refused); a source bumps its ``version`` on it.
    Treated as immutable: a new document makes a new set. (A plain slotted class,
    not a dataclass: it is built at import time's cost in every cold start.)
    """

    __slots__ = ("keys", "rejected", "fingerprint")

    def __init__(
        self,
        keys: Mapping[str, K],
        rejected: Mapping[str, str],
        fingerprint: frozenset[tuple[str, str]],
    ) -> None:
        self.keys = keys
        self.rejected = rejected  # kid -> why the key cannot be used
        self.fingerprint = fingerprint

    def __repr__(self) -> str:
        return f"<KeySet keys={sorted(self.keys)} rejected={sorted(self.rejected)}>"

    def find(self, kid: str, label: str) -> K:
        """The key for ``kid``.

        Raises:
            UnusableKeyError: the document names ``kid`` but its key is refused.
            UnknownKeyError: no key has this ``kid``.
        """
        key = self.keys.get(kid)
        if key is not None:
            return key
        if kid in self.rejected:
            raise UnusableKeyError(
                f"the key named by the token's kid in {label} is unusable: {self.rejected[kid]}"
            )
        raise UnknownKeyError(f"the token's kid is not a key of {label}")


class NoUsableKeyError(JWKSError):
    """A well-formed document without one usable key. A failed fetch (the last good set
    may serve on), except that the kids it names as unusable stop verifying at once:
    the document's own word about a key wins over what an earlier set said."""

    def __init__(self, message: str, rejected: Mapping[str, str]) -> None:
        super().__init__(message)
        self.rejected = dict(rejected)


Parser = Callable[[bytes], KeySet[Any]]
"""Turns a fetched document into a key set; raises ``JWKSError`` if nothing is usable."""


def _b64url_int(value: object) -> int:
    # Strict alphabet: the lenient decoder would skip foreign characters and build a
    # different number than the one the JWKS author wrote.
    if not isinstance(value, str) or _B64URL.fullmatch(value) is None or len(value) % 4 == 1:
        raise ValueError("not a base64url string")
    raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    return int.from_bytes(raw, "big")


def prepare_rsa_jwk(jwk: Mapping[str, Any]) -> RSAPublicKey:
    """Check one JWK and build its public key; ``ValueError`` says why it is unusable."""
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


def _canonical(jwk: Mapping[str, Any]) -> str:
    try:
        return json.dumps(jwk, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError):  # pragma: no cover - parsed JSON always dumps
        return repr(sorted(jwk.items()))


def jwks_keyset(jwks: object) -> KeySet[RSAPublicKey]:
    """Validate every JWK of a parsed JWKS object and build the set.

    Raises:
        JWKSError: not ``{"keys": [...]}``, or no usable RS256 signing key in it.
    """
    if not isinstance(jwks, Mapping) or not isinstance(jwks.get("keys"), list):
        raise JWKSError('the JWKS is not an object with a "keys" list')
    keys: dict[str, RSAPublicKey] = {}
    rejected: dict[str, str] = {}
    prints: set[tuple[str, str]] = set()
    for jwk in jwks["keys"]:
        if not isinstance(jwk, Mapping):
            continue
        kid = jwk.get("kid")
        if not isinstance(kid, str) or not kid:
            log.debug("JWKS entry without a kid skipped")
            continue
        prints.add((kid, _canonical(jwk)))
        if kid in keys or kid in rejected:
            # Two keys under one kid: which one signed is ambiguous, use neither.
            keys.pop(kid, None)
            rejected[kid] = "the JWKS has more than one key with this kid"
            continue
        # Every key is checked on every refresh; nothing is carried over from an
        # earlier set, so a key re-labelled (say "use": "enc") stops verifying at once.
        try:
            keys[kid] = prepare_rsa_jwk(jwk)
        except ValueError as exc:
            rejected[kid] = str(exc)
            log.debug("JWKS key %r skipped: %s", kid, exc)
    if not keys:
        raise NoUsableKeyError("the JWKS holds no usable RS256 signing key", rejected)
    return KeySet(keys, rejected, frozenset(prints))


def parse_jwks(body: bytes) -> KeySet[RSAPublicKey]:
    """The ``Parser`` for a JWKS document (RFC 7517) of RS256 keys.

    Raises:
        JWKSError: the body is not JSON, not a JWKS, or has no usable key.
    """
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        raise JWKSError("the response is not JSON") from None
    if not isinstance(value, dict) or not isinstance(value.get("keys"), list):
        raise JWKSError('the response is not a JWKS object {"keys": [...]}')
    return jwks_keyset(value)
