"""Generic ASGI middleware for any ASGI app (Quart, Litestar, Django's ASGI, bare apps).

    from cognito_verify.integrations.asgi import CognitoASGIMiddleware

    app = CognitoASGIMiddleware(app, verifier, exclude_paths=("/health",))

Verified claims go in ``scope["cognito.claims"]`` (and ``scope["state"]["cognito_claims"]``
when the server provides a state dict, so Starlette's ``request.state.cognito_claims``
works). The middleware answers refusals itself. It imports no framework.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping, Sequence
from typing import Any

from ..alb import AlbVerifier
from ..errors import CognitoVerifyError, MissingTokenError
from ..verifier import CognitoVerifier
from ._http import (
    Authenticator,
    ExcludedPaths,
    Refusal,
    TokenSource,
    optional_flag,
    refusal,
    requirements,
    single_header,
    websocket_bearer,
)

__all__ = ["CognitoASGIMiddleware", "CLAIMS_KEY", "ALB_CLAIMS_KEY"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Names = str | Sequence[str] | None

CLAIMS_KEY = "cognito.claims"
ALB_CLAIMS_KEY = "cognito.alb_claims"


class CognitoASGIMiddleware:
    """Verify the bearer token of every HTTP request and WebSocket handshake.

    Args:
        app: the ASGI app to protect.
        verifier: the ``CognitoVerifier`` that checks every token (``averify``).
        exclude_paths: paths left alone (health checks), matched as ``ExcludedPaths``
            (``"/health"`` also matches ``"/health/"``; an entry ending in ``/``
            matches every path under it; a path with ``.``, ``..`` or ``//`` segments is
            never excluded).
        optional: ``False`` (the default) refuses anonymous requests with 401;
            ``True`` lets them through with ``scope["cognito.claims"] = None``. A
            token that is present but bad is refused either way. (``require=False``
            is its deprecated old spelling.)
        groups / all_groups / scopes / all_scopes: requirements for every request
            (403 when unmet), on top of the verifier's own.
        token_source: where requests carry the token: ``TokenSource.bearer()``
            (default; a WebSocket may also offer a ``bearer.<token>`` subprotocol),
            ``.header(name)``, ``.cookie(name)``, or a list tried in order.
        alb: an ``AlbVerifier``: ``x-amzn-oidc-data`` is required too and its claims
            go in ``scope["cognito.alb_claims"]``; ``verifier`` may then be None.
        max_auth_age: seconds since sign-in allowed for every request (401 with the
            RFC 9470 step-up challenge when older).

    HTTP refusals are JSON with the status and ``WWW-Authenticate`` of docs/errors.md.
    A WebSocket handshake is refused with the same HTTP answer when the server offers
    the ``websocket.http.response`` extension, else closed with 1008. ``lifespan``
    and other scope types pass through untouched.
    """

    def __init__(
        self,
        app: ASGIApp,
        verifier: CognitoVerifier | None,
        *,
        token_source: TokenSource | Sequence[TokenSource] | None = None,
        alb: AlbVerifier | None = None,
        exclude_paths: Iterable[str] = (),
        optional: bool = False,
        groups: Names = None,
        all_groups: Names = None,
        scopes: Names = None,
        all_scopes: Names = None,
        max_auth_age: float | None = None,
        require: bool | None = None,
    ) -> None:
        if not isinstance(verifier, CognitoVerifier) and alb is None:
            raise TypeError("CognitoASGIMiddleware needs a CognitoVerifier")
        self._auth = Authenticator(verifier, alb=alb, token_source=token_source)
        # The subprotocol fallback exists for the default source only: it is how a
        # browser sends a bearer token on a WebSocket handshake.
        self._ws_bearer = token_source is None and alb is None
        self.app = app
        self.verifier = verifier
        self.optional = optional_flag(optional, require)
        self._excluded = ExcludedPaths(exclude_paths)
        # fail now, not per request
        self._needs = requirements(groups, all_groups, scopes, all_scopes, max_auth_age)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket") or self._excluded(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        try:
            if kind == "websocket" and self._ws_bearer:
                alb_claims = None
                try:
                    authorization = _header(scope, b"authorization")
                    token = websocket_bearer(authorization, scope.get("subprotocols", ()))
                except MissingTokenError:
                    if not self.optional:
                        raise
                    claims = None
                else:
                    assert self.verifier is not None
                    claims = await self.verifier.averify(token, **self._needs)
            else:
                # A WebSocket handshake is a GET a cross-site page can start with the
                # user's cookies: the cookie CSRF rule treats it as unsafe.
                method = "WEBSOCKET" if kind == "websocket" else scope.get("method", "GET")
                claims, alb_claims = await self._auth.aauthenticate(
                    method,
                    lambda name: _values(scope, name),
                    optional=self.optional,
                    **self._needs,
                )
        except CognitoVerifyError as exc:
            await _refuse(scope, send, refusal(exc))
            return
        scope = dict(scope)  # our key must not leak into a scope the server reuses
        scope[CLAIMS_KEY] = claims
        scope[ALB_CLAIMS_KEY] = alb_claims
        state = scope.get("state")
        if isinstance(state, MutableMapping):
            state["cognito_claims"] = claims
            state["alb_claims"] = alb_claims
        await self.app(scope, receive, send)


def _values(scope: Scope, name: str) -> list[str]:
    key = name.encode("latin-1")
    return [v.decode("latin-1") for k, v in scope.get("headers", ()) if k.lower() == key]


def _header(scope: Scope, name: bytes) -> str | None:
    return single_header(_values(scope, name.decode("latin-1")))


async def _refuse(scope: Scope, send: Send, answer: Refusal) -> None:
    body = answer.json
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    headers += [
        (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in answer.headers.items()
    ]
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
    elif "websocket.http.response" in scope.get("extensions", {}):
        # The denial-response extension lets a handshake get the real 401/403/503.
        await send(
            {"type": "websocket.http.response.start", "status": answer.status, "headers": headers}
        )
        await send({"type": "websocket.http.response.body", "body": body})
    else:
        await send({"type": "websocket.close", "code": 1008, "reason": answer.code})
