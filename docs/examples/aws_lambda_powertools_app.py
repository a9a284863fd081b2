"""An aws-lambda-powertools REST API whose routes need a Cognito access token.

``pip install cognito-verify[lambda]``; handler setting: ``aws_lambda_powertools_app.handler``.
Environment: ``COGNITO_USER_POOL_ID``, ``COGNITO_CLIENT_ID`` (``COGNITO_JWKS_URL`` for
an emulator). The same middleware works on ``APIGatewayHttpResolver``, ``ALBResolver``
and ``LambdaFunctionUrlResolver``.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from cognito_verify import CognitoVerifier
from cognito_verify.integrations.aws_lambda import LambdaAuth
from cognito_verify.integrations.powertools import CONTEXT_KEY, CognitoAuthMiddleware

verifier = CognitoVerifier(
    os.environ["COGNITO_USER_POOL_ID"],
    client_id=os.environ["COGNITO_CLIENT_ID"],
    token_use="access",
    jwks_url=os.environ.get("COGNITO_JWKS_URL"),
    allow_insecure_jwks_url=bool(os.environ.get("COGNITO_JWKS_URL")),
)
auth = LambdaAuth(verifier)
app = APIGatewayRestResolver()


@app.get("/health")  # not protected: no middleware on this route
def health() -> dict[str, Any]:
    return {"ok": True}


@app.get("/me", middlewares=[CognitoAuthMiddleware(auth)])
def me() -> dict[str, Any]:
    return {"username": app.context[CONTEXT_KEY].username}


@app.delete("/orders/<order_id>", middlewares=[CognitoAuthMiddleware(auth, groups="admin")])
def delete_order(order_id: str) -> dict[str, Any]:
    claims = auth.current_claims  # the same claims, in sync routes
    assert claims is not None
    return {"deleted": order_id, "by": claims.username}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
