"""LambdaAuth.required on every proxy shape, with the public AWS sample events
(../shared/lambda-events) carrying tokens minted by LocalUserPool."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

import pytest
from _adapter_matrix import CASES, IDS, Case, bearer, make_verifier, unavailable_verifier
from _lambda_samples import FORMAT, PROXY, load, proxy, with_authorization

from cognito_verify import Claims, CognitoVerifier
from cognito_verify.integrations.aws_lambda import LambdaAuth, event_shape
from cognito_verify.testing import LocalUserPool

SHAPES = list(PROXY)
REQUIREMENTS: dict[str, dict[str, Any]] = {
    "/protected": {},
    "/admin": {"groups": "admin"},
    "/write": {"scopes": ["orders/write"]},
    "/optional": {"optional": True},
}


def handlers(auth: LambdaAuth, kind: str) -> dict[str, Callable[[Any, Any], Any]]:
    """One handler per matrix path, sync or ``async def``."""

    def body() -> dict[str, Any]:
        claims = auth.current_claims
        return {
            "statusCode": 200,
            "headers": {"Content-Type": "application/json"},
            "body": json.dumps({"username": claims.username if claims else None}),
        }

    out: dict[str, Callable[[Any, Any], Any]] = {}
    for path, options in REQUIREMENTS.items():
        if kind == "sync":

            def sync_handler(event: Any, context: Any) -> dict[str, Any]:
                return body()

            out[path] = auth.required(**options)(sync_handler)
        else:

            async def async_handler(event: Any, context: Any) -> dict[str, Any]:
                await asyncio.sleep(0)
                return body()

            out[path] = auth.required(**options)(async_handler)
    return out


def headers_of(response: dict[str, Any], fmt: str) -> dict[str, str]:
    """The response's headers, checking they sit where the integration reads them."""
    if fmt == "alb_multi":
        assert "headers" not in response
        multi = response["multiValueHeaders"]
        assert all(isinstance(v, list) and len(v) == 1 for v in multi.values())
        return {k: v[0] for k, v in multi.items()}
    assert "multiValueHeaders" not in response
    return dict(response["headers"])


def check_refusal(
    response: dict[str, Any],
    fmt: str,
    status: int,
    code: str,
    challenge: str | None,
    header: str | list[str] | None = None,
) -> None:
    expected_keys = {"statusCode", "body", "isBase64Encoded"}
    expected_keys |= {"multiValueHeaders"} if fmt == "alb_multi" else {"headers"}
    if fmt.startswith("alb"):
        expected_keys.add("statusDescription")
        assert response["statusDescription"] == f"{status} {HTTPStatus(status).phrase}"
    assert set(response) == expected_keys
    assert response["statusCode"] == status
    assert response["isBase64Encoded"] is False
    headers = headers_of(response, fmt)
    expected = {"Content-Type": "application/json", "Cache-Control": "no-store"}
    if challenge is not None:
        expected["WWW-Authenticate"] = challenge
    if status == 503:
        expected["Retry-After"] = "5"
    assert headers == expected
    data = json.loads(response["body"])
    assert data == {"error": code, "message": data["message"]}
    assert isinstance(data["message"], str) and data["message"]
    for sent in [header] if isinstance(header, str) else header or []:
        # The token (or any fragment of it) is never echoed back.
        for part in sent.partition(" ")[2].split("."):
            assert len(part) < 4 or part not in response["body"]


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_matrix(case: Case, shape: str, kind: str, pool: LocalUserPool, clock: Any) -> None:
    auth = LambdaAuth(make_verifier(pool, clock))
    handler = handlers(auth, kind)[case.path]
    header = case.header(pool, clock)
    response = handler(proxy(shape, header), None)
    if case.name == "two_authorization_headers" and shape == "alb":
        # A single-value ALB passes only the last of repeated headers: the function
        # cannot see the duplicate (docs/aws-lambda.md says to turn on multi-value).
        assert response["statusCode"] == 200
        return
    if case.status == 200:
        expected = None if case.name == "optional_anonymous" else "alice"
        assert response["statusCode"] == 200
        assert json.loads(response["body"]) == {"username": expected}
    else:
        assert case.code is not None
        check_refusal(response, FORMAT[shape], case.status, case.code, case.challenge, header)
    assert auth.current_claims is None  # only during the invocation


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize("shape", SHAPES)
def test_jwks_down_is_503_in_the_event_format(
    shape: str, kind: str, pool: LocalUserPool, clock: Any
) -> None:
    auth = LambdaAuth(unavailable_verifier(pool, clock))
    handler = handlers(auth, kind)["/protected"]
    response = handler(proxy(shape, bearer(pool.access_token())), None)
    check_refusal(response, FORMAT[shape], 503, "jwks_unavailable", None)


