"""MCP servers (the ``mcp`` SDK): Cognito access tokens for an OAuth-protected MCP server.

    from mcp.server.auth.settings import AuthSettings
    from mcp.server.mcpserver import MCPServer
    from cognito_verify import CognitoVerifier
    from cognito_verify.integrations.mcp import CognitoTokenVerifier, CognitoMCPMiddleware

    tokens = CognitoTokenVerifier(
        CognitoVerifier("eu-west-1_AbCdEf123", client_id="...", token_use="access")
    )
    server = MCPServer(
        "orders",
        token_verifier=tokens,
        auth=AuthSettings(
            issuer_url="https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123",
            resource_server_url="https://mcp.example.com/mcp",
            required_scopes=["orders-api/orders.read"],  # every call: 403 without it
            validate_token_resource=False,  # Cognito access tokens have no aud: see below
        ),
    )

    @server.tool()
    @tokens.required(groups="admin", scopes="orders-api/orders.write")  # this tool only
    async def cancel_order(order_id: str) -> str: ...

    app = server.streamable_http_app()
    app.add_middleware(CognitoMCPMiddleware)  # 503, not 500, while keys cannot be had

The SDK answers the refusals itself: 401 with ``WWW-Authenticate: Bearer
error="invalid_token", ..., resource_metadata="<RFC 9728 URL>"`` for a missing or
refused token and 403 ``insufficient_scope`` for a missing server-wide scope. A tool's
own requirements refuse with the SDK's ``ToolError`` (a tool result with
``isError: true``), as a tool call has no HTTP status of its own.

Cognito access tokens carry ``client_id`` and no ``aud``: the verifier's ``client_id``
check (the app client made for this server) is what binds a token to this resource,
so the SDK's resource check is turned off, or fed ``resource=`` (see
``CognitoTokenVerifier``). Requires ``pip install cognito-verify[mcp]``.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import ConfigDict, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..claims import Claims
from ..errors import (
    CognitoVerifyError,
    ForbiddenError,
    InvalidTokenError,
    JWKSError,
    MissingTokenError,
    RevocationCheckError,
)
from ..verifier import CognitoVerifier
from ._http import refusal, requirements

__all__ = [
    "CognitoAccessToken",
    "CognitoMCPMiddleware",
    "CognitoTokenVerifier",
    "current_claims",
]

Names = str | Sequence[str] | None
F = TypeVar("F", bound=Callable[..., Any])

logger = logging.getLogger(__name__)


class CognitoAccessToken(AccessToken):
    """The SDK's ``AccessToken`` for a verified Cognito access token.

    ``client_id`` is the token's ``client_id`` (the app client), ``scopes`` its
    ``scope`` claim split on spaces (sorted), ``expires_at`` its ``exp`` (Unix time,
    whole seconds), ``subject`` its ``sub`` (a user, or the app client itself for a
    client-credentials token), ``claims`` the whole payload (``iss``, ``username``,
    ``cognito:groups``, ...) and ``cognito_claims`` the verified ``Claims``.
    The SDK identifies a session's principal by (client_id, ``iss``, subject), so two
    users of one app client never share an MCP session.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    # Kept out of repr: an access token in a log line is a stolen session.
    token: str = Field(repr=False)
    claims: dict[str, Any] | None = Field(default=None, repr=False)
    cognito_claims: Claims = Field(exclude=True, repr=False)


def _access_token_fields(claims: Claims, token: str, resource: str | None) -> dict[str, Any]:
    """The ``AccessToken`` fields for verified access-token claims (shared with fastmcp)."""
    return dict(
        token=token,
        client_id=claims.client_id,
        scopes=sorted(claims.scopes),
        expires_at=int(claims.expires_at),
        subject=claims.sub,
        resource=resource,
        claims=claims.to_dict(),
        cognito_claims=claims,
    )


async def _accepted(verifier: CognitoVerifier, token: str) -> Claims | None:
    """The claims of an accepted access token, else None; raises ``JWKSError`` and
    ``RevocationCheckError`` (outages, not bad tokens)."""
    try:
        claims = await verifier.averify(token)
    except (InvalidTokenError, ForbiddenError) as exc:
        # The SDK's protocol has no 403 here: a token refused by the verifier's own
        # requirements is "not accepted" (401). Per-tool needs go in required().
        logger.info("MCP bearer token refused: %s", exc.code)
        return None
    if claims.client_id is None:
        # Only an ID token lacks client_id; the SDK needs one to tell principals apart.
        logger.info("MCP bearer token refused: not an access token")
        return None
    return claims


