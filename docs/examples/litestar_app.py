"""A complete Litestar app whose routes are protected by Cognito access tokens.

Run it against your user pool (``pip install cognito-verify[litestar] uvicorn``):

    COGNITO_USER_POOL_ID=eu-west-1_AbCdEf123 COGNITO_CLIENT_ID=<app client id> \\
        uvicorn litestar_app:create_app --factory

``COGNITO_JWKS_URL`` may point the key fetch somewhere else (an emulator);
tests/test_integrations_litestar.py runs this very file against a local user pool.
"""

from __future__ import annotations

import os
from typing import Any

from litestar import Litestar, Request, get
from litestar.openapi import OpenAPIConfig

from cognito_verify import Claims, CognitoVerifier
from cognito_verify.integrations.litestar import CognitoAuth


def create_app(verifier: CognitoVerifier | None = None) -> Litestar:
    """The app; the verifier comes from the environment unless one is given (tests)."""
    if verifier is None:
        verifier = CognitoVerifier(
            os.environ["COGNITO_USER_POOL_ID"],
            client_id=os.environ["COGNITO_CLIENT_ID"],
            token_use="access",
            jwks_url=os.environ.get("COGNITO_JWKS_URL"),
        )
    auth = CognitoAuth(verifier=verifier, exclude=["/schema"])

    @get("/health", exclude_from_auth=True)
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @get("/me")
    async def me(request: Request[Claims, Claims, Any]) -> dict[str, Any]:
        return {"username": request.auth.username, "groups": sorted(request.auth.groups)}

    @get("/admin", guards=[auth.required(groups="admin")])
    async def admin() -> dict[str, bool]:
        return {"admin": True}

    @get("/orders", guards=[auth.required(scopes="orders-api/orders.read")])
    async def orders(request: Request[Claims, Claims, Any]) -> dict[str, Any]:
        return {"orders": [], "for": request.auth.username}

    @get("/hello", cognito_optional=True)  # anonymous allowed; a bad token is still 401
    async def hello(request: Request[Any, Claims | None, Any]) -> dict[str, str]:
        return {"hello": request.auth.username if request.auth else "stranger"}

    return Litestar(
        [health, me, admin, orders, hello],
        on_app_init=[auth.on_app_init],
        openapi_config=OpenAPIConfig(title="orders", version="1.0.0"),
    )
