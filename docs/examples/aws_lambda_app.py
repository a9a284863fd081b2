"""AWS Lambda functions protected by Cognito tokens: one module, every integration.

Deploy this file with ``cognito-verify`` in the package (``pip install cognito-verify``)
and point each function's handler setting at one of the names below:

    aws_lambda_app.orders             API Gateway REST / HTTP API proxy, ALB target,
                                      Function URL (the same handler serves all four)
    aws_lambda_app.orders_async       the same, as an ``async def``
    aws_lambda_app.profile            behind API Gateway's own Cognito / JWT authorizer
    aws_lambda_app.rest_authorizer    REST API Lambda authorizer (TOKEN or REQUEST)
    aws_lambda_app.http_authorizer    HTTP API Lambda authorizer (simple responses)
    aws_lambda_app.appsync_authorizer AppSync AWS_LAMBDA authorizer

(aws_lambda_powertools_app.py shows the powertools resolvers.)

Environment: ``COGNITO_USER_POOL_ID``, ``COGNITO_CLIENT_ID``; optionally
``COGNITO_JWKS_URL`` (an emulator; the tests of this repository run this file against
a local user pool that way).
"""

from __future__ import annotations

import logging
import os
from typing import Any

from cognito_verify import CognitoVerifier, JWKSError
from cognito_verify.integrations.aws_lambda import LambdaAuth, claims_from_event

log = logging.getLogger(__name__)

# Module scope: built once per execution environment (cold start), reused while warm.
verifier = CognitoVerifier(
    os.environ["COGNITO_USER_POOL_ID"],
    client_id=os.environ["COGNITO_CLIENT_ID"],
    token_use="access",
    jwks_url=os.environ.get("COGNITO_JWKS_URL"),
    allow_insecure_jwks_url=bool(os.environ.get("COGNITO_JWKS_URL")),
    jwks_timeout=1.5,  # one key fetch stays well inside Lambda's default 3 s timeout
)
auth = LambdaAuth(verifier)

# Fetch the keys during init (not billed into the first request's latency on
# provisioned concurrency / SnapStart, and done before the first event arrives).
# A failure is not fatal: the first invocation fetches again, and answers 503 if
# Cognito is still unreachable.
try:
    verifier.hydrate()
except JWKSError as exc:
    log.warning("could not load the user pool's keys during init: %s", exc.message)


@auth.required(scopes="orders-api/orders.read")
def orders(event: dict[str, Any], context: Any) -> dict[str, Any]:
    claims = auth.current_claims
    assert claims is not None  # required() without optional=True
    return {"statusCode": 200, "body": f"orders of {claims.username or claims.sub}"}


@auth.required(groups=["admin", "support"], optional=False)
async def orders_async(event: dict[str, Any], context: Any) -> dict[str, Any]:
    claims = auth.current_claims
    assert claims is not None
    return {"statusCode": 200, "body": f"async orders of {claims.username}"}


def profile(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # Only behind an API Gateway Cognito user pool / JWT authorizer: nothing is verified
    # here. The HTTP API JWT authorizer accepts ID and access tokens alike: say which.
    claims = claims_from_event(event, token_use="access")
    return {"statusCode": 200, "body": f"{claims.username} in {sorted(claims.groups)}"}


rest_authorizer = auth.rest_authorizer(scopes="orders-api/orders.read")
http_authorizer = auth.http_authorizer(scopes="orders-api/orders.read")
appsync_authorizer = auth.appsync_authorizer(result_ttl=300)
