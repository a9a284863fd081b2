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

from ..errors import CognitoVerifyError, MissingTokenError
from ..verifier import CognitoVerifier
from ._http import Refusal, bearer_token, refusal, single_header, websocket_bearer

__all__ = ["CognitoASGIMiddleware", "CLAIMS_KEY"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Names = str | Sequence[str] | None

CLAIMS_KEY = "cognito.claims"


class CognitoASGIMiddleware:
    """Verify the bearer token of every HTTP request and WebSocket handshake.

    Args:
        app: the ASGI app to protect.
        verifier: the ``CognitoVerifier`` that checks every token (``averify``).
        exclude_paths: paths left alone (health checks): an entry matches that exact
            path, or, when it ends with ``/``, every path under it.
        require: ``True`` refuses anonymous requests with 401; ``False`` lets them
            through with ``scope["cognito.claims"] = None``. A token that is present
            but bad is refused either way.
        groups / all_groups / scopes / all_scopes: requirements for every request
            (403 when unmet), on top of the verifier's own.
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
        verifier: CognitoVerifier,
        *,
        exclude_paths: Iterable[str] = (),
        require: bool = True,
        groups: Names = None,
        all_groups: Names = None,
        scopes: Names = None,
        all_scopes: Names = None,
        max_auth_age: float | None = None,
    ) -> None:
        if not isinstance(verifier, CognitoVerifier):
            raise TypeError("CognitoASGIMiddleware needs a CognitoVerifier")
        if isinstance(exclude_paths, str):
            raise TypeError("exclude_paths must be a list of paths, not one string")
        self.app = app
        self.verifier = verifier
        self.require = require
        paths = tuple(exclude_paths)
        for path in paths:
            if not path.startswith("/"):
                raise ValueError(f"exclude_paths entries must start with '/': {path!r}")
        self._exact = frozenset(p for p in paths if not p.endswith("/"))
        self._prefixes = tuple(p for p in paths if p.endswith("/"))
        # fail now, not per request
        verifier._extra(groups, all_groups, scopes, all_scopes, max_auth_age)
        self._needs: dict[str, Any] = dict(
            groups=groups,
            all_groups=all_groups,
            scopes=scopes,
            all_scopes=all_scopes,
            max_auth_age=max_auth_age,
        )

    def _excluded(self, path: str) -> bool:
        # Matched on the decoded path the app routes on; a prefix entry ends with "/"
        # so "/health/" never exempts "/healthcare".
        return path in self._exact or path.startswith(self._prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket") or self._excluded(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        try:
            authorization = _header(scope, b"authorization")
            try:
                if kind == "websocket":
                    token = websocket_bearer(authorization, scope.get("subprotocols", ()))
                else:
                    token = bearer_token(authorization)
            except MissingTokenError:
                if self.require:
                    raise
                claims = None
            else:
                claims = await self.verifier.averify(token, **self._needs)
        except CognitoVerifyError as exc:
            await _refuse(scope, send, refusal(exc))
            return
        scope = dict(scope)  # our key must not leak into a scope the server reuses
        scope[CLAIMS_KEY] = claims
        state = scope.get("state")
        if isinstance(state, MutableMapping):
            state["cognito_claims"] = claims
        await self.app(scope, receive, send)


def _header(scope: Scope, name: bytes) -> str | None:
    values = (v.decode("latin-1") for k, v in scope.get("headers", ()) if k.lower() == name)
    return single_header(values)


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