@pytest.mark.parametrize("shape", SHAPES)
def test_sample_events_are_recognised(shape: str) -> None:
    expected = {"rest": "rest", "http": "http", "alb": "alb", "alb_multi": "alb"}
    expected |= {"rest_cognito": "rest", "http_jwt": "http", "function_url": "function_url"}
    assert event_shape(load(PROXY[shape])) == expected[shape]


# --- duplicate and case-variant headers ------------------------------------------------


def _dup_events(token: str) -> dict[str, dict[str, Any]]:
    good = bearer(token)
    rest = proxy("rest", good)
    rest["multiValueHeaders"]["Authorization"] = [good, bearer("x.y.z")]
    rest_cases = proxy("rest", None)
    rest_cases["headers"] |= {"Authorization": good, "authorization": good}
    rest_cases["multiValueHeaders"] |= {"Authorization": [good], "authorization": [good]}
    disagree = proxy("rest", good)
    disagree["headers"]["Authorization"] = bearer("x.y.z")
    single_only = proxy("rest", None)
    single_only["multiValueHeaders"] = None
    single_only["headers"] |= {"Authorization": good, "AUTHORIZATION": good}
    http = proxy("http", f"{good},{bearer('x.y.z')}")
    url = proxy("function_url", f"{good},{good}")
    alb_multi = proxy("alb_multi", good)
    alb_multi["multiValueHeaders"]["authorization"].append(good)
    return {
        "rest_multi_two_values": rest,
        "rest_two_cases": rest_cases,
        "rest_headers_disagree": disagree,
        "rest_single_two_cases": single_only,
        "http_comma_joined": http,
        "function_url_comma_joined": url,
        "alb_multi_two_values": alb_multi,
    }


DUPLICATES = list(_dup_events("a.b.c"))


@pytest.mark.parametrize("name", DUPLICATES)
def test_duplicate_authorization_headers_are_refused(
    name: str, pool: LocalUserPool, clock: Any
) -> None:
    auth = LambdaAuth(make_verifier(pool, clock))
    seen: list[Any] = []

    @auth.required(optional=True)
    def handler(event: Any, context: Any) -> dict[str, Any]:
        seen.append(auth.current_claims)
        return {"statusCode": 200}

    event = _dup_events(pool.access_token())[name]
    response = handler(event, None)
    fmt = "alb_multi" if name.startswith("alb") else "rest"
    check_refusal(response, fmt, 401, "malformed_token", 'Bearer error="invalid_token"')
    assert seen == []


@pytest.mark.parametrize("name", ["authorization", "AUTHORIZATION", "aUtHoRiZaTiOn"])
def test_header_name_is_case_insensitive(name: str, pool: LocalUserPool, clock: Any) -> None:
    auth = LambdaAuth(make_verifier(pool, clock))
    handler = handlers(auth, "sync")["/protected"]
    event, header = proxy("rest", None), bearer(pool.access_token())
    event["headers"][name] = header
    event["multiValueHeaders"][name] = [header]
    assert handler(event, None)["statusCode"] == 200


