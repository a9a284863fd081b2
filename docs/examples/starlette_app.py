"""A complete Starlette app whose routes are protected by cognito-verify.

Run it against your user pool (``pip install cognito-verify[starlette] uvicorn``):

    COGNITO_USER_POOL_ID=eu-west-1_AbCdEf123 COGNITO_CLIENT_ID=<app client id> \\
        uvicorn starlette_app:create_app --factory

tests/test_integrations_starlette.py runs this very file, so it stays runnable.

Every example app reads the same variables: ``COGNITO_USER_POOL_ID``,
``COGNITO_CLIENT_ID`` (comma-separated for several) and, optionally,
``COGNITO_JWKS_URL`` (an emulator, or ``cognito-verify local-pool``, which prints all
three).
"""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from cognito_verify import CognitoVerifier
from cognito_verify.integrations.starlette import CognitoAuthBackend, CognitoUser


def create_app(verifier: CognitoVerifier | None = None) -> Starlette:
    """The app; the verifier comes from the environment unless one is given (tests)."""
    if verifier is None:
        verifier = CognitoVerifier(
            os.environ["COGNITO_USER_POOL_ID"],
            client_id=os.environ["COGNITO_CLIENT_ID"].split(","),  # one id, or several
            token_use="access",
            leeway=5,  # seconds of clock skew tolerated
            jwks_url=os.environ.get("COGNITO_JWKS_URL"),  # None: the pool's own URL
        )
    backend = CognitoAuthBackend(verifier)

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    @backend.required()  # 401 for anonymous callers
    async def me(request: Request) -> JSONResponse:
        user: CognitoUser = request.user
        return JSONResponse({"username": user.username, "scopes": sorted(request.auth.scopes)})

    @backend.required(groups="admin")  # 403 missing_group
    async def admin(request: Request) -> JSONResponse:
        return JSONResponse({"username": request.user.username, "admin": True})

    @backend.required(scopes="orders-api/orders.read")  # sync endpoints work too
    def orders(request: Request) -> JSONResponse:
        return JSONResponse({"username": request.user.username, "orders": []})

    @requires(["authenticated", "group:admin"])  # Starlette's own decorator (403 for all)
    async def reports(request: Request) -> JSONResponse:
        return JSONResponse({"username": request.user.username, "reports": []})

    async def hello(request: Request) -> JSONResponse:
        name = request.user.display_name if request.user.is_authenticated else "stranger"
        return JSONResponse({"hello": name})

    @backend.required()
    async def live(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_json({"username": websocket.user.username})
        await websocket.close()

    routes = [
        Route("/health", health),
        Route("/me", me),
        Route("/admin", admin),
        Route("/orders", orders),
        Route("/reports", reports),
        Route("/hello", hello),
        WebSocketRoute("/ws", live),
    ]
    return Starlette(routes=routes, middleware=[backend.middleware()])
