"""HTTP semantics shared by every adapter: finding the token, and answering refusals.

No framework is imported here; adapters turn ``Refusal`` into their own response type.
Every rule of the HTTP contract lives here, so the adapters cannot drift apart:

* the token: ``Authorization: Bearer <token>`` (scheme case-insensitive), exactly one
  such header, with a precise message for common copy-paste mistakes;
* the refusal: status, ``WWW-Authenticate`` challenge (RFC 6750 s3, naming the
  missing scope), ``Retry-After`` and ``Cache-Control: no-store`` on every refusal;
  a misconfiguration is logged with its message and answered 500 without details;
* path exclusions (``ExcludedPaths``): one matching rule for every middleware;
* JSON: ``json_default`` turns ``Claims`` and its sets into JSON types.
"""

from __future__ import annotations

import json
import logging
import posixpath
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..claims import Claims
from ..errors import (
    CognitoVerifyError,
    ForbiddenError,
    InsufficientUserAuthenticationError,
    InvalidTokenError,
    JWKSError,
    MalformedTokenError,
    MissingScopeError,
    MissingTokenError,
    RevocationCheckError,
)

# Short, fixed texts: the client learns the class of failure, never the exception
# message (which can name the configured issuers and app clients) nor the token.
_DESCRIPTIONS = {
    401: "The request is not authenticated.",
    403: "The caller is not allowed to do this.",
    503: "Authentication is temporarily unavailable.",
    500: "Authentication is misconfigured.",
}

_log = logging.getLogger("cognito_verify")

# RFC 6749 s3.3 scope-token characters: anything else (a quote, a backslash, a space)
# could break out of the quoted challenge parameter, so such a scope is not named.
_SCOPE_CHARS = frozenset(chr(c) for c in range(0x21, 0x7F)) - {'"', "\\"}


def bearer_token(authorization: str | None) -> str:
    """The token from an ``Authorization: Bearer <token>`` header value.

    The scheme is case-insensitive (RFC 7235). Raises ``MissingTokenError`` when the
    header is absent, uses another scheme, or carries no token; ``MalformedTokenError``
    when the value cannot be one token (``Bearer Bearer ...``, quotes, spaces, two
    headers joined with a comma), with a message naming the mistake.
    """
    if not authorization:
        raise MissingTokenError("the request has no Authorization header")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise MissingTokenError("the Authorization header does not use the Bearer scheme")
    token = token.strip()
    if not token:
        raise MissingTokenError("the Authorization header has no bearer token")
    if " " in token or "," in token or "\t" in token or token[0] in "\"'":
        raise MalformedTokenError(_copy_paste_hint(token))
    return token


def _copy_paste_hint(token: str) -> str:
    # Only on the failure path: names the mistake, never any part of the token.
    if token[:7].lower() == "bearer ":
        return "the Authorization header says 'Bearer' twice: send 'Bearer <token>'"
    if token[0] in "\"'":
        return "the bearer token is wrapped in quotes: send it without them"
    if "," in token:
        # Servers join repeated headers with ", ": two Authorization headers look so.
        return "the Authorization header holds several values (two headers joined?)"
    return "the bearer token contains whitespace: send it as one word"


def single_header(values: Iterable[str]) -> str | None:
    """The one ``Authorization`` header of a request, or None when there is none.

    Raises ``MalformedTokenError`` for two or more: a proxy may have checked one while
    the app reads the other, so the request is refused rather than guessed.
    """
    found = list(values)
    if len(found) > 1:
        raise MalformedTokenError("the request has more than one Authorization header")
    return found[0] if found else None


#: Browsers cannot set headers on a WebSocket handshake; they can offer subprotocols.
#: A client sends ``Sec-WebSocket-Protocol: bearer.<token>, <real protocol>``.
WEBSOCKET_TOKEN_PREFIX = "bearer."


def websocket_bearer(authorization: str | None, subprotocols: Iterable[str] = ()) -> str:
    """The token of a WebSocket handshake: the ``Authorization`` header, else a
    ``bearer.<token>`` subprotocol.

    A query parameter is deliberately not supported: servers and proxies log URLs,
    and a token in an access log is a stolen session. Raises ``MissingTokenError``.
    """
    if authorization:
        return bearer_token(authorization)
    for protocol in subprotocols:
        if protocol[: len(WEBSOCKET_TOKEN_PREFIX)].lower() == WEBSOCKET_TOKEN_PREFIX:
            token = protocol[len(WEBSOCKET_TOKEN_PREFIX) :].strip()
            if token:
                return token
    raise MissingTokenError("the WebSocket handshake has no bearer token")


@dataclass(frozen=True)
class Refusal:
    """What to answer for a refused request: status, headers and a small JSON body."""

    status: int
    headers: dict[str, str]
    code: str

    @property
    def body(self) -> dict[str, str]:
        return {"error": self.code, "message": _DESCRIPTIONS.get(self.status, "")}

    @property
    def json(self) -> bytes:
        return json.dumps(self.body).encode("utf-8")


#: On every refusal: the answer depends on the Authorization header, so no shared
#: cache may store it and hand it to another caller (RFC 6750 s5.3 / RFC 9111).
NO_STORE = {"Cache-Control": "no-store"}


