"""Every adapter with every token source: Authorization: Bearer (the default, and the
only default), a named header, a cookie (with its CSRF rule), and the load balancer's
x-amzn-oidc-data with or without the access token next to it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import django
import pytest
from django.conf import settings

if not settings.configured:  # the Django test module may have configured it already
    settings.configure(
        DEBUG=False,
        SECRET_KEY="cognito-verify-tests",
        ROOT_URLCONF=__name__,
        ALLOWED_HOSTS=["127.0.0.1", "testserver"],
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "rest_framework"],
        MIDDLEWARE=["cognito_verify.integrations.django.CognitoMiddleware"],
        DATABASES={},
        USE_TZ=True,
        LOGGING_CONFIG=None,
        REST_FRAMEWORK={"UNAUTHENTICATED_USER": None},
    )
    django.setup()

from django.http import HttpRequest, JsonResponse  # noqa: E402
from django.test import Client as DjangoClient  # noqa: E402
from django.test import override_settings  # noqa: E402
from django.urls import path  # noqa: E402
from fastapi import Request as FastAPIRequest  # noqa: E402
from rest_framework.permissions import IsAuthenticated  # noqa: E402
from rest_framework.renderers import JSONRenderer  # noqa: E402
from rest_framework.request import Request  # noqa: E402
from rest_framework.response import Response  # noqa: E402
from rest_framework.views import APIView  # noqa: E402

from cognito_verify import AlbVerifier, Claims, CognitoVerifier  # noqa: E402
from cognito_verify.integrations import TokenSource  # noqa: E402
from cognito_verify.integrations.django import cognito_required  # noqa: E402
from cognito_verify.testing import LocalAlb, LocalUserPool  # noqa: E402
from tests.conftest import Clock  # noqa: E402

ARN = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188"
ADAPTERS = ["flask", "wsgi", "asgi", "starlette", "fastapi", "django", "drf"]

Call = Callable[[str, dict[str, str]], tuple[int, dict[str, Any]]]


def _body(claims: Claims | None, alb_claims: Claims | None) -> dict[str, Any]:
    return {
        "username": claims.username if claims else None,
        "alb_sub": alb_claims.sub if alb_claims else None,
    }


# --- one app per adapter, the same route: GET/POST /me ---------------------------------


def flask_app(verifier: Any, alb: Any, source: Any) -> Call:
    from flask import Flask, g

    from cognito_verify.integrations.flask import CognitoAuth

    app = Flask(__name__)
    auth = CognitoAuth(verifier, app=app, token_source=source, alb=alb)

    @app.route("/me", methods=["GET", "POST"])
    @auth.required
    def me() -> Any:
        return _body(g.cognito_claims, g.alb_claims)

    def call(method: str, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        client = _with_cookies(app.test_client(), headers)
        r = client.open("/me", method=method, headers=headers)
        return r.status_code, r.get_json()

    return call


def _with_cookies(client: Any, headers: dict[str, str]) -> Any:
    # werkzeug's test client writes the Cookie header from its own jar.
    for pair in headers.pop("Cookie", "").split(";"):
        name, eq, value = pair.strip().partition("=")
        if eq:
            client.set_cookie(name, value)
    return client


def wsgi_app(verifier: Any, alb: Any, source: Any) -> Call:
    from werkzeug.test import Client

    from cognito_verify.integrations.wsgi import CognitoWSGIMiddleware

    def inner(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "application/json")])
        body = _body(environ["cognito.claims"], environ["cognito.alb_claims"])
        return [json.dumps(body).encode()]

    wrapped = CognitoWSGIMiddleware(inner, verifier, token_source=source, alb=alb)

    def call(method: str, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        client = _with_cookies(Client(wrapped), headers)
        r = client.open("/me", method=method, headers=headers)
        return r.status_code, json.loads(r.get_data())

    return call


def _testclient(app: Any) -> Call:
    from starlette.testclient import TestClient

    client = TestClient(app)

    def call(method: str, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        r = client.request(method, "/me", headers=headers)
        return r.status_code, r.json()

    return call


def asgi_app(verifier: Any, alb: Any, source: Any) -> Call:
    from cognito_verify.integrations.asgi import CognitoASGIMiddleware

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        body = json.dumps(_body(scope["cognito.claims"], scope["cognito.alb_claims"])).encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    return _testclient(CognitoASGIMiddleware(inner, verifier, token_source=source, alb=alb))


def starlette_app(verifier: Any, alb: Any, source: Any) -> Call:
    from starlette.applications import Starlette
    from starlette.requests import Request as StarletteRequest
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from cognito_verify.integrations.starlette import CognitoAuthBackend

    backend = CognitoAuthBackend(verifier, token_source=source, alb=alb)

    @backend.required()
    async def me(request: StarletteRequest) -> JSONResponse:
        return JSONResponse(_body(request.user.claims, request.user.alb_claims))

    app = Starlette(
        routes=[Route("/me", me, methods=["GET", "POST"])], middleware=[backend.middleware()]
    )
    return _testclient(app)


def fastapi_app(verifier: Any, alb: Any, source: Any) -> Call:
    from fastapi import Depends, FastAPI

    from cognito_verify.integrations.fastapi import CognitoAuth

    auth = CognitoAuth(verifier, token_source=source, alb=alb)
    app = FastAPI()

    @app.api_route("/me", methods=["GET", "POST"])
    async def me(request: FastAPIRequest, claims: Claims = Depends(auth)) -> dict[str, Any]:  # noqa: B008
        return _body(claims, request.state.alb_claims)

    return _testclient(app)


@cognito_required
def django_me(request: HttpRequest) -> JsonResponse:
    return JsonResponse(_body(request.cognito_claims, request.alb_claims))  # type: ignore[attr-defined]


class DRFMe(APIView):  # type: ignore[misc]
    from cognito_verify.integrations.drf import CognitoAuthentication

    authentication_classes = [CognitoAuthentication]
    permission_classes = [IsAuthenticated]
    renderer_classes = [JSONRenderer]

    def get(self, request: Request) -> Response:
        django_request = request._request
        return Response(_body(request.auth, django_request.alb_claims))

    post = get


urlpatterns = [path("me-django", django_me), path("me-drf", DRFMe.as_view())]


def _django(route: str) -> Callable[[Any, Any, Any], Call]:
    def build(verifier: Any, alb: Any, source: Any) -> Call:
        config: dict[str, Any] = {"VERIFIER": verifier}
        if source is not None:
            config["TOKEN_SOURCE"] = source
        if alb is not None:
            config["ALB_VERIFIER"] = alb

        def call(method: str, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
            with override_settings(COGNITO_VERIFY=config, ROOT_URLCONF=__name__):
                client = DjangoClient()
                r = client.generic(method, route, headers=headers)
            return r.status_code, json.loads(r.content)

        return call

    return build


BUILDERS: dict[str, Callable[[Any, Any, Any], Call]] = {
    "flask": flask_app,
    "wsgi": wsgi_app,
    "asgi": asgi_app,
    "starlette": starlette_app,
    "fastapi": fastapi_app,
    "django": _django("/me-django"),
    "drf": _django("/me-drf"),
}


def code_of(body: dict[str, Any]) -> str | None:
    detail = body.get("detail")
    if isinstance(detail, dict):
        return detail.get("error")
    return body.get("error") or body.get("code")


# --- the scenarios ----------------------------------------------------------------------


@dataclass(frozen=True)
class World:
    pool: LocalUserPool
    alb: LocalAlb
    verifier: CognitoVerifier
    alb_verifier: AlbVerifier
    forged: LocalAlb


@pytest.fixture
def world(pool: LocalUserPool, clock: Clock) -> Iterator[World]:
    alb = LocalAlb(ARN, pool=pool, client_id="client-a", clock=clock)
    forged = LocalAlb(ARN.replace("123456789012", "999999999999"), pool=pool, clock=clock)
    with alb.serve() as server:
        with alb.verifier(server.public_keys_url, clock=clock) as alb_verifier:
            verifier = pool.verifier(token_use="access", client_id="client-a", clock=clock)
            yield World(pool, alb, verifier, alb_verifier, forged)


SOURCES: dict[str, Any] = {
    "default": None,
    "header": TokenSource.header("x-amzn-oidc-accesstoken"),
    "cookie": TokenSource.cookie("access_token"),
    "alb": None,
    "alb_only": None,
}

H = Callable[[World], dict[str, str]]


def bearer(w: World) -> dict[str, str]:
    return {"Authorization": f"Bearer {w.pool.access_token()}"}


def in_header(w: World) -> dict[str, str]:
    return {"x-amzn-oidc-accesstoken": w.pool.access_token()}


def in_cookie(w: World) -> dict[str, str]:
    return {"Cookie": f"theme=dark; access_token={w.pool.access_token()}"}


CASES: list[tuple[str, str, str, H, int, str | None]] = [
    # config, name, method, headers, status, code (None: accepted as alice)
    ("default", "bearer", "GET", bearer, 200, None),
    ("default", "bearer_post", "POST", bearer, 200, None),
    ("default", "header_ignored", "GET", in_header, 401, "missing_token"),
    ("default", "cookie_ignored", "GET", in_cookie, 401, "missing_token"),
    ("default", "alb_ignored", "GET", lambda w: w.alb.headers(), 401, "missing_token"),
    ("header", "header", "GET", in_header, 200, None),
    ("header", "bearer_ignored", "GET", bearer, 401, "missing_token"),
    ("cookie", "cookie_get", "GET", in_cookie, 200, None),
    ("cookie", "cookie_post_cross_site", "POST", in_cookie, 403, "cross_site_request"),
    (
        "cookie",
        "cookie_post_custom_header",
        "POST",
        lambda w: in_cookie(w) | {"X-Requested-With": "fetch"},
        200,
        None,
    ),
    (
        "cookie",
        "cookie_post_same_origin",
        "POST",
        lambda w: in_cookie(w) | {"Sec-Fetch-Site": "same-origin"},
        200,
        None,
    ),
    ("cookie", "bearer_ignored", "GET", bearer, 401, "missing_token"),
    ("alb", "alb_get", "GET", lambda w: w.alb.headers(), 200, None),
    # The load balancer's headers ride on its session cookie: the cookie rule.
    ("alb", "alb_post_cross_site", "POST", lambda w: w.alb.headers(), 403, "cross_site_request"),
    (
        "alb",
        "alb_post_same_origin",
        "POST",
        lambda w: w.alb.headers() | {"Sec-Fetch-Site": "same-origin"},
        200,
        None,
    ),
    ("alb", "no_data", "GET", in_header, 401, "missing_token"),
    ("alb", "other_signer", "GET", lambda w: w.forged.headers(), 401, "invalid_signer"),
    ("alb_only", "data", "GET", lambda w: {"x-amzn-oidc-data": w.alb.data_token()}, 200, None),
    ("alb_only", "nothing", "GET", lambda w: {}, 401, "missing_token"),
]


@pytest.mark.parametrize("adapter", ADAPTERS)
@pytest.mark.parametrize(
    ("config", "name", "method", "headers", "status", "code"),
    CASES,
    ids=[f"{c[0]}-{c[1]}" for c in CASES],
)
def test_token_sources(
    world: World,
    adapter: str,
    config: str,
    name: str,
    method: str,
    headers: H,
    status: int,
    code: str | None,
) -> None:
    if config == "alb_only" and adapter in ("django", "drf"):
        pytest.skip("Django takes its Cognito verifier from settings; the ALB adds to it")
    verifier = None if config == "alb_only" else world.verifier
    alb = world.alb_verifier if config.startswith("alb") else None
    call = BUILDERS[adapter](verifier, alb, SOURCES[config])
    got_status, body = call(method, headers(world))
    assert got_status == status, body
    if code is not None:
        # DRF answers an anonymous request itself (IsAuthenticated), in its own words.
        if not (adapter == "drf" and code == "missing_token"):
            assert code_of(body) == code, body
        return
    assert body["username"] == "alice"
    if alb is not None:
        assert body["alb_sub"] == world.alb.sub("alice")
    else:
        assert body["alb_sub"] is None
