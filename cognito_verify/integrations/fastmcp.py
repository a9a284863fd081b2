"""fastmcp: a token verifier on fastmcp's own ``TokenVerifier`` base, and auth checks.

    from fastmcp import FastMCP
    from fastmcp.server.auth import RemoteAuthProvider
    from cognito_verify.integrations.fastmcp import CognitoFastMCPVerifier

    tokens = CognitoFastMCPVerifier(verifier, required_scopes=["orders-api/orders.read"])
    mcp = FastMCP("orders", auth=RemoteAuthProvider(
        token_verifier=tokens,
        authorization_servers=["https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123"],
        base_url="https://mcp.example.com",
    ))

    @mcp.tool(auth=tokens.required(groups="support"))
    def cancel_order(order_id: str) -> str: ...

A separate module from ``integrations.mcp`` because fastmcp is a large install of its
own (about twenty packages on top of the ``mcp`` SDK). The mapping to the access token
is the same as ``integrations.mcp.CognitoAccessToken``'s; see docs/mcp.md. Requires
``pip install cognito-verify[fastmcp]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastmcp.server.auth import AccessToken, AuthCheck, AuthContext, TokenVerificationError
from fastmcp.server.auth import TokenVerifier as FastMCPTokenVerifier
from pydantic import ConfigDict, Field

from ..claims import Claims
from ..errors import CognitoVerifyError, JWKSError, RevocationCheckError
from ..verifier import CognitoVerifier
from ._http import requirements
from .mcp import _accepted, _access_token_fields

__all__ = ["CognitoFastMCPAccessToken", "CognitoFastMCPVerifier"]

Names = str | Sequence[str] | None


class CognitoFastMCPAccessToken(AccessToken):
    """fastmcp's ``AccessToken`` for a verified Cognito access token, with
    ``cognito_claims`` (the verified ``Claims``); token and claims kept out of repr."""

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    token: str = Field(repr=False)
    claims: dict[str, Any] = Field(default_factory=dict, repr=False)
    cognito_claims: Claims = Field(exclude=True, repr=False)


class CognitoFastMCPVerifier(FastMCPTokenVerifier):
    """A fastmcp ``TokenVerifier`` that verifies Cognito access tokens.

    Args:
        verifier: checks every token (``averify``); ``token_use="access"`` and the
            app client id(s) of this server's MCP clients.
        base_url / required_scopes / resource_base_url: fastmcp's own arguments.
        resource: as for ``integrations.mcp.CognitoTokenVerifier``.

    ``verify_token`` returns ``None`` for a refused token (fastmcp answers 401 with its
    challenge) and raises fastmcp's ``TokenVerificationError`` when the pool's keys
    cannot be fetched or the ``is_revoked`` hook fails (an outage, not a bad token).
    """

    def __init__(
        self,
        verifier: CognitoVerifier,
        *,
        base_url: str | None = None,
        required_scopes: list[str] | None = None,
        resource_base_url: str | None = None,
        resource: str | None = None,
    ) -> None:
        if not isinstance(verifier, CognitoVerifier):
            raise TypeError("CognitoFastMCPVerifier needs a CognitoVerifier")
        super().__init__(
            base_url=base_url, required_scopes=required_scopes, resource_base_url=resource_base_url
        )
        self.verifier = verifier
        self.resource = resource

    async def verify_token(self, token: str) -> CognitoFastMCPAccessToken | None:
        try:
            claims = await _accepted(self.verifier, token)
        except (JWKSError, RevocationCheckError) as exc:
            raise TokenVerificationError(exc.code) from None
        if claims is None:
            return None
        return CognitoFastMCPAccessToken(**_access_token_fields(claims, token, self.resource))

    def required(
        self,
        *,
        groups: Names = None,
        all_groups: Names = None,
        scopes: Names = None,
        all_scopes: Names = None,
        max_auth_age: float | None = None,
    ) -> AuthCheck:
        """A fastmcp auth check (``@mcp.tool(auth=tokens.required(...))``) for these
        groups / scopes (any-of / all-of) and ``max_auth_age`` (seconds since sign-in),
        checked by the core on the verified claims (awaited: ``custom_check`` may be async).
        A caller lacking them does not see the tool and cannot call it (fastmcp's rule
        for failed checks).

        Raises:
            TypeError: at definition time, for requirement values of the wrong type.
        """
        verifier = self.verifier
        needs = requirements(groups, all_groups, scopes, all_scopes, max_auth_age)

        async def check(ctx: AuthContext) -> bool:
            claims = getattr(ctx.token, "cognito_claims", None)
            if not isinstance(claims, Claims):
                return False
            try:
                await verifier.aauthorize(claims, **needs)
            except CognitoVerifyError:
                return False
            return True

        return check
