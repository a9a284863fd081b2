"""aws-lambda-powertools: a middleware for its REST, HTTP API, ALB and Function URL resolvers.

    from aws_lambda_powertools.event_handler import APIGatewayRestResolver
    from cognito_verify.integrations.aws_lambda import LambdaAuth
    from cognito_verify.integrations.powertools import CognitoAuthMiddleware

    auth = LambdaAuth(verifier)
    app = APIGatewayRestResolver()
    app.use(middlewares=[CognitoAuthMiddleware(auth)])          # every route

    @app.get("/admin", middlewares=[CognitoAuthMiddleware(auth, groups="admin")])
    def admin():                                                # or only some routes
        return {"user": app.context["cognito_claims"].username}

    def handler(event, context):
        return app.resolve(event, context)

The claims are in ``app.context["cognito_claims"]`` (powertools clears it after each
event) and, in sync routes, in ``auth.current_claims``. Refusals are powertools
``Response`` objects, so the resolver writes them in the event's own format. Requires
``pip install cognito-verify[lambda]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.middlewares import BaseMiddlewareHandler, NextMiddleware

from ..errors import CognitoVerifyError, ConfigurationError
from ..verifier import CognitoVerifier
from ._http import optional_flag, refusal, requirements
from .aws_lambda import LambdaAuth

__all__ = ["CognitoAuthMiddleware", "CONTEXT_KEY", "ALB_CONTEXT_KEY"]

#: The ``app.context`` key holding the verified ``Claims`` (or ``None``).
CONTEXT_KEY = "cognito_claims"
#: The ``app.context`` key of the load balancer's claims (``LambdaAuth(alb=...)``).
ALB_CONTEXT_KEY = "cognito_alb_claims"

Groups = str | Sequence[str] | None


class CognitoAuthMiddleware(BaseMiddlewareHandler):  # type: ignore[type-arg]
    """Lets a request reach the route only with an accepted Cognito token.

    Register it for every route with ``app.use(middlewares=[...])`` or for one route
    with ``@app.get(path, middlewares=[...])``; several instances (different
    requirements) can be stacked.

    Args:
        auth: a ``LambdaAuth`` (its ``current_claims`` is set while the route runs) or a
            ``CognitoVerifier``.
        groups / all_groups / scopes / all_scopes: requirements on top of the
            verifier's own (403 when not met).
        max_auth_age: seconds since the user signed in (``auth_time``); older
            sign-ins are refused 401 ``insufficient_user_authentication`` (RFC 9470).
        optional: let requests without a token through with the claims ``None``; a bad
            token is still refused.

    Raises:
        TypeError: a requirement value is not a string or a list of strings.
    """

    def __init__(
        self,
        auth: LambdaAuth | CognitoVerifier,
        *,
        groups: Groups = None,
        all_groups: Groups = None,
        scopes: Groups = None,
        all_scopes: Groups = None,
        max_auth_age: float | None = None,
        optional: bool = False,
    ) -> None:
        super().__init__()
        if isinstance(auth, CognitoVerifier):
            auth = LambdaAuth(auth)
        if not isinstance(auth, LambdaAuth):
            raise ConfigurationError("CognitoAuthMiddleware needs a LambdaAuth or CognitoVerifier")
        self.auth = auth
        self._options = requirements(groups, all_groups, scopes, all_scopes, max_auth_age)
        self._options["optional"] = optional_flag(optional, None)

    def handler(self, app: Any, next_middleware: NextMiddleware) -> Response[Any]:
        try:
            found = self.auth._credentials(app.current_event.raw_event, self._options)
        except CognitoVerifyError as exc:
            answer = refusal(exc)
            return Response(
                status_code=answer.status,
                content_type="application/json",
                body=answer.json.decode("utf-8"),
                headers={"Cache-Control": "no-store", **answer.headers},
            )
        app.append_context(**{CONTEXT_KEY: found.claims, ALB_CONTEXT_KEY: found.alb_claims})
        reset = self.auth._claims.set(found)
        try:
            return next_middleware(app)
        finally:
            self.auth._claims.reset(reset)