class CognitoTokenVerifier:
    """The SDK's ``TokenVerifier`` (``MCPServer(token_verifier=...)``) for Cognito.

    Args:
        verifier: checks every token (``averify``); configure it with
            ``token_use="access"`` and the app client id(s) of this server's clients.
        resource: this server's URL as in ``AuthSettings.resource_server_url``. When
            given, every accepted token is reported as issued for it
            (``AccessToken.resource``), so ``validate_token_resource=True`` can stay on:
            Cognito access tokens name no audience, and the app client check stands in
            for it. Only give it when the configured app clients are used for this
            server alone.

    ``verify_token`` returns ``None`` for a token that is not accepted (the SDK then
    answers 401 with its challenge; the library error code is logged at INFO, never the
    token) and raises ``JWKSError`` when the pool's keys cannot be fetched and none are
    cached (see ``CognitoMCPMiddleware``).
    """

    def __init__(self, verifier: CognitoVerifier, *, resource: str | None = None) -> None:
        if not isinstance(verifier, CognitoVerifier):
            raise TypeError("CognitoTokenVerifier needs a CognitoVerifier")
        self.verifier = verifier
        self.resource = resource

    async def verify_token(self, token: str) -> CognitoAccessToken | None:
        """The ``AccessToken`` for an accepted token, else ``None``.

        Raises:
            JWKSError: the pool's keys are unavailable (a 503, not the caller's fault).
            RevocationCheckError: the verifier's ``is_revoked`` hook failed (a 503).
        """
        claims = await _accepted(self.verifier, token)
        if claims is None:
            return None
        return CognitoAccessToken(**_access_token_fields(claims, token, self.resource))

    def required(
        self,
        *,
        groups: Names = None,
        all_groups: Names = None,
        scopes: Names = None,
        all_scopes: Names = None,
        max_auth_age: float | None = None,
    ) -> Callable[[F], F]:
        """Decorate a tool (sync or async; put it under ``@server.tool()``) to need these
        groups / scopes on top of the server's.

        ``groups`` / ``scopes``: at least one of them; ``all_groups`` / ``all_scopes``:
        every one; ``max_auth_age``: seconds since the user signed in. A caller lacking
        them gets ``ToolError("<code>: ...")``, which the SDK returns as a tool result
        with ``isError: true`` (the code is ``missing_group``, ``insufficient_scope``,
        ``insufficient_user_authentication`` or ``missing_token``). An async tool
        awaits the verifier's rules (its ``custom_check`` may be async).

        Raises:
            TypeError: at decoration time, for requirement values of the wrong type.
        """
        verifier = self.verifier
        # Fail at import, not per call.
        needs = requirements(groups, all_groups, scopes, all_scopes, max_auth_age)

        def caller() -> Claims:
            claims = current_claims()
            if claims is None:
                raise _tool_error(MissingTokenError("the request has no verified access token"))
            return claims

        def check() -> None:
            try:
                verifier.authorize(caller(), **needs)
            except CognitoVerifyError as exc:
                raise _tool_error(exc) from None

        async def acheck() -> None:
            try:
                await verifier.aauthorize(caller(), **needs)
            except CognitoVerifyError as exc:
                raise _tool_error(exc) from None

        def decorator(func: F) -> F:
            if inspect.iscoroutinefunction(func):

                @functools.wraps(func)
                async def async_tool(*args: Any, **kwargs: Any) -> Any:
                    await acheck()
                    return await func(*args, **kwargs)

                return async_tool  # type: ignore[return-value]

            @functools.wraps(func)
            def tool(*args: Any, **kwargs: Any) -> Any:
                check()
                return func(*args, **kwargs)

            return tool  # type: ignore[return-value]

        return decorator


def _tool_error(error: CognitoVerifyError) -> ToolError:
    answer = refusal(error)
    # Only the code and the fixed text: the library message may name configuration.
    return ToolError(f"{answer.code}: {answer.body['message']}")


def current_claims() -> Claims | None:
    """The verified ``Claims`` of the request being served (inside a tool, resource or
    prompt), or ``None`` when it was not authenticated by a ``CognitoTokenVerifier``."""
    claims = getattr(get_access_token(), "cognito_claims", None)
    return claims if isinstance(claims, Claims) else None


class CognitoMCPMiddleware:
    """ASGI middleware for the SDK's Starlette app: ``app.add_middleware(...)``.

    It adds what the SDK's bearer middleware leaves out:

    * ``JWKSError`` (keys cannot be fetched, none cached) and ``RevocationCheckError``
      (the verifier's ``is_revoked`` hook failed) are answered with our 503
      (``Retry-After``, ``Cache-Control: no-store``, ``{"error", "message"}``) instead
      of a 500. Other exceptions pass through untouched.
    * A request with more than one ``Authorization`` header is ambiguous (the SDK reads
      only the first; a proxy may have checked another): every one is removed, so the
      SDK refuses the request as unauthenticated, with its 401 and
      ``resource_metadata`` challenge, as every other adapter of this library refuses
      such a request.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = scope.get("headers") or ()
        if sum(1 for name, _ in headers if name.lower() == b"authorization") > 1:
            logger.info("refused: the request has more than one Authorization header")
            kept = [(name, value) for name, value in headers if name.lower() != b"authorization"]
            scope = {**scope, "headers": kept}
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except (JWKSError, RevocationCheckError) as exc:
            if started:
                raise
            answer = refusal(exc)
            headers = {**answer.headers, "Cache-Control": "no-store"}
            body = answer.json
            await send(
                {
                    "type": "http.response.start",
                    "status": answer.status,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                        *((k.lower().encode(), v.encode()) for k, v in headers.items()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
