"""Django Ninja: the shared refusal matrix through Django's sync and async test clients
(with and without CognitoMiddleware), under uvicorn and Django's threaded WSGI server,
Ninja's own answers without our handler, and the OpenAPI scheme."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.conf import settings

# One Django configuration per process: the Django adapter's test module owns it (its
# tests read the settings as it set them). Importing it first configures Django the same
# whichever module pytest collects first; the fixtures below override what differs.
if not settings.configured:
    import test_integrations_django  # noqa: F401

from _adapter_matrix import (  # noqa: E402
    CASES,
    Case,
    bearer,
    check,
    closed_jwks_url,
    joined,
)
from _asgi_support import uvicorn_server  # noqa: E402
from django.core.asgi import get_asgi_application  # noqa: E402
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.http import HttpRequest  # noqa: E402
from django.test import AsyncClient, Client, override_settings  # noqa: E402
from django.urls import path  # noqa: E402
from ninja import NinjaAPI  # noqa: E402

from cognito_verify import Claims  # noqa: E402
from cognito_verify.integrations.django import get_verifier  # noqa: E402
from cognito_verify.integrations.ninja import (  # noqa: E402
    AsyncCognitoBearer,
    CognitoBearer,
    CognitoRefusal,
    cognito_exception_handler,
)
from cognito_verify.testing import LocalUserPool  # noqa: E402

EXAMPLE = Path(__file__).parent.parent / "docs" / "examples" / "ninja_app.py"
MIDDLEWARE = "cognito_verify.integrations.django.CognitoMiddleware"


def _me(request: HttpRequest) -> dict[str, Any]:
    claims = getattr(request, "auth", None) or getattr(request, "cognito_claims", None)
    return {"username": claims.username if claims else None}


def build_api(namespace: str, *, handler: bool) -> NinjaAPI:
    api = NinjaAPI(auth=CognitoBearer(), urls_namespace=namespace)
    if handler:
        api.add_exception_handler(CognitoRefusal, cognito_exception_handler)

    @api.get("/protected")
    def protected(request: HttpRequest) -> dict[str, Any]:
        assert isinstance(request.auth, Claims)  # type: ignore[attr-defined]
        return _me(request)

    @api.get("/admin", auth=AsyncCognitoBearer(groups="admin"))
    async def admin(request: HttpRequest) -> dict[str, Any]:
        return _me(request)

    @api.get("/write", auth=CognitoBearer(scopes="orders/write"))
    def write(request: HttpRequest) -> dict[str, Any]:
        return _me(request)

    @api.get("/async-write", auth=AsyncCognitoBearer(all_scopes=["orders/write"]))
    def async_auth_sync_view(request: HttpRequest) -> dict[str, Any]:
        return _me(request)

    @api.get("/recent", auth=CognitoBearer(max_auth_age=300))
    def recent(request: HttpRequest) -> dict[str, Any]:
        return _me(request)

    @api.get("/async-recent", auth=AsyncCognitoBearer(max_auth_age=300))
    async def async_recent(request: HttpRequest) -> dict[str, Any]:
        return _me(request)

    @api.post("/submit")
    def submit(request: HttpRequest) -> dict[str, Any]:
        return _me(request)

    @api.post("/async-submit", auth=AsyncCognitoBearer())
    async def async_submit(request: HttpRequest) -> dict[str, Any]:
        return _me(request)

    @api.get("/optional", auth=None)  # anonymous allowed: only the middleware looks
    def optional(request: HttpRequest) -> dict[str, Any]:
        return _me(request)

    return api


api = build_api("cognito", handler=True)
plain_api = build_api("cognito-plain", handler=False)
urlpatterns = [path("", api.urls), path("plain/", plain_api.urls)]


def cognito_settings(pool: LocalUserPool, clock: Any, **extra: Any) -> dict[str, Any]:
    return {
        "USER_POOL_ID": pool.user_pool_id,
        "CLIENT_ID": "client-a",
        "TOKEN_USE": "access",
        "JWKS": pool.jwks,
        "CLOCK": clock,
        **extra,
    }


@pytest.fixture
def cognito(pool: LocalUserPool, clock: Any) -> Iterator[None]:
    with override_settings(
        ROOT_URLCONF=__name__, MIDDLEWARE=[], COGNITO_VERIFY=cognito_settings(pool, clock)
    ):
        yield


def get(stack: str, url: str, header: str | list[str] | None) -> Any:
    headers = joined(header)
    if stack == "sync":
        return Client().get(url, headers=headers)
    return asyncio.run(AsyncClient().get(url, headers=headers))


MATRIX = [
    pytest.param(case, middleware, id=f"{case.name}-{'middleware' if middleware else 'bearer'}")
    for case in CASES
    for middleware in (True, False)
    if middleware or case.path != "/optional"
]


@pytest.mark.parametrize("stack", ["sync", "async"])
@pytest.mark.parametrize(("case", "middleware"), MATRIX)
def test_matrix(
    case: Case, middleware: bool, stack: str, pool: LocalUserPool, clock: Any, cognito: None
) -> None:
    header = case.header(pool, clock)
    with override_settings(MIDDLEWARE=[MIDDLEWARE] if middleware else []):
        response = get(stack, case.path, header)
    check(case, response.status_code, response.headers, response.content, header)
    if case.status != 200:
        assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("stack", ["sync", "async"])
@pytest.mark.parametrize("route", ["/protected", "/admin"])
def test_keys_unavailable_is_503(stack: str, route: str, pool: LocalUserPool, clock: Any) -> None:
    config = cognito_settings(pool, clock, JWKS=None, JWKS_URL=closed_jwks_url())
    with override_settings(ROOT_URLCONF=__name__, MIDDLEWARE=[], COGNITO_VERIFY=config):
        response = get(stack, route, bearer(pool.access_token(groups=["admin"])))
    assert response.status_code == 503
    assert response.json() == {
        "error": "jwks_unavailable",
        "message": "Authentication is temporarily unavailable.",
    }
    assert response.headers["Retry-After"] == "5"


@pytest.mark.parametrize(
    ("route", "header", "status", "detail"),
    [
        ("/protected", None, 401, "The request is not authenticated."),
        ("/write", "token", 403, "The caller is not allowed to do this."),
    ],
)
def test_ninja_default_answer_without_our_handler(
    route: str,
    header: str | None,
    status: int,
    detail: str,
    pool: LocalUserPool,
    clock: Any,
    cognito: None,
) -> None:
    token = pool.access_token() if header else None
    response = get("sync", "/plain" + route, bearer(token) if token else None)
    assert (response.status_code, response.json()) == (status, {"detail": detail})


def test_middleware_claims_are_reused(
    pool: LocalUserPool, clock: Any, cognito: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    original = get_verifier().verify
    monkeypatch.setattr(
        get_verifier(), "verify", lambda t, **kw: calls.append(t) or original(t, **kw)
    )
    token = pool.access_token(scopes=["orders/write"])
    with override_settings(MIDDLEWARE=[MIDDLEWARE]):
        response = Client().get("/write", headers={"Authorization": bearer(token)})
    assert response.json() == {"username": "alice"}
    assert calls == [token]  # verified once, by the middleware


def test_verifier_follows_settings(pool: LocalUserPool, clock: Any, cognito: None) -> None:
    token = bearer(pool.access_token(client_id="client-b"))
    assert get("sync", "/protected", token).status_code == 401
    with override_settings(COGNITO_VERIFY=cognito_settings(pool, clock, CLIENT_ID="client-b")):
        assert get("sync", "/protected", token).status_code == 200


def test_explicit_verifier_and_bad_arguments(pool: LocalUserPool, clock: Any) -> None:
    verifier = pool.verifier(token_use="access", client_id="client-a", clock=clock)
    assert CognitoBearer(verifier=verifier).verifier is verifier
    with pytest.raises(TypeError):
        CognitoBearer(groups=5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        AsyncCognitoBearer(verifier="nope")  # type: ignore[arg-type]


def test_openapi_lists_the_bearer_scheme(cognito: None) -> None:
    schema = api.get_openapi_schema()
    schemes = schema["components"]["securitySchemes"]
    assert {name: value for name, value in schemes.items()} == {
        "CognitoBearer": {"type": "http", "scheme": "bearer"},
        "AsyncCognitoBearer": {"type": "http", "scheme": "bearer"},
    }
    assert "security" not in schema["paths"]["/optional"]["get"]


def test_basic_credentials_are_never_logged(
    pool: LocalUserPool, clock: Any, cognito: None, caplog: pytest.LogCaptureFixture
) -> None:
    with override_settings(DEBUG=True):
        response = get("sync", "/protected", "Basic c2VjcmV0OnBhc3N3b3Jk")
    assert (response.status_code, response.json()["error"]) == (401, "missing_token")
    assert "c2VjcmV0OnBhc3N3b3Jk" not in caplog.text


def _exercise(base: str, pool: LocalUserPool) -> None:
    with httpx.Client(base_url=base, timeout=30) as http:
        anonymous = http.get("/protected")
        assert (anonymous.status_code, anonymous.headers["www-authenticate"]) == (401, "Bearer")
        token = pool.access_token(groups=["admin"], scopes=["orders/write"])
        for route in ("/protected", "/admin", "/write", "/async-write"):
            ok = http.get(route, headers={"Authorization": bearer(token)})
            assert (route, ok.status_code, ok.json()) == (route, 200, {"username": "alice"})
        forbidden = http.get("/write", headers={"Authorization": bearer(pool.access_token())})
        assert forbidden.status_code == 403
        assert forbidden.headers["www-authenticate"] == (
            'Bearer error="insufficient_scope", scope="orders/write"'
        )
        expired = http.get("/admin", headers={"Authorization": "Bearer x.y.z"})
        assert (expired.status_code, expired.json()["error"]) == (401, "malformed_token")
        assert "x.y.z" not in expired.text


def test_uvicorn_asgi(pool: LocalUserPool, clock: Any, cognito: None) -> None:
    with uvicorn_server(get_asgi_application()) as base:
        _exercise(base, pool)


def test_wsgi_server(pool: LocalUserPool, clock: Any, cognito: None) -> None:
    server = ThreadedWSGIServer(("127.0.0.1", 0), WSGIRequestHandler)
    server.set_app(get_wsgi_application())
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        _exercise(f"http://127.0.0.1:{server.server_address[1]}", pool)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_example_app_runs(pool: LocalUserPool, clock: Any) -> None:
    clock.now = time.time()  # the example verifies with the real clock
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pool.serve() as jwks:
        env = {
            **os.environ,
            "COGNITO_USER_POOL_ID": pool.user_pool_id,
            "COGNITO_CLIENT_ID": pool.client_id,
            "COGNITO_JWKS_URL": jwks.jwks_url,
        }
        env.pop("DJANGO_SETTINGS_MODULE", None)
        command = [sys.executable, str(EXAMPLE), "runserver", f"127.0.0.1:{port}", "--noreload"]
        proc = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        try:
            deadline = time.monotonic() + 30
            with httpx.Client(base_url=f"http://127.0.0.1:{port}/api", timeout=30) as http:
                while True:
                    try:
                        health = http.get("/health")
                        break
                    except httpx.TransportError:
                        assert proc.poll() is None, proc.communicate()[1]
                        assert time.monotonic() < deadline, "the example did not start"
                        time.sleep(0.05)  # waiting for the server to listen
                assert health.json() == {"status": "ok"}
                anonymous = http.get("/me")
                assert (anonymous.status_code, anonymous.headers["WWW-Authenticate"]) == (
                    401,
                    "Bearer",
                )
                token = pool.access_token("dora", groups=["admin"], scopes=["orders/read"])
                auth = {"Authorization": bearer(token)}
                assert http.get("/me", headers=auth).json() == {
                    "username": "dora",
                    "groups": ["admin"],
                }
                assert http.get("/admin", headers=auth).json() == {"admin": True}
                assert http.get("/orders", headers=auth).json() == {"orders": [], "for": "dora"}
                plain = {"Authorization": bearer(pool.access_token())}
                refused = http.get("/orders", headers=plain)
                assert (refused.status_code, refused.json()["error"]) == (
                    403,
                    "insufficient_scope",
                )
                assert refused.headers["Cache-Control"] == "no-store"
                assert http.get("/admin", headers=plain).status_code == 403
        finally:
            proc.terminate()
            proc.communicate(timeout=10)


@pytest.mark.parametrize("middleware", [True, False])
@pytest.mark.parametrize("stack", ["sync", "async"])
def test_step_up(
    middleware: bool, stack: str, pool: LocalUserPool, clock: Any, cognito: None
) -> None:
    token = bearer(pool.access_token())
    with override_settings(MIDDLEWARE=[MIDDLEWARE] if middleware else []):
        assert get(stack, "/recent", token).status_code == 200
        assert get(stack, "/async-recent", token).status_code == 200
        clock.advance(301)
        for route in ("/recent", "/async-recent"):
            stale = get(stack, route, token)
            assert stale.status_code == 401, route
            assert stale.json()["error"] == "insufficient_user_authentication"
            assert "max_age=300" in stale.headers["WWW-Authenticate"]


@pytest.mark.parametrize("route", ["/submit", "/async-submit"])
def test_a_middleware_cookie_without_our_csrf_rule_gets_djangos(
    pool: LocalUserPool, clock: Any, route: str
) -> None:
    # Ninja's views are exempt from CsrfViewMiddleware: a token the middleware read
    # from a cookie whose own CSRF rule is off must still meet Django's CSRF check.
    from django.middleware.csrf import _get_new_csrf_string  # type: ignore[attr-defined]

    from cognito_verify.integrations import TokenSource

    source = TokenSource.cookie("session", csrf_protection=False)
    config = cognito_settings(pool, clock, TOKEN_SOURCE=[TokenSource.bearer(), source])
    with override_settings(ROOT_URLCONF=__name__, MIDDLEWARE=[MIDDLEWARE], COGNITO_VERIFY=config):
        client = Client(enforce_csrf_checks=True)
        client.cookies["session"] = pool.access_token()
        refused = client.post(route)
        assert refused.status_code == 403, refused.content
        assert refused.json()["error"] == "cross_site_request"
        secret = _get_new_csrf_string()
        client.cookies["csrftoken"] = secret
        ok = client.post(route, headers={"X-CSRFToken": secret})
        assert ok.json() == {"username": "alice"}
        del client.cookies["session"]
        bearer_only = client.post(route, headers={"Authorization": bearer(pool.access_token())})
        assert bearer_only.json() == {"username": "alice"}
