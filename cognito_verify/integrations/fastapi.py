"""FastAPI: a dependency that verifies the bearer token and returns its ``Claims``.

    from typing import Annotated
    from fastapi import Depends, FastAPI
    from cognito_verify import Claims, CognitoVerifier
    from cognito_verify.integrations.fastapi import CognitoAuth

    auth = CognitoAuth(CognitoVerifier("eu-west-1_AbCdEf123", client_id="...", token_use="access"))
    app = FastAPI()

    @app.get("/me")
    async def me(claims: Annotated[Claims, Depends(auth)]) -> dict[str, str | None]:
        return {"username": claims.username}

    @app.delete("/orders/{id}", dependencies=[Depends(auth.required(groups="admin"))])
    async def delete_order(id: int) -> None: ...

    @dataclass
    class Caller:
        sub: str
        custom_tenant_id: str  # from the claim "custom:tenant_id"

    Recent = Depends(auth.as_model(Caller, max_auth_age=300))  # signed in <= 5 min ago

    @app.post("/payouts")
    async def payout(caller: Annotated[Caller, Recent]) -> None: ...

Each dependency is also an HTTP Bearer security scheme, so ``/docs`` shows an
"Authorize" button and ``openapi.json`` lists the scheme. Refusals are raised as
``CognitoHTTPException`` (an ``HTTPException``) on HTTP routes and as
``WebSocketException(1008)`` on WebSocket routes, so the usual exception handlers
customise them (see docs/fastapi.md).
"""

# No ``from __future__ import annotations`` here: FastAPI reads the annotations of
# the dependencies' ``__call__`` at runtime to find the ``HTTPConnection`` parameter.

import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Generic, TypeVar

from fastapi import HTTPException, WebSocketException, status
from fastapi.openapi.models import APIKey, APIKeyIn
from fastapi.openapi.models import HTTPBearer as HTTPBearerModel
from fastapi.security.base import SecurityBase
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse

from ..alb import AlbVerifier
from ..claims import Claims
from ..errors import CognitoVerifyError, MissingTokenError
from ..verifier import CognitoVerifier
from ._http import (
    Authenticator,
    Refusal,
    TokenSource,
    refusal,
    single_header,
    websocket_bearer,
)

__all__ = ["CognitoAuth", "CognitoHTTPException", "cognito_exception_handler"]

Names = str | Sequence[str] | None
M = TypeVar("M")


class CognitoHTTPException(HTTPException):
    """A refused request: status, ``WWW-Authenticate`` and a short ``detail``.

    ``detail`` is ``{"error": <code>, "message": <fixed text>}``; FastAPI's default
    handler answers ``{"detail": {...}}``. ``error`` is the library error (for
    logging or metrics: its message is for you, never for the client).
    """

    def __init__(self, error: CognitoVerifyError) -> None:
        self.error = error
        self.refusal: Refusal = refusal(error)
        super().__init__(
            status_code=self.refusal.status,
            detail=self.refusal.body,
            headers=self.refusal.headers or None,
        )

    @property
    def code(self) -> str:
        return self.refusal.code


def cognito_exception_handler(request: Any, exc: Exception) -> JSONResponse:
    """An exception handler answering the flat ``{"error": ..., "message": ...}`` body
    the other adapters use: ``app.add_exception_handler(CognitoHTTPException, it)``."""
    if not isinstance(exc, CognitoHTTPException):  # pragma: no cover - registered for it only
        raise exc
    return JSONResponse(exc.refusal.body, status_code=exc.status_code, headers=exc.headers)


