"""Litestar: an authentication middleware, guards, and the OpenAPI bearer scheme.

    from litestar import Litestar, Request, get
    from cognito_verify import Claims, CognitoVerifier
    from cognito_verify.integrations.litestar import CognitoAuth

    auth = CognitoAuth(
        verifier=CognitoVerifier("eu-west-1_AbCdEf123", client_id="...", token_use="access"),
        exclude=["/health", "/schema"],
    )

    @get("/me")
    async def me(request: Request[Claims, Claims, Any]) -> dict[str, str | None]:
        return {"username": request.auth.username}

    @get("/admin", guards=[auth.required(groups="admin")])   # 403 without the group
    async def admin() -> None: ...

    @get("/hello", cognito_optional=True)   # anonymous allowed; a bad token is still 401
    async def hello(request: Request[Claims | None, Claims | None, Any]) -> str: ...

    app = Litestar([me, admin, hello], on_app_init=[auth.on_app_init])

``on_app_init`` adds the middleware, the OpenAPI ``http``/``bearer`` security scheme
(and a security requirement for every operation) and the exception handler that
answers refusals in this library's shape. A route leaves authentication with
Litestar's own ``exclude_from_auth=True`` opt key, an ``exclude`` path pattern
(matched from the start of the path, unlike Litestar's search anywhere), or an
excluded HTTP method (``OPTIONS`` by default).

``request.auth`` is the verified ``Claims``; ``request.user`` is what
``retrieve_user_handler(claims, connection)`` returns (the claims by default). The
claims are also at ``scope["cognito.claims"]``. Refusals are ``CognitoRefusal``, a
Litestar ``HTTPException`` (401, 403, 503) carrying ``WWW-Authenticate``,
``Retry-After`` and ``Cache-Control: no-store``. Requires
``pip install cognito-verify[litestar]``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from litestar import Request, Response
from litestar.config.app import AppConfig
from litestar.connection import ASGIConnection
from litestar.di import Provide
from litestar.enums import HttpMethod, ScopeType
from litestar.exceptions import HTTPException, WebSocketException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware.authentication import (
    AbstractAuthenticationMiddleware,
    AuthenticationResult,
)
from litestar.middleware.base import DefineMiddleware
from litestar.openapi.spec import Components, SecurityRequirement, SecurityScheme
from litestar.security.base import AbstractSecurityConfig
from litestar.types import (
    ASGIApp,
    ControllerRouterHandler,
    Guard,
    Method,
    Scopes,
    SyncOrAsyncUnion,
    TypeEncodersMap,
)

from ..claims import Claims
from ..errors import CognitoVerifyError, MissingTokenError
from ..verifier import CognitoVerifier
from ._http import (
    Refusal,
    bearer_token,
    refusal,
    requirements,
    single_header,
    websocket_bearer,
)
from .asgi import CLAIMS_KEY

__all__ = [
    "CLAIMS_SCOPE_KEY",
    "OPTIONAL_OPT_KEY",
    "CognitoAuth",
    "CognitoAuthenticationMiddleware",
    "CognitoRefusal",
    "CognitoWebSocketRefusal",
    "cognito_exception_handler",
]

#: The ASGI scope key holding the verified claims (the ASGI adapter's).
CLAIMS_SCOPE_KEY = CLAIMS_KEY
#: The route opt key that lets anonymous callers in (a token sent is still checked).
OPTIONAL_OPT_KEY = "cognito_optional"

Names = str | Sequence[str] | None
RetrieveUser = Callable[[Claims, ASGIConnection[Any, Any, Any, Any]], SyncOrAsyncUnion[Any]]


class CognitoRefusal(HTTPException):
    """A refused request, in Litestar's exception style.

    ``status_code`` is 401, 403, 503 (or 500 for a misconfiguration), ``headers``
    carry the challenge / ``Retry-After`` and ``Cache-Control: no-store``, ``detail``
    is a fixed text and ``extra`` is ``{"error": <code>}``; ``error`` is the library
    error (its message is for logs, never for the client). ``CognitoAuth`` registers
    ``cognito_exception_handler``, which answers ``{"error", "message"}`` as the other
    adapters do; without it Litestar's default handler answers
    ``{"status_code", "detail", "extra"}`` with the same status and headers.
    """

    def __init__(self, error: CognitoVerifyError) -> None:
        self.error = error
        self.refusal: Refusal = refusal(error)
        super().__init__(
            detail=self.refusal.body["message"],
            status_code=self.refusal.status,
            # Refusals depend on the Authorization header: no shared cache may reuse them.
            headers={**self.refusal.headers, "Cache-Control": "no-store"},
            extra={"error": self.refusal.code},
        )


class CognitoWebSocketRefusal(WebSocketException):
    """A refused WebSocket handshake: closed with ``4000 + status`` (4401, 4403, 4503),
    Litestar's convention, and the error code as the close reason."""

    def __init__(self, error: CognitoVerifyError) -> None:
        self.error = error
        self.refusal: Refusal = refusal(error)
        super().__init__(detail=self.refusal.code, code=4000 + self.refusal.status)


