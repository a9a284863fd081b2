"""Starlette: an ``AuthenticationBackend`` so ``request.user`` and ``@requires`` work.

    from starlette.applications import Starlette
    from cognito_verify.integrations.starlette import CognitoAuthBackend

    backend = CognitoAuthBackend(verifier)
    app = Starlette(routes=[...], middleware=[backend.middleware()])

    @backend.required(groups="admin")         # 401 anonymous, 403 not in the group
    async def admin(request): ...

Starlette scopes given to a verified caller: ``"authenticated"``, every OAuth scope of
the token as it is (``"orders-api/orders.read"``; a scope that starts with ``"group:"``
or is ``"authenticated"`` is dropped), and ``"group:<name>"`` for every
``cognito:groups`` group. So ``@requires(["authenticated", "group:admin"])`` works too,
with Starlette's own answers (403 for everyone, anonymous included).
"""

from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    BaseUser,
)
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, Response
from starlette.websockets import WebSocket

from ..alb import AlbVerifier
from ..claims import Claims
from ..errors import (
    CognitoVerifyError,
    ConfigurationError,
    InvalidTokenError,
    MissingTokenError,
)
from ..verifier import CognitoVerifier
from ._http import (
    Authenticator,
    TokenSource,
    refusal,
    requirements,
    single_header,
    websocket_bearer,
)

__all__ = [
    "CognitoAuthBackend",
    "CognitoAuthenticationError",
    "CognitoUser",
    "GROUP_PREFIX",
    "on_error",
    "refusal_response",
]

GROUP_PREFIX = "group:"
Names = str | Sequence[str] | None
F = TypeVar("F", bound=Callable[..., Any])


class CognitoUser(BaseUser):
    """``request.user`` for a verified token; ``alb_claims`` holds the load balancer's
    ``x-amzn-oidc-data`` claims when the backend has an ``alb`` verifier."""

    def __init__(self, claims: Claims, alb_claims: Claims | None = None) -> None:
        self.claims = claims
        self.alb_claims = alb_claims

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def username(self) -> str | None:
        """The user's name; ``None`` for a machine (client-credentials) token."""
        return self.claims.username

    @property
    def display_name(self) -> str:
        return self.claims.username or self.claims.sub

    @property
    def identity(self) -> str:
        """``sub``: stable for a user, unlike the username."""
        return self.claims.sub

    def __repr__(self) -> str:
        return f"CognitoUser({self.claims!r})"


class CognitoAuthenticationError(AuthenticationError):
    """Raised by the backend; ``str()`` is only the error code, so Starlette's
    default ``on_error`` cannot echo the library message to the client."""

    def __init__(self, error: CognitoVerifyError) -> None:
        super().__init__(error.code)
        self.error = error


def refusal_response(error: CognitoVerifyError) -> Response:
    """Our JSON refusal (status, ``WWW-Authenticate``, ``{"error", "message"}``)."""
    answer = refusal(error)
    return JSONResponse(answer.body, status_code=answer.status, headers=answer.headers)


def on_error(conn: HTTPConnection, exc: Exception) -> Response:
    """``AuthenticationMiddleware(on_error=on_error)``: 401/403/503 with a JSON body."""
    if isinstance(exc, CognitoAuthenticationError):
        return refusal_response(exc.error)
    # Another backend's error: its text may say anything, so it is not echoed.
    return refusal_response(InvalidTokenError("authentication failed"))