class _Dependency(SecurityBase):
    """Verifies the request's token with ``averify``; one instance per requirement set."""

    model: HTTPBearerModel | APIKey

    def __init__(
        self,
        verifier: CognitoVerifier | None,
        model: HTTPBearerModel | APIKey,
        scheme_name: str,
        *,
        authenticator: Authenticator | None = None,
        optional: bool = False,
        groups: Names = None,
        all_groups: Names = None,
        scopes: Names = None,
        all_scopes: Names = None,
        max_auth_age: float | None = None,
    ) -> None:
        if not isinstance(verifier, CognitoVerifier) and authenticator is None:
            raise TypeError("CognitoAuth needs a CognitoVerifier")
        self.verifier = verifier
        self._auth = authenticator or Authenticator(verifier)
        # The subprotocol fallback belongs to the default bearer source only.
        self._ws_bearer = self._auth.alb is None and self._auth.sources == (TokenSource.bearer(),)
        self.model = model
        self.scheme_name = scheme_name
        self._optional = optional
        self._requirements: dict[str, Any] = {
            "groups": groups,
            "all_groups": all_groups,
            "scopes": scopes,
            "all_scopes": all_scopes,
            "max_auth_age": max_auth_age,
        }

    async def _claims(self, conn: HTTPConnection) -> Claims | None:
        websocket = conn.scope["type"] == "websocket"
        try:
            if websocket and self._ws_bearer:
                try:
                    authorization = single_header(conn.headers.getlist("authorization"))
                    token = websocket_bearer(authorization, conn.scope.get("subprotocols", ()))
                except MissingTokenError:
                    if self._optional:
                        return None
                    raise
                assert self.verifier is not None
                return await self.verifier.averify(token, **self._requirements)
            # An optional route still refuses a bad token: sending garbage is not
            # anonymity, and silently downgrading would hide an expired session.
            claims, alb_claims = await self._auth.aauthenticate(
                "WEBSOCKET" if websocket else conn.scope.get("method", "GET"),
                conn.headers.getlist,
                optional=self._optional,
                **self._requirements,
            )
            conn.state.alb_claims = alb_claims
            return claims
        except CognitoVerifyError as exc:
            if websocket:
                # FastAPI's convention for WebSockets; before accept() the server
                # turns the close into a refused handshake.
                raise WebSocketException(
                    code=status.WS_1008_POLICY_VIOLATION, reason=refusal(exc).code
                ) from None
            # ``from None``: the library error (with its message) stays off the
            # response and out of tracebacks rendered by debug pages.
            raise CognitoHTTPException(exc) from None


class _Required(_Dependency):
    async def __call__(self, conn: HTTPConnection) -> Claims:
        claims = await self._claims(conn)
        assert claims is not None  # not optional: _claims raised instead
        return claims


class _Optional(_Dependency):
    async def __call__(self, conn: HTTPConnection) -> Claims | None:
        return await self._claims(conn)


class _Modeled(_Dependency, Generic[M]):
    """Returns the verified claims as the application's dataclass or pydantic model."""

    def __init__(
        self,
        verifier: CognitoVerifier | None,
        model: HTTPBearerModel | APIKey,
        scheme_name: str,
        claims_model: type[M],
        aliases: Mapping[str, str] | None,
        **requirements: Any,
    ) -> None:
        super().__init__(verifier, model, scheme_name, **requirements)
        self._model = claims_model
        self._aliases = aliases

    async def __call__(self, conn: HTTPConnection) -> M:
        claims = await self._claims(conn)
        assert claims is not None  # not optional: _claims raised instead
        try:
            return claims.to_model(self._model, aliases=self._aliases)
        except CognitoVerifyError as exc:  # ClaimsModelError: 500, logged by to_model
            raise CognitoHTTPException(exc) from None