def _refused(
    connection: ASGIConnection[Any, Any, Any, Any], error: CognitoVerifyError
) -> CognitoRefusal | CognitoWebSocketRefusal:
    if connection.scope["type"] == ScopeType.WEBSOCKET:
        return CognitoWebSocketRefusal(error)
    return CognitoRefusal(error)


def cognito_exception_handler(
    request: Request[Any, Any, Any], exc: CognitoRefusal
) -> Response[Any]:
    """``exception_handlers={CognitoRefusal: cognito_exception_handler}``: our JSON body."""
    return Response(
        content=exc.refusal.body,
        status_code=exc.status_code,
        headers=exc.headers,
        media_type="application/json",
    )


def _claims_as_user(claims: Claims, connection: ASGIConnection[Any, Any, Any, Any]) -> Any:
    return claims


def _anchored(exclude: str | list[str] | None) -> list[str] | None:
    """``exclude`` patterns matched from the start of the path, at a segment boundary.

    Litestar searches its ``exclude`` regex anywhere in the path, so ``"/health"`` would
    also let ``/reports/health`` and ``/healthz`` through without a token. A pattern
    that does not start with ``^`` is made to match from the start of the path and to
    end where a segment ends (``"/health"``: ``/health`` and ``/health/...``;
    ``"/static/"``: everything under it); one starting with ``^`` is kept as written.
    """
    if exclude is None:
        return None
    patterns = [exclude] if isinstance(exclude, str) else list(exclude)
    out = []
    for pattern in patterns:
        if not pattern.startswith("^"):
            boundary = "" if pattern.endswith("/") else "(?=/|$)"
            pattern = f"^(?:{pattern}){boundary}"
        out.append(pattern)
    return out


class CognitoAuthenticationMiddleware(AbstractAuthenticationMiddleware):
    """Verifies the bearer token (``averify``) of every HTTP and WebSocket connection
    not excluded; use ``CognitoAuth`` rather than this class directly.

    A WebSocket handshake may carry the token as a ``bearer.<token>`` subprotocol
    (browsers cannot set headers there). Raises ``CognitoRefusal``.
    """

    def __init__(
        self,
        app: ASGIApp,
        verifier: CognitoVerifier,
        retrieve_user_handler: RetrieveUser = _claims_as_user,
        optional: bool = False,
        optional_opt_key: str = OPTIONAL_OPT_KEY,
        exclude: str | list[str] | None = None,
        exclude_from_auth_key: str = "exclude_from_auth",
        exclude_http_methods: Sequence[Method] | None = None,
        scopes: Scopes | None = None,
    ) -> None:
        super().__init__(
            app,
            exclude=_anchored(exclude),
            exclude_from_auth_key=exclude_from_auth_key,
            exclude_http_methods=exclude_http_methods,
            scopes=scopes,
        )
        self.verifier = verifier
        self.retrieve_user_handler = retrieve_user_handler
        self.optional = optional
        self.optional_opt_key = optional_opt_key

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        try:
            try:
                authorization = single_header(connection.headers.getall("authorization", []))
                if connection.scope["type"] == ScopeType.WEBSOCKET:
                    subprotocols: Any = connection.scope.get("subprotocols", ())
                    token = websocket_bearer(authorization, subprotocols)
                else:
                    token = bearer_token(authorization)
            except MissingTokenError:
                if self.optional or connection.route_handler.opt.get(self.optional_opt_key):
                    connection.scope[CLAIMS_SCOPE_KEY] = None  # type: ignore[literal-required]
                    return AuthenticationResult(user=None, auth=None)
                raise
            claims = await self.verifier.averify(token)
        except CognitoVerifyError as exc:
            raise _refused(connection, exc) from None
        connection.scope[CLAIMS_SCOPE_KEY] = claims  # type: ignore[literal-required]
        user = self.retrieve_user_handler(claims, connection)
        if inspect.isawaitable(user):
            user = await user
        return AuthenticationResult(user=user, auth=claims)