class CognitoAuthBackend(AuthenticationBackend):
    """Verifies ``Authorization: Bearer`` (``averify``) for every HTTP and WebSocket
    connection. No token means anonymous (Starlette's convention); a bad token,
    unmet verifier requirements or unavailable keys raise ``CognitoAuthenticationError``.

    Args:
        verifier: the ``CognitoVerifier`` that checks every token.
        group_prefix: prefix of the Starlette scope made from a Cognito group.
        token_source: where requests carry the token: ``TokenSource.bearer()``
            (default), ``.header(name)``, ``.cookie(name)``, or a list tried in order.
        alb: an ``AlbVerifier``: ``x-amzn-oidc-data`` is required too
            (``request.user.alb_claims``); ``verifier`` may then be None.
    """

    def __init__(
        self,
        verifier: CognitoVerifier | None,
        *,
        group_prefix: str = GROUP_PREFIX,
        token_source: TokenSource | Sequence[TokenSource] | None = None,
        alb: AlbVerifier | None = None,
    ) -> None:
        if not isinstance(verifier, CognitoVerifier) and alb is None:
            raise TypeError("CognitoAuthBackend needs a CognitoVerifier")
        self.verifier = verifier
        self.group_prefix = group_prefix
        self._auth = Authenticator(verifier, alb=alb, token_source=token_source)
        self._ws_bearer = token_source is None and alb is None

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        websocket = conn.scope["type"] == "websocket"
        alb_claims = None
        try:
            if websocket and self._ws_bearer:
                try:
                    authorization = single_header(conn.headers.getlist("authorization"))
                    token = websocket_bearer(authorization, conn.scope.get("subprotocols", ()))
                except MissingTokenError:
                    return None
                assert self.verifier is not None
                claims: Claims | None = await self.verifier.averify(token)
            else:
                method = "WEBSOCKET" if websocket else conn.scope.get("method", "GET")
                claims, alb_claims = await self._auth.aauthenticate(
                    method, conn.headers.getlist, optional=True
                )
        except CognitoVerifyError as exc:
            raise CognitoAuthenticationError(exc) from None
        if claims is None:
            return None
        # Groups are prefixed so a group never passes for an OAuth scope of the same
        # name, and OAuth scopes shaped like our own names are dropped so a scope
        # literally called "group:admin" never passes for membership of "admin".
        oauth = [
            s
            for s in sorted(claims.scopes)
            if s != "authenticated" and not s.startswith(self.group_prefix)
        ]
        scopes = ["authenticated", *oauth, *(self.group_prefix + g for g in sorted(claims.groups))]
        return AuthCredentials(scopes), CognitoUser(claims, alb_claims)

    def middleware(self) -> Middleware:
        """``Starlette(middleware=[backend.middleware()])``, with our ``on_error``."""
        return Middleware(AuthenticationMiddleware, backend=self, on_error=on_error)

    def require(
        self,
        *,
        groups: Names = None,
        all_groups: Names = None,
        scopes: Names = None,
        all_scopes: Names = None,
        max_auth_age: float | None = None,
    ) -> Callable[[F], F]:
        """Deprecated spelling of ``required``."""
        warnings.warn(
            "backend.require(...) is deprecated: write backend.required(...)",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.required(
            groups=groups,
            all_groups=all_groups,
            scopes=scopes,
            all_scopes=all_scopes,
            max_auth_age=max_auth_age,
        )

    def required(
        self,
        *,
        groups: Names = None,
        all_groups: Names = None,
        scopes: Names = None,
        all_scopes: Names = None,
        max_auth_age: float | None = None,
        optional: bool = False,
    ) -> Callable[[F], F]:
        """Decorate an endpoint (function or ``HTTPEndpoint`` method, sync or async,
        HTTP or WebSocket) to need a verified caller with these groups / scopes.

        Unlike Starlette's ``@requires``: anonymous gets 401 with
        ``WWW-Authenticate: Bearer``, a missing group 403, a missing scope 403 with
        ``error="insufficient_scope", scope="..."``, all with our JSON body. A
        WebSocket is closed with 1008 (policy violation). ``max_auth_age``: seconds
        since sign-in (older: 401 with the RFC 9470 ``insufficient_user_authentication``
        challenge). With ``optional=True`` an anonymous caller reaches the endpoint
        (``request.user`` is unauthenticated); a verified one must still meet the
        requirements.

        Raises:
            TypeError: a requirement is not a string or a list of strings.
        """
        verifier = self.verifier
        # fail at import, not per call
        needs = requirements(groups, all_groups, scopes, all_scopes, max_auth_age)
        if not isinstance(optional, bool):
            raise TypeError(f"optional must be True or False, got {optional!r}")

        def caller(conn: HTTPConnection) -> CognitoUser | CognitoVerifyError | None:
            if "user" not in conn.scope:
                # A developer error, not a refusal: answering 401 would hide it.
                raise RuntimeError("@required needs the middleware: backend.middleware()")
            user = conn.scope["user"]
            if not isinstance(user, CognitoUser):
                return None if optional else MissingTokenError("the request is not authenticated")
            return user

        def check(conn: HTTPConnection) -> CognitoVerifyError | None:
            user = caller(conn)
            if user is None or isinstance(user, CognitoVerifyError):
                return user
            try:
                # The requirements are checked by the core, on the verified claims.
                if verifier is not None:
                    verifier.authorize(user.claims, **needs)
                else:
                    _authorize(user.claims, needs)
            except CognitoVerifyError as exc:
                return exc
            return None

        async def acheck(conn: HTTPConnection) -> CognitoVerifyError | None:
            user = caller(conn)
            if user is None or isinstance(user, CognitoVerifyError):
                return user
            try:
                # Awaited: the verifier's custom_check may be async.
                if verifier is not None:
                    await verifier.aauthorize(user.claims, **needs)
                else:
                    _authorize(user.claims, needs)
            except CognitoVerifyError as exc:
                return exc
            return None

        def decorator(func: F) -> F:
            if inspect.iscoroutinefunction(func):

                @functools.wraps(func)
                async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                    conn = _connection(args, kwargs)
                    error = await acheck(conn)
                    if error is None:
                        return await func(*args, **kwargs)
                    if isinstance(conn, WebSocket):
                        await conn.close(code=1008, reason=refusal(error).code)
                        return None
                    return refusal_response(error)

                return async_wrapper  # type: ignore[return-value]

            @functools.wraps(func)
            def sync_wrapper(*args: Any, **kwargs: Any) -> Any:
                error = check(_connection(args, kwargs))
                return func(*args, **kwargs) if error is None else refusal_response(error)

            return sync_wrapper  # type: ignore[return-value]

        return decorator


def _connection(args: tuple[Any, ...], kwargs: dict[str, Any]) -> HTTPConnection:
    for value in (*args, *kwargs.values()):
        if isinstance(value, HTTPConnection):
            return value
    raise TypeError("a @required endpoint must take the Request or WebSocket as an argument")


def _authorize(claims: Claims, needs: dict[str, Any]) -> None:
    # The load balancer alone: its claims are judged by the same group/scope rules.
    from .._token import Requirements, authorize

    if needs.get("max_auth_age") is not None:
        # Never silently skipped: the load balancer's claims carry no auth_time.
        raise ConfigurationError("max_auth_age needs a CognitoVerifier next to the AlbVerifier")
    authorize(claims.groups, claims.scopes, Requirements.build(**needs))