def test_not_an_http_event_is_refused(pool: LocalUserPool, clock: Any) -> None:
    auth = LambdaAuth(make_verifier(pool, clock))
    handler = handlers(auth, "sync")["/protected"]
    for event in (None, [], "Bearer x", {"Records": []}):
        check_refusal(handler(event, None), "rest", 401, "missing_token", "Bearer")


# --- current_claims and the async runner -----------------------------------------------


def test_current_claims_reset_after_an_exception(pool: LocalUserPool, clock: Any) -> None:
    auth = LambdaAuth(make_verifier(pool, clock))
    inside: list[Claims | None] = []

    @auth.required
    def boom(event: Any, context: Any) -> None:
        inside.append(auth.current_claims)
        raise RuntimeError("handler failed")

    @auth.required
    async def aboom(event: Any, context: Any) -> None:
        inside.append(auth.current_claims)
        raise RuntimeError("handler failed")

    for handler in (boom, aboom):
        with pytest.raises(RuntimeError):
            handler(proxy("http", bearer(pool.access_token())), None)
        assert auth.current_claims is None
    assert [c.username if c else None for c in inside] == ["alice", "alice"]


def test_claims_do_not_leak_into_the_next_invocation(pool: LocalUserPool, clock: Any) -> None:
    auth = LambdaAuth(make_verifier(pool, clock))
    seen: list[str | None] = []

    @auth.required(optional=True)
    def handler(event: Any, context: Any) -> dict[str, Any]:
        claims = auth.current_claims
        seen.append(claims.username if claims else None)
        return {"statusCode": 200}

    handler(proxy("rest", bearer(pool.access_token("bob"))), None)
    handler(proxy("rest", None), None)
    handler(proxy("rest", bearer(pool.access_token("carol"))), None)
    assert seen == ["bob", None, "carol"]


