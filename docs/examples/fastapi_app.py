"""A complete FastAPI app whose routes are protected by cognito-verify.

Run it against your user pool (``pip install cognito-verify[fastapi] uvicorn``):

    COGNITO_USER_POOL_ID=eu-west-1_AbCdEf123 COGNITO_CLIENT_ID=<app client id> \\
        uvicorn fastapi_app:create_app --factory

then open http://127.0.0.1:8000/docs, press "Authorize" and paste an access token.
tests/test_integrations_fastapi.py runs this very file, so it stays runnable.

Every example app reads the same variables: ``COGNITO_USER_POOL_ID``,
``COGNITO_CLIENT_ID`` (comma-separated for several) and, optionally,
``COGNITO_JWKS_URL`` (an emulator, or ``cognito-verify local-pool``, which prints all
three).
"""

# No "from __future__ import annotations": FastAPI reads these annotations at runtime,
# and they name ``auth``, a local variable of create_app.
import os
from typing import Annotated, Any

from fastapi import Depends, FastAPI, WebSocket

from cognito_verify import Claims, CognitoVerifier
from cognito_verify.integrations.fastapi import CognitoAuth


def create_app(verifier: CognitoVerifier | None = None) -> FastAPI:
    """The app; the verifier comes from the environment unless one is given (tests)."""
    if verifier is None:
        verifier = CognitoVerifier(
            os.environ["COGNITO_USER_POOL_ID"],
            client_id=os.environ["COGNITO_CLIENT_ID"].split(","),  # one id, or several
            token_use="access",
            leeway=5,  # seconds of clock skew tolerated
            jwks_url=os.environ.get("COGNITO_JWKS_URL"),  # None: the pool's own URL
        )
    auth = CognitoAuth(verifier)
    app = FastAPI(title="Orders API")

    @app.get("/health")
    async def health() -> dict[str, bool]:
        return {"ok": True}  # no dependency: open to everyone

    @app.get("/me")
    async def me(claims: Annotated[Claims, Depends(auth)]) -> dict[str, Any]:
        return {"username": claims.username, "groups": sorted(claims.groups)}

    @app.get("/admin")
    async def admin(
        claims: Annotated[Claims, Depends(auth.required(groups="admin"))],
    ) -> dict[str, Any]:
        return {"username": claims.username, "admin": True}

    @app.get("/orders")
    async def orders(
        claims: Annotated[Claims, Depends(auth.required(scopes="orders-api/orders.read"))],
    ) -> dict[str, Any]:
        return {"username": claims.username, "orders": []}

    @app.get("/hello")
    async def hello(claims: Annotated[Claims | None, Depends(auth.optional)]) -> dict[str, str]:
        return {"hello": claims.username or claims.sub if claims else "stranger"}

    @app.websocket("/ws")
    async def live(websocket: WebSocket, claims: Annotated[Claims, Depends(auth)]) -> None:
        await websocket.accept()
        await websocket.send_json({"username": claims.username})
        await websocket.close()

    return app