class CognitoAuth(_Required):
    """``Depends(auth)`` returns the verified ``Claims`` or refuses the request.

    Args:
        verifier: the ``CognitoVerifier`` that checks every token (``averify``).
        scheme_name: the security scheme's name in ``openapi.json``.
        description: shown next to the "Authorize" button in ``/docs``.
        token_source: where requests carry the token: ``TokenSource.bearer()``
            (default), ``.header(name)``, ``.cookie(name)``, or a list tried in order
            (``openapi.json`` describes the first).
        alb: an ``AlbVerifier``: ``x-amzn-oidc-data`` is required too, its claims in
            ``request.state.alb_claims``; ``verifier`` may then be None (the
            dependency then returns the load balancer's claims).

    Refusals: no token 401 (``WWW-Authenticate: Bearer``), bad token 401
    (``error="invalid_token"``), missing group or scope 403, keys unavailable 503.
    """

    def __init__(
        self,
        verifier: CognitoVerifier | None,
        *,
        scheme_name: str = "CognitoBearer",
        description: str | None = "An Amazon Cognito access or ID token.",
        token_source: TokenSource | Sequence[TokenSource] | None = None,
        alb: AlbVerifier | None = None,
    ) -> None:
        authenticator = Authenticator(verifier, alb=alb, token_source=token_source)
        first = authenticator.sources[0]
        model: HTTPBearerModel | APIKey
        if alb is not None and verifier is None:
            model = APIKey.model_validate(
                {"in": APIKeyIn.header, "name": "x-amzn-oidc-data", "description": description}
            )
        elif first.kind == "bearer":
            model = HTTPBearerModel(bearerFormat="JWT", description=description)
        else:
            where = APIKeyIn.cookie if first.kind == "cookie" else APIKeyIn.header
            model = APIKey.model_validate(
                {"in": where, "name": first.name, "description": description}
            )
        super().__init__(verifier, model, scheme_name, authenticator=authenticator)
        self.optional: _Optional = _Optional(
            verifier, self.model, scheme_name, authenticator=authenticator, optional=True
        )
        """``Depends(auth.optional)``: the claims, or ``None`` when there is no token."""

    def required(
        self,
        *,
        groups: Names = None,
        all_groups: Names = None,
        scopes: Names = None,
        all_scopes: Names = None,
        max_auth_age: float | None = None,
        optional: bool = False,
    ) -> _Dependency:
        """A dependency with extra requirements for one route (403 when unmet).

        ``groups`` / ``scopes``: at least one of them; ``all_groups`` /
        ``all_scopes``: every one of them. Added to the verifier's own requirements.
        ``max_auth_age``: seconds since the user signed in; older sign-ins get 401
        with the RFC 9470 challenge (``error="insufficient_user_authentication"``).
        With ``optional=True`` a request without a token gets ``None`` (a bad token,
        or one lacking the requirements, is still refused).

        Raises:
            TypeError: a requirement is not a string or a list of strings.
        """
        # Validate now, at import time of the app, not on the first request.
        CognitoVerifier._extra(groups, all_groups, scopes, all_scopes, max_auth_age)
        if not isinstance(optional, bool):
            raise TypeError(f"optional must be True or False, got {optional!r}")
        kind = _Optional if optional else _Required
        return kind(
            self.verifier,
            self.model,
            self.scheme_name,
            authenticator=self._auth,
            optional=optional,
            groups=groups,
            all_groups=all_groups,
            scopes=scopes,
            all_scopes=all_scopes,
            max_auth_age=max_auth_age,
        )

    def require(
        self,
        *,
        groups: Names = None,
        all_groups: Names = None,
        scopes: Names = None,
        all_scopes: Names = None,
        max_auth_age: float | None = None,
    ) -> _Dependency:
        """Deprecated spelling of ``required``."""
        warnings.warn(
            "auth.require(...) is deprecated: write auth.required(...)",
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

    def as_model(
        self,
        claims_model: type[M],
        *,
        aliases: Mapping[str, str] | None = None,
        groups: Names = None,
        all_groups: Names = None,
        scopes: Names = None,
        all_scopes: Names = None,
        max_auth_age: float | None = None,
    ) -> _Modeled[M]:
        """A dependency returning the verified claims as ``claims_model`` (a dataclass
        or pydantic model): ``caller: Annotated[Caller, Depends(auth.as_model(Caller))]``.

        Requirements as in :meth:`required`; ``aliases`` maps field names to claim
        names (see ``Claims.to_model``). Claims that do not fit the model answer 500
        (``claims_model_mismatch``): the model, not the caller, needs fixing.
        """
        CognitoVerifier._extra(groups, all_groups, scopes, all_scopes, max_auth_age)
        return _Modeled(
            self.verifier,
            self.model,
            self.scheme_name,
            claims_model,
            aliases,
            authenticator=self._auth,
            groups=groups,
            all_groups=all_groups,
            scopes=scopes,
            all_scopes=all_scopes,
            max_auth_age=max_auth_age,
        )
