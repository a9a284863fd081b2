"""A complete MCP server (streamable HTTP) that accepts Cognito access tokens.

Run it against your user pool (``pip install cognito-verify[mcp] uvicorn``):

    export COGNITO_USER_POOL_ID=eu-west-1_AbCdEf123
    export COGNITO_CLIENT_ID=<the app client id of your MCP clients>
    export MCP_RESOURCE_URL=https://mcp.example.com/mcp   # this server's public URL
    uvicorn mcp_server:create_app --factory --port 8000

``COGNITO_JWKS_URL`` may point the key fetch somewhere else (an emulator);
tests/test_integrations_mcp.py runs this very file against a local user pool that way.
"""

from __future__ import annotations

import os
from typing import Any

from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer
from starlette.applications import Starlette

from cognito_verify import CognitoVerifier
from cognito_verify.integrations.mcp import (
    CognitoMCPMiddleware,
    CognitoTokenVerifier,
    current_claims,
)

READ = "orders-api/orders.read"  # a resource-server scope: every call needs it
WRITE = "orders-api/orders.write"  # only the tool that changes something


def issuer_of(user_pool_id: str) -> str:
    """The pool's issuer, the authorization server named in the resource metadata."""
    region = user_pool_id.split("_", 1)[0]
    return f"https://cognito-idp.{region}.amazonaws.com/{user_pool_id}"


def create_app(verifier: CognitoVerifier | None = None) -> Starlette:
    """The ASGI app; the verifier comes from the environment unless one is given."""
    pool_id = os.environ["COGNITO_USER_POOL_ID"]
    if verifier is None:
        verifier = CognitoVerifier(
            pool_id,
            client_id=os.environ["COGNITO_CLIENT_ID"],
            token_use="access",  # MCP clients send access tokens, never ID tokens
            jwks_url=os.environ.get("COGNITO_JWKS_URL"),
        )
    tokens = CognitoTokenVerifier(verifier)
    server = MCPServer(
        "orders",
        token_verifier=tokens,
        auth=AuthSettings(
            issuer_url=issuer_of(pool_id),
            resource_server_url=os.environ.get("MCP_RESOURCE_URL", "http://127.0.0.1:8000/mcp"),
            required_scopes=[READ],
            # Cognito access tokens name no audience; the client_id check binds them.
            validate_token_resource=False,
        ),
    )

    @server.tool()
    async def list_orders() -> dict[str, Any]:
        """The caller's orders."""
        claims = current_claims()
        assert claims is not None  # every call is authenticated
        return {"for": claims.username or claims.sub, "orders": []}

    @server.tool()
    @tokens.required(scopes=WRITE, groups="support")
    async def cancel_order(order_id: str) -> str:
        """Cancel an order (needs the write scope and the support group)."""
        return f"order {order_id} cancelled"

    app = server.streamable_http_app()
    app.add_middleware(CognitoMCPMiddleware)  # 503 while the keys cannot be fetched
    return app