def test_async_handler_uses_averify_and_one_loop_across_invocations(
    pool: LocalUserPool, clock: Any
) -> None:
    verifier = make_verifier(pool, clock)
    auth = LambdaAuth(verifier)

    def no_sync(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("an async handler must not verify synchronously")

    verifier.verify = no_sync  # type: ignore[method-assign]
    loops: list[asyncio.AbstractEventLoop] = []

    @auth.required
    async def handler(event: Any, context: Any) -> dict[str, Any]:
        loops.append(asyncio.get_running_loop())
        return {"statusCode": 200}

    for _ in range(3):
        assert handler(proxy("http", bearer(pool.access_token())), None)["statusCode"] == 200
    assert len(loops) == 3 and loops[0] is loops[1] is loops[2]
    assert not loops[0].is_running() and not loops[0].is_closed()
    assert handler.__name__ == "handler"
    assert not asyncio.iscoroutinefunction(handler)  # Lambda calls a plain function


def test_async_handler_fetches_keys_from_a_real_jwks_server(
    pool: LocalUserPool, clock: Any
) -> None:
    with pool.serve() as server:
        verifier = CognitoVerifier(
            pool.user_pool_id,
            client_id="client-a",
            token_use="access",
            jwks_url=server.jwks_url,
            allow_insecure_jwks_url=True,
            clock=clock,
        )
        auth = LambdaAuth(verifier)

        @auth.required
        async def handler(event: Any, context: Any) -> dict[str, Any]:
            claims = auth.current_claims
            assert claims is not None
            return {"statusCode": 200, "body": claims.username}

        for _ in range(2):
            response = handler(proxy("function_url", bearer(pool.access_token())), None)
            assert response == {"statusCode": 200, "body": "alice"}
        assert server.request_count == 1


def test_async_handler_inside_a_running_loop_says_so(pool: LocalUserPool, clock: Any) -> None:
    auth = LambdaAuth(make_verifier(pool, clock))

    @auth.required
    async def handler(event: Any, context: Any) -> dict[str, Any]:
        return {"statusCode": 200}

    async def main() -> None:
        with pytest.raises(RuntimeError, match="running event loop"):
            handler(proxy("http", bearer(pool.access_token())), None)

    asyncio.run(main())


def test_bare_decorator_and_bad_requirements(pool: LocalUserPool, clock: Any) -> None:
    auth = LambdaAuth(make_verifier(pool, clock))

    @auth.required
    def handler(event: Any, context: Any) -> dict[str, Any]:
        return {"statusCode": 200}

    assert handler(proxy("alb", bearer(pool.access_token())), None) == {"statusCode": 200}
    with pytest.raises(TypeError):
        auth.required(groups=[1])  # type: ignore[list-item]
    with pytest.raises(Exception, match="CognitoVerifier"):
        LambdaAuth("not a verifier")  # type: ignore[arg-type]


def test_builder_events_match_the_samples(pool: LocalUserPool) -> None:
    """The test kit's events have the fields of AWS's own sample events."""
    pairs = {"rest": "rest", "http": "http", "alb": "alb", "alb_multi": "alb_multi"}
    pairs["function_url"] = "function_url"
    for built_shape, sample in pairs.items():
        built = pool.lambda_event(built_shape, pool.access_token())
        reference = load(PROXY[sample])
        assert set(built) <= set(reference) | {"body"}, built_shape
        assert set(built["requestContext"]) <= set(reference["requestContext"]) | {
            "identity",
            "authorizer",
            "extendedRequestId",
            "resourceId",
        }, built_shape
        assert event_shape(built) == event_shape(reference)
    assert (
        with_authorization(pool.lambda_event("rest"), None)["headers"].get("Authorization") is None
    )


def test_import_pulls_in_no_web_framework_and_no_aws_sdk() -> None:
    forbidden = [
        "flask",
        "fastapi",
        "starlette",
        "django",
        "rest_framework",
        "werkzeug",
        "uvicorn",
        "boto3",
        "botocore",
        "aiobotocore",
        "aws_lambda_powertools",
    ]
    code = (
        "import json, sys; {imp}; "
        f"print(json.dumps(sorted(m for m in {forbidden!r} "
        "if any(k == m or k.startswith(m + '.') for k in sys.modules))))"
    )
    run = [sys.executable, "-c"]
    imp = "import cognito_verify.integrations.aws_lambda"
    out = subprocess.run(
        [*run, code.format(imp=imp)], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(out.stdout) == []
    # The probe sees an SDK when one is imported (so it can fail).
    probe = code.format(imp=imp + "; import botocore")
    out = subprocess.run([*run, probe], capture_output=True, text=True, check=True, timeout=60)
    assert json.loads(out.stdout) == ["botocore"]


def test_docs_example_every_handler(pool: LocalUserPool, monkeypatch: pytest.MonkeyPatch) -> None:
    import time
    from pathlib import Path

    from _adapter_matrix import load_example

    pool.clock = time.time  # the example verifies with the real clock

    path = Path(__file__).resolve().parents[1] / "docs" / "examples" / "aws_lambda_app.py"
    with pool.serve() as server:
        monkeypatch.setenv("COGNITO_USER_POOL_ID", pool.user_pool_id)
        monkeypatch.setenv("COGNITO_CLIENT_ID", "client-a")
        monkeypatch.setenv("COGNITO_JWKS_URL", server.jwks_url)
        app = load_example(path)
        assert server.request_count == 1  # hydrated during init
        reader = pool.access_token(scopes=["orders-api/orders.read"])
        admin = pool.access_token(groups=["admin"])
        for shape in ("rest", "http", "alb", "alb_multi", "function_url"):
            good = app.orders(pool.lambda_event(shape, reader), None)
            assert good == {"statusCode": 200, "body": "orders of alice"}
            assert app.orders(pool.lambda_event(shape, admin), None)["statusCode"] == 403
            assert app.orders(pool.lambda_event(shape, None), None)["statusCode"] == 401
            answer = app.orders_async(pool.lambda_event(shape, admin), None)
            assert answer == {"statusCode": 200, "body": "async orders of alice"}
        for shape in ("rest", "http"):
            event = pool.lambda_event(shape, pool.access_token(groups=["ops"]), authorizer=True)
            assert app.profile(event, None)["body"] == "alice in ['ops']"
        for kind in ("rest_token_authorizer", "rest_request_authorizer"):
            answer = app.rest_authorizer(pool.lambda_event(kind, reader), None)
            assert answer["policyDocument"]["Statement"][0]["Effect"] == "Allow"
        answer = app.http_authorizer(pool.lambda_event("http_authorizer", reader), None)
        assert answer["isAuthorized"] is True
        answer = app.appsync_authorizer(pool.lambda_event("appsync_authorizer", reader), None)
        assert answer["isAuthorized"] is True
        assert server.request_count == 1


# --- token sources and the load balancer's claims (issue 11's shared definitions) -------


def cookie_event(shape: str, cookie: str, method: str, **headers: str) -> dict[str, Any]:
    event = proxy(shape, None)
    if shape == "http":  # payload 2.0 carries cookies in their own list
        event["cookies"] = ["theme=dark", cookie]
        event["requestContext"]["http"]["method"] = method
        event["headers"] |= headers
    else:
        event["httpMethod"] = method
        event["headers"] |= {"Cookie": f"theme=dark; {cookie}", **headers}
        event["multiValueHeaders"] |= {"Cookie": [f"theme=dark; {cookie}"]}
        event["multiValueHeaders"] |= {k: [v] for k, v in headers.items()}
    return event


@pytest.mark.parametrize("shape", ["http", "rest"])
def test_cookie_token_source_with_the_csrf_rule(
    shape: str, pool: LocalUserPool, clock: Any
) -> None:
    from cognito_verify.integrations import TokenSource

    auth = LambdaAuth(make_verifier(pool, clock), token_source=TokenSource.cookie("access_token"))
    handler = handlers(auth, "sync")["/protected"]
    cookie = f"access_token={pool.access_token()}"
    assert handler(cookie_event(shape, cookie, "GET"), None)["statusCode"] == 200
    refused = handler(cookie_event(shape, cookie, "POST"), None)
    check_refusal(refused, "rest", 403, "cross_site_request", None)
    same_site = cookie_event(shape, cookie, "POST", **{"sec-fetch-site": "same-origin"})
    assert handler(same_site, None)["statusCode"] == 200
    # The default stays Authorization: Bearer only.
    default = handlers(LambdaAuth(make_verifier(pool, clock)), "sync")["/protected"]
    check_refusal(
        default(cookie_event(shape, cookie, "GET"), None), "rest", 401, "missing_token", "Bearer"
    )


def test_header_token_source_and_alb_claims(pool: LocalUserPool, clock: Any) -> None:
    from cognito_verify.testing import LocalAlb

    alb = LocalAlb(pool=pool, clock=clock)
    with (
        alb.serve() as server,
        alb.verifier(
            server.public_keys_url, clock=clock, allow_insecure_keys_url=True
        ) as alb_verifier,
    ):
        auth = LambdaAuth(make_verifier(pool, clock), alb=alb_verifier)
        seen: list[tuple[str | None, str | None]] = []

        @auth.required
        def handler(event: Any, context: Any) -> dict[str, Any]:
            claims, alb_claims = auth.current_claims, auth.current_alb_claims
            assert claims is not None and alb_claims is not None
            seen.append((claims.username, alb_claims.get("email")))
            return {"statusCode": 200}

        for shape in ("alb", "alb_multi"):
            event = proxy(shape, None)
            sent = alb.headers("alice")
            if shape == "alb":
                event["headers"] |= sent
            else:
                event["multiValueHeaders"] |= {k: [v] for k, v in sent.items()}
            assert handler(event, None) == {"statusCode": 200}
            # Without the load balancer's signed claims: refused.
            if shape == "alb":
                del event["headers"]["x-amzn-oidc-data"]
            else:
                del event["multiValueHeaders"]["x-amzn-oidc-data"]
            check_refusal(handler(event, None), shape, 401, "missing_token", "Bearer")
        assert seen == [("alice", "alice@example.com")] * 2
        assert auth.current_claims is None and auth.current_alb_claims is None


def test_authorizers_with_token_sources(pool: LocalUserPool, clock: Any) -> None:
    from _lambda_samples import REST_REQUEST, REST_TOKEN, load

    from cognito_verify import CrossSiteRequestError
    from cognito_verify.integrations import TokenSource
    from cognito_verify.integrations.aws_lambda import Unauthorized

    token = pool.access_token()
    bare = LambdaAuth(make_verifier(pool, clock), token_source=TokenSource.header("x-token"))
    event = load(REST_TOKEN[1]) | {"authorizationToken": token}
    assert (
        bare.rest_authorizer()(event, None)["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    )
    with pytest.raises(Unauthorized):  # the default wants "Bearer <token>"
        LambdaAuth(make_verifier(pool, clock)).rest_authorizer()(event, None)

    cookies = LambdaAuth(make_verifier(pool, clock), token_source=TokenSource.cookie("id"))
    request = with_authorization(load(REST_REQUEST[1]), None)
    request["httpMethod"] = "GET"
    request["headers"]["Cookie"] = f"id={token}"
    request["multiValueHeaders"]["Cookie"] = [f"id={token}"]
    answer = cookies.rest_authorizer()(request, None)
    assert answer["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    request["httpMethod"] = "POST"
    # Not a Deny: API Gateway would cache it for the cookie and lock the user out.
    with pytest.raises(CrossSiteRequestError):
        cookies.rest_authorizer()(request, None)


def test_public_surface() -> None:
    from cognito_verify.integrations import aws_lambda, powertools

    assert aws_lambda.__all__ == [
        "LambdaAuth",
        "Unauthorized",
        "claims_from_event",
        "event_shape",
        "scalar_context",
    ]
    assert powertools.__all__ == ["CognitoAuthMiddleware", "CONTEXT_KEY", "ALB_CONTEXT_KEY"]
    for module in (aws_lambda, powertools):
        for name in module.__all__:
            assert getattr(module, name) is not None


@pytest.mark.parametrize("shape", SHAPES)
def test_max_auth_age_asks_for_a_fresh_sign_in(shape: str, pool: LocalUserPool, clock: Any) -> None:
    from _lambda_samples import REST_TOKEN

    from cognito_verify.integrations.aws_lambda import Unauthorized
    from cognito_verify.integrations.powertools import CognitoAuthMiddleware

    auth = LambdaAuth(make_verifier(pool, clock))
    handler = auth.required(max_auth_age=300)(lambda event, context: {"statusCode": 200})
    old = pool.access_token(claims={"auth_time": clock() - 301})
    fresh = pool.access_token(claims={"auth_time": clock() - 299})
    assert handler(proxy(shape, bearer(fresh)), None)["statusCode"] == 200
    refused = handler(proxy(shape, bearer(old)), None)
    assert refused["statusCode"] == 401
    challenge = headers_of(refused, FORMAT[shape])["WWW-Authenticate"]
    assert 'error="insufficient_user_authentication"' in challenge
    assert challenge.endswith("max_age=300")
    # The same rule in the authorizers and the powertools middleware's constructor.
    authorizer = auth.rest_authorizer(max_auth_age=300)
    event = load(REST_TOKEN[1])
    allowed = authorizer(event | {"authorizationToken": bearer(fresh)}, None)
    assert allowed["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    with pytest.raises(Unauthorized):
        authorizer(event | {"authorizationToken": bearer(old)}, None)
    with pytest.raises(TypeError):
        CognitoAuthMiddleware(auth, max_auth_age="300")  # type: ignore[arg-type]