@dataclass
class CognitoAuth(AbstractSecurityConfig[Any, Claims]):
    """Litestar security config for Cognito bearer tokens (``on_app_init=[auth.on_app_init]``).

    Args:
        verifier: checks every token.
        retrieve_user_handler: ``(claims, connection) -> user`` (sync or async) for
            ``request.user``; the claims themselves by default.
        optional: let anonymous callers in on every route (routes can say it one by
            one with the ``cognito_optional=True`` opt key). A token that is sent is
            always verified: a bad one is 401 even here.
        exclude / exclude_opt_key / exclude_http_methods / scopes: Litestar's own
            exclusion settings for authentication middleware, except that an
            ``exclude`` pattern is matched from the start of the path up to a segment
            end (``"/health"`` is not ``/reports/health`` nor ``/healthz``; a pattern
            starting with ``^`` is kept as written). Only ``OPTIONS`` is excluded by
            default: a ``HEAD`` of a protected resource needs a token too.
        security_scheme_name / description: the OpenAPI ``http``/``bearer`` scheme.
    """

    verifier: CognitoVerifier
    retrieve_user_handler: RetrieveUser = _claims_as_user
    optional: bool = False
    optional_opt_key: str = OPTIONAL_OPT_KEY
    guards: Iterable[Guard] | None = None
    exclude: str | list[str] | None = None
    exclude_opt_key: str = "exclude_from_auth"
    exclude_http_methods: Sequence[Method] | None = field(
        default_factory=lambda: [HttpMethod.OPTIONS]
    )
    scopes: Scopes | None = None
    route_handlers: Iterable[ControllerRouterHandler] | None = None
    dependencies: dict[str, Provide] | None = None
    type_encoders: TypeEncodersMap | None = None
    security_scheme_name: str = "CognitoBearer"
    description: str = "An Amazon Cognito user pool access token: Authorization: Bearer <JWT>."
    authentication_middleware_class: type[AbstractAuthenticationMiddleware] = (
        CognitoAuthenticationMiddleware
    )

    def __post_init__(self) -> None:
        if not isinstance(self.verifier, CognitoVerifier):
            raise TypeError("CognitoAuth needs verifier=CognitoVerifier(...)")
        # Not wrapped by the base class: the handler may be sync or async, the
        # middleware awaits it only when it returns an awaitable.

    @property
    def middleware(self) -> DefineMiddleware:
        return DefineMiddleware(
            self.authentication_middleware_class,
            verifier=self.verifier,
            retrieve_user_handler=self.retrieve_user_handler,
            optional=self.optional,
            optional_opt_key=self.optional_opt_key,
            exclude=self.exclude,
            exclude_from_auth_key=self.exclude_opt_key,
            exclude_http_methods=self.exclude_http_methods,
            scopes=self.scopes,
        )

    @property
    def openapi_components(self) -> Components:
        return Components(
            security_schemes={
                self.security_scheme_name: SecurityScheme(
                    type="http",
                    scheme="bearer",
                    bearer_format="JWT",
                    description=self.description,
                )
            }
        )

    @property
    def security_requirement(self) -> SecurityRequirement:
        return {self.security_scheme_name: []}

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        """Add the middleware, OpenAPI scheme and ``CognitoRefusal`` handler to an app."""
        app_config = super().on_app_init(app_config)
        app_config.exception_handlers.setdefault(CognitoRefusal, cognito_exception_handler)
        return app_config

    def required(
        self,
        *,
        groups: Names = None,
        all_groups: Names = None,
        scopes: Names = None,
        all_scopes: Names = None,
        max_auth_age: float | None = None,
    ) -> Guard:
        """A guard (``guards=[auth.required(...)]``) needing these groups / scopes.

        ``groups`` / ``scopes``: at least one of them; ``all_groups`` / ``all_scopes``:
        every one, on top of the verifier's own; ``max_auth_age``: seconds since the
        user signed in. Anonymous (an optional route): 401; a missing group: 403; a
        missing scope: 403 ``insufficient_scope``; a sign-in too old: 401 with the
        RFC 9470 ``insufficient_user_authentication`` challenge. The guard is async and
        awaits the verifier's rules (its ``custom_check`` may be async).

        Raises:
            TypeError: at definition time, for requirement values of the wrong type.
        """
        verifier = self.verifier
        # Fail at import, not per call.
        needs = requirements(groups, all_groups, scopes, all_scopes, max_auth_age)

        async def guard(
            connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
        ) -> None:
            claims = connection.scope.get(CLAIMS_SCOPE_KEY)
            try:
                if not isinstance(claims, Claims):
                    raise MissingTokenError("the request is not authenticated")
                # The requirements are checked by the core, on the verified claims.
                await verifier.aauthorize(claims, **needs)
            except CognitoVerifyError as exc:
                raise _refused(connection, exc) from None

        return guard
