"""HTTP semantics shared by every adapter: finding the token, and answering refusals.

No framework is imported here; adapters turn ``Refusal`` into their own response type.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

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


def bearer_token(authorization: str | None) -> str:
    """The token from an ``Authorization: Bearer <token>`` header value.

    The scheme is case-insensitive (RFC 7235). Raises ``MissingTokenError`` when the
    header is absent, uses another scheme, or carries no token.
    """
    if not authorization:
        raise MissingTokenError("the request has no Authorization header")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise MissingTokenError("the Authorization header does not use the Bearer scheme")
    token = token.strip()
    if not token:
        raise MissingTokenError("the Authorization header has no bearer token")
    return token


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


def refusal(exc: CognitoVerifyError) -> Refusal:
    """Map an error of this library to its HTTP answer (see docs/errors.md)."""
    if isinstance(exc, MissingTokenError):
        # RFC 6750 s3.1: a request with no credentials gets no error code.
        return Refusal(401, {"WWW-Authenticate": "Bearer"}, exc.code)
    if isinstance(exc, InsufficientUserAuthenticationError):
        # RFC 9470 s3: the step-up challenge; the client signs the user in again
        # (e.g. with the hosted UI's max_age / prompt=login) and retries.
        challenge = (
            'Bearer error="insufficient_user_authentication", '
            'error_description="A more recent authentication is required"'
        )
        if exc.max_age is not None:
            challenge += f", max_age={int(exc.max_age)}"
        return Refusal(401, {"WWW-Authenticate": challenge}, exc.code)
    if isinstance(exc, InvalidTokenError):
        return Refusal(401, {"WWW-Authenticate": 'Bearer error="invalid_token"'}, exc.code)
    if isinstance(exc, MissingScopeError):
        return Refusal(403, {"WWW-Authenticate": 'Bearer error="insufficient_scope"'}, exc.code)
    if isinstance(exc, ForbiddenError):
        return Refusal(403, {}, exc.code)
    if isinstance(exc, JWKSError | RevocationCheckError):
        return Refusal(503, {"Retry-After": "5"}, exc.code)
    return Refusal(500, {}, exc.code)
