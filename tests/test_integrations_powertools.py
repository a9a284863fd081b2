"""CognitoAuthMiddleware on each aws-lambda-powertools resolver: routes protected and
not, on the shared AWS sample events and on LocalUserPool's events."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from _adapter_matrix import bearer, make_verifier, unavailable_verifier
from _lambda_samples import PROXY, proxy

pytest.importorskip("aws_lambda_powertools")

from aws_lambda_powertools.event_handler import (  # noqa: E402
    ALBResolver,
    APIGatewayHttpResolver,
    APIGatewayRestResolver,
    LambdaFunctionUrlResolver,
)

from cognito_verify.integrations.aws_lambda import LambdaAuth  # noqa: E402
from cognito_verify.integrations.powertools import CONTEXT_KEY, CognitoAuthMiddleware  # noqa: E402
from cognito_verify.testing import LocalUserPool  # noqa: E402

RESOLVERS: dict[str, Any] = {
    "rest": APIGatewayRestResolver,
    "rest_cognito": APIGatewayRestResolver,
    "http": APIGatewayHttpResolver,
    "http_jwt": APIGatewayHttpResolver,
    "alb": ALBResolver,
    "alb_multi": ALBResolver,
    "function_url": LambdaFunctionUrlResolver,
}
BUILDER_SHAPE = {
    "rest": "rest",
    "http": "http",
    "alb": "alb",
    "alb_multi": "alb_multi",
    "function_url": "function_url",
}


def sample_route(event: dict[str, Any]) -> tuple[str, str]:
    if "rawPath" in event:
        return event["requestContext"]["http"]["method"], event["rawPath"]
    return event["httpMethod"], event["path"]


def headers_of(response: dict[str, Any]) -> dict[str, str]:
    if "multiValueHeaders" in response and "headers" not in response:
        return {k: ",".join(v) for k, v in response["multiValueHeaders"].items()}
    return dict(response.get("headers") or {})


def build_app(resolver: Any, auth: LambdaAuth, method: str, path: str) -> Any:
    app = resolver()

    @app.route(path, method=[method], middlewares=[CognitoAuthMiddleware(auth, groups="admin")])
    def protected() -> dict[str, Any]:
        claims = app.context[CONTEXT_KEY]
        assert auth.current_claims is claims
        return {"username": claims.username}

    @app.get("/public")
    def public() -> dict[str, Any]:
        return {"public": True, "claims": app.context.get(CONTEXT_KEY)}

    return app


@pytest.mark.parametrize("shape", list(PROXY))
def test_route_middleware_on_the_sample_events(shape: str, pool: LocalUserPool, clock: Any) -> None:
    auth = LambdaAuth(make_verifier(pool, clock))
    method, path = sample_route(proxy(shape, None))
    app = build_app(RESOLVERS[shape], auth, method, path)

    good = app.resolve(proxy(shape, bearer(pool.access_token(groups=["admin"]))), {})
    assert good["statusCode"] == 200
    assert json.loads(good["body"]) == {"username": "alice"}

    for header, status, code in [
        (None, 401, "missing_token"),
        ("Bearer not-a-jwt", 401, "malformed_token"),
        (bearer(pool.access_token(client_id="client-b")), 401, "invalid_client"),
        (bearer(pool.id_token()), 401, "invalid_token_use"),
        (bearer(pool.access_token()), 403, "missing_group"),
    ]:
        refused = app.resolve(proxy(shape, header), {})
        assert refused["statusCode"] == status, (shape, header)
        assert json.loads(refused["body"])["error"] == code
        headers = headers_of(refused)
        assert headers["Cache-Control"] == "no-store"
        assert headers["Content-Type"] == "application/json"
        if status == 401:
            assert headers["WWW-Authenticate"].startswith("Bearer")
        else:
            assert "WWW-Authenticate" not in headers
    assert auth.current_claims is None


@pytest.mark.parametrize("shape", list(BUILDER_SHAPE))
def test_global_middleware_and_unprotected_routes(
    shape: str, pool: LocalUserPool, clock: Any
) -> None:
    resolver = RESOLVERS[shape]
    verifier = make_verifier(pool, clock)
    # Only some routes: an unprotected route sees no claims, with or without a token.
    app = build_app(resolver, LambdaAuth(verifier), "GET", "/orders")
    for header in (None, pool.access_token()):
        event = pool.lambda_event(BUILDER_SHAPE[shape], header, path="/public")
        answer = app.resolve(event, {})
        assert answer["statusCode"] == 200
        assert json.loads(answer["body"]) == {"public": True, "claims": None}

    # Every route: app.use with a CognitoVerifier directly.
    app = resolver()
    app.use(middlewares=[CognitoAuthMiddleware(verifier, scopes="orders/read")])

    @app.get("/orders")
    def orders() -> dict[str, Any]:
        return {"sub": app.context[CONTEXT_KEY].sub}

    @app.get("/other")
    def other() -> dict[str, Any]:
        return {"ok": True}

    token = pool.access_token(scopes=["orders/read"])
    answer = app.resolve(pool.lambda_event(BUILDER_SHAPE[shape], token, path="/orders"), {})
    assert answer["statusCode"] == 200
    assert json.loads(answer["body"]) == {"sub": verifier.verify(token).sub}
    refused = app.resolve(pool.lambda_event(BUILDER_SHAPE[shape], None, path="/other"), {})
    assert refused["statusCode"] == 401
    scope = app.resolve(
        pool.lambda_event(BUILDER_SHAPE[shape], pool.access_token(), path="/other"), {}
    )
    assert scope["statusCode"] == 403
    challenge = 'Bearer error="insufficient_scope", scope="orders/read"'
    assert headers_of(scope)["WWW-Authenticate"] == challenge


def test_optional_and_jwks_down(pool: LocalUserPool, clock: Any) -> None:
    app = APIGatewayHttpResolver()
    app.use(middlewares=[CognitoAuthMiddleware(make_verifier(pool, clock), optional=True)])

    @app.get("/me")
    def me() -> dict[str, Any]:
        claims = app.context[CONTEXT_KEY]
        return {"user": claims.username if claims else None}

    anonymous = app.resolve(pool.lambda_event("http", None, path="/me"), {})
    assert json.loads(anonymous["body"]) == {"user": None}
    bad = app.resolve(pool.lambda_event("http", "x.y.z", path="/me"), {})
    assert bad["statusCode"] == 401

    down = APIGatewayRestResolver()
    down.use(middlewares=[CognitoAuthMiddleware(unavailable_verifier(pool, clock))])

    @down.get("/me")
    def me_down() -> dict[str, Any]:
        return {}

    answer = down.resolve(pool.lambda_event("rest", pool.access_token(), path="/me"), {})
    assert answer["statusCode"] == 503
    assert json.loads(answer["body"])["error"] == "jwks_unavailable"
    assert headers_of(answer)["Retry-After"] == "5"


def test_async_resolver(pool: LocalUserPool, clock: Any) -> None:
    app = APIGatewayHttpResolver()
    app.use(middlewares=[CognitoAuthMiddleware(make_verifier(pool, clock))])

    @app.get("/async")
    async def route() -> dict[str, Any]:
        await asyncio.sleep(0)
        return {"user": app.context[CONTEXT_KEY].username}

    event = pool.lambda_event("http", pool.access_token(), path="/async")
    answer = asyncio.run(app.resolve_async(event, {}))
    assert json.loads(answer["body"]) == {"user": "alice"}
    refused = asyncio.run(app.resolve_async(pool.lambda_event("http", None, path="/async"), {}))
    assert refused["statusCode"] == 401


def test_bad_arguments() -> None:
    with pytest.raises(Exception, match="LambdaAuth or CognitoVerifier"):
        CognitoAuthMiddleware("verifier")  # type: ignore[arg-type]


def test_docs_example(pool: LocalUserPool, monkeypatch: pytest.MonkeyPatch) -> None:
    import time
    from pathlib import Path

    from _adapter_matrix import load_example

    pool.clock = time.time  # the example verifies with the real clock

    path = (
        Path(__file__).resolve().parents[1] / "docs" / "examples" / "aws_lambda_powertools_app.py"
    )
    with pool.serve() as server:
        monkeypatch.setenv("COGNITO_USER_POOL_ID", pool.user_pool_id)
        monkeypatch.setenv("COGNITO_CLIENT_ID", "client-a")
        monkeypatch.setenv("COGNITO_JWKS_URL", server.jwks_url)
        module = load_example(path)
        health = module.handler(pool.lambda_event("rest", None, path="/health"), {})
        assert health["statusCode"] == 200
        me = module.handler(pool.lambda_event("rest", pool.access_token(), path="/me"), {})
        assert json.loads(me["body"]) == {"username": "alice"}
        anonymous = module.handler(pool.lambda_event("rest", None, path="/me"), {})
        assert anonymous["statusCode"] == 401
        token = pool.access_token(groups=["admin"])
        event = pool.lambda_event("rest", token, method="DELETE", path="/orders/7")
        deleted = module.handler(event, {})
        assert json.loads(deleted["body"]) == {"deleted": "7", "by": "alice"}
        event = pool.lambda_event("rest", pool.access_token(), method="DELETE", path="/orders/7")
        assert module.handler(event, {})["statusCode"] == 403