def scope_challenge(scopes: Iterable[str]) -> str:
    """``Bearer error="insufficient_scope", scope="a b"`` (RFC 6750 s3): the scopes
    that would have been accepted, space-separated; without ``scope`` when none can be
    named safely."""
    named = " ".join(s for s in scopes if s and _SCOPE_CHARS.issuperset(s))
    base = 'Bearer error="insufficient_scope"'
    return f'{base}, scope="{named}"' if named else base


def refusal(exc: CognitoVerifyError) -> Refusal:
    """Map an error of this library to its HTTP answer (see docs/errors.md).

    Every refusal carries ``Cache-Control: no-store``. A status 500 (a configuration
    error reached while answering a request) is logged at ERROR on the
    ``cognito_verify`` logger with its message; the client learns only the code.
    """
    if isinstance(exc, MissingTokenError):
        # RFC 6750 s3.1: a request with no credentials gets no error code.
        return Refusal(401, {"WWW-Authenticate": "Bearer", **NO_STORE}, exc.code)
    if isinstance(exc, InsufficientUserAuthenticationError):
        # RFC 9470 s3: the step-up challenge; the client signs the user in again
        # (e.g. with the hosted UI's max_age / prompt=login) and retries.
        challenge = (
            'Bearer error="insufficient_user_authentication", '
            'error_description="A more recent authentication is required"'
        )
        if exc.max_age is not None:
            challenge += f", max_age={int(exc.max_age)}"
        return Refusal(401, {"WWW-Authenticate": challenge, **NO_STORE}, exc.code)
    if isinstance(exc, InvalidTokenError):
        return Refusal(
            401, {"WWW-Authenticate": 'Bearer error="invalid_token"', **NO_STORE}, exc.code
        )
    if isinstance(exc, MissingScopeError):
        challenge = scope_challenge(getattr(exc, "scopes", ()))
        return Refusal(403, {"WWW-Authenticate": challenge, **NO_STORE}, exc.code)
    if isinstance(exc, ForbiddenError):
        return Refusal(403, dict(NO_STORE), exc.code)
    if isinstance(exc, JWKSError | RevocationCheckError):
        return Refusal(503, {"Retry-After": "5", **NO_STORE}, exc.code)
    _log.error("cognito_verify cannot answer the request (500): %s", exc.message)
    return Refusal(500, dict(NO_STORE), exc.code)


class ExcludedPaths:
    """The paths a middleware leaves alone (health checks): one rule for ASGI and WSGI.

    An entry ``"/health"`` matches that path, with or without a trailing slash; an
    entry ending in ``/`` (``"/static/"``) matches itself and every path below it.
    Request paths are normalised first (dot segments and repeated slashes collapsed),
    so ``"/health/../admin"`` is judged as ``"/admin"``: a router that collapses dot
    segments must not reach a protected view through an exclusion.

    Raises:
        TypeError: ``paths`` is one string rather than a list of paths.
        ValueError: an entry does not start with ``/``.
    """

    __slots__ = ("_exact", "_prefixes")

    def __init__(self, paths: Iterable[str]) -> None:
        if isinstance(paths, str | bytes):
            raise TypeError("exclude_paths must be a list of paths, not one string")
        entries = tuple(paths)
        for entry in entries:
            if not isinstance(entry, str) or not entry.startswith("/"):
                raise ValueError(f"exclude_paths entries must start with '/': {entry!r}")
        self._exact = frozenset(_normal(p) for p in entries if not p.endswith("/"))
        self._prefixes = tuple(_normal(p).rstrip("/") + "/" for p in entries if p.endswith("/"))

    def __bool__(self) -> bool:
        return bool(self._exact or self._prefixes)

    def __call__(self, path: str) -> bool:
        """True when ``path`` (the decoded request path) skips authentication."""
        if not self:
            return False
        path = _normal(path)
        return path in self._exact or (path.rstrip("/") + "/").startswith(self._prefixes)


def _normal(path: str) -> str:
    return posixpath.normpath("/" + path.lstrip("/"))


def json_default(value: Any) -> Any:
    """A JSON encoder's ``default`` hook for claims: ``Claims`` -> ``to_dict()``, the
    sets of ``groups`` / ``scopes`` -> sorted lists, nested read-only mappings ->
    dicts. Returns ``NotImplemented`` for anything else, so a caller can chain."""
    if isinstance(value, Claims):
        return value.to_dict()
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    if isinstance(value, Mapping):
        return dict(value)
    return NotImplemented


def optional_flag(optional: bool, require: bool | None) -> bool:
    """``optional=`` of a middleware, accepting the deprecated ``require=`` spelling.

    Raises:
        TypeError: both are given and disagree, or either is not a bool.
    """
    if not isinstance(optional, bool):
        raise TypeError(f"optional must be True or False, got {optional!r}")
    if require is None:
        return optional
    if not isinstance(require, bool):
        raise TypeError(f"require must be True or False, got {require!r}")
    warnings.warn(
        "require= is deprecated: write optional=True for require=False",
        DeprecationWarning,
        stacklevel=3,
    )
    if optional and require:
        raise TypeError("optional=True and require=True contradict each other")
    return not require
