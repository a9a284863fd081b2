"""Django and Django REST framework: the refusal matrix through Django's sync (WSGI) and
async (ASGI) stacks, with and without the middleware, DRF classes, the user hook, and
end to end under uvicorn, Django's threaded WSGI test server and the example app."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import django
import httpx
import pytest
import uvicorn
from django.conf import settings

# Configured once per process, before anything imports Django's app registry. Only
# this module uses Django, so no other test module is affected.
if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="cognito-verify-tests",
        ROOT_URLCONF=__name__,
        ALLOWED_HOSTS=["127.0.0.1", "testserver"],
        INSTALLED_APPS=[
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "rest_framework",
            "cognito_verify.integrations.django.CognitoVerifyConfig",
        ],
        MIDDLEWARE=["cognito_verify.integrations.django.CognitoMiddleware"],
        DATABASES={},
        USE_TZ=True,
        LOGGING_CONFIG=None,
        REST_FRAMEWORK={
            "DEFAULT_AUTHENTICATION_CLASSES": [
                "cognito_verify.integrations.drf.CognitoAuthentication"
            ],
            "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
            "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
            "EXCEPTION_HANDLER": "cognito_verify.integrations.drf.exception_handler",
            "UNAUTHENTICATED_USER": None,
        },
    )
    django.setup()

from _adapter_matrix import (  # noqa: E402
    CASES,
    IDS,
    SCOPE,
    Case,
    as_pairs,
    bearer,
    check,
    closed_jwks_url,
    joined,
)
from django.core.asgi import get_asgi_application  # noqa: E402
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.http import HttpRequest, JsonResponse  # noqa: E402
from django.test import AsyncClient, Client, override_settings  # noqa: E402
from django.urls import path  # noqa: E402
from django.views import View  # noqa: E402
from rest_framework.permissions import AllowAny  # noqa: E402
from rest_framework.request import Request  # noqa: E402
from rest_framework.response import Response  # noqa: E402
from rest_framework.views import APIView  # noqa: E402

from cognito_verify import ConfigurationError  # noqa: E402
from cognito_verify.integrations.django import (  # noqa: E402
    CognitoRequiredMixin,
    CognitoUser,
    cognito_required,
    get_verifier,
)
from cognito_verify.integrations.drf import (  # noqa: E402
    CognitoAuthentication,
    HasGroup,
    HasScope,
)
from cognito_verify.testing import LocalUserPool  # noqa: E402

EXAMPLE = Path(__file__).parent.parent / "docs" / "examples" / "django_app.py"


def _me(request: HttpRequest) -> JsonResponse:
    claims = request.cognito_claims  # type: ignore[attr-defined]
    return JsonResponse({"username": claims.username if claims else None})


@cognito_required
def protected(request: HttpRequest) -> JsonResponse:
    return _me(request)


@cognito_required(groups="admin")
async def admin(request: HttpRequest) -> JsonResponse:
    return _me(request)


class Write(CognitoRequiredMixin, View):
    cognito_scopes = "orders/write"

    def get(self, request: HttpRequest) -> JsonResponse:
        return _me(request)


class AsyncWrite(CognitoRequiredMixin, View):
    cognito_scopes = ["orders/write"]

    async def get(self, request: HttpRequest) -> JsonResponse:
        return _me(request)


@cognito_required(optional=True)
def optional(request: HttpRequest) -> JsonResponse:
    return _me(request)


@cognito_required(max_auth_age=300)
def recent(request: HttpRequest) -> JsonResponse:
    return _me(request)


class AsyncRecent(CognitoRequiredMixin, View):
    cognito_max_auth_age = 300

    async def get(self, request: HttpRequest) -> JsonResponse:
        return _me(request)


def whoami(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"user": str(request.user), "type": type(request.user).__name__})


class DrfMe(APIView):
    def get(self, request: Request) -> Response:
        assert isinstance(request.user, CognitoUser)
        return Response({"username": request.auth.username})


class DrfAdmin(DrfMe):
    permission_classes = [HasGroup.of("admin")]


class OrdersWriter(HasScope):
    scopes = ("orders/write",)


class DrfWrite(DrfMe):
    permission_classes = [OrdersWriter]


class DrfEither(DrfMe):
    permission_classes = [HasGroup.of("admin") | HasScope.of("orders/write")]


class DrfOptional(APIView):
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        return Response({"username": request.auth.username if request.auth else None})


urlpatterns = [
    path("protected", protected),
    path("admin", admin),
    path("write", Write.as_view()),
    path("async-write", AsyncWrite.as_view()),
    path("optional", optional),
    path("recent", recent),
    path("async-recent", AsyncRecent.as_view()),
    path("whoami", whoami),
    path("drf/protected", DrfMe.as_view()),
    path("drf/admin", DrfAdmin.as_view()),
    path("drf/write", DrfWrite.as_view()),
    path("drf/optional", DrfOptional.as_view()),
    path("drf/either", DrfEither.as_view()),
]


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
    with override_settings(COGNITO_VERIFY=cognito_settings(pool, clock)):
        yield


def get(stack: str, url: str, header: str | None) -> Any:
    """GET through Django's sync (WSGI) or async (ASGI) handler."""
    headers = joined(header)
    if stack == "sync":
        return Client().get(url, headers=headers)
    return asyncio.run(AsyncClient().get(url, headers=headers))


MATRIX = [
    pytest.param(case, middleware, id=f"{case.name}-{'middleware' if middleware else 'decorator'}")
    for case in CASES
    for middleware in (True, False)
]


@pytest.mark.parametrize("stack", ["sync", "async"])
@pytest.mark.parametrize(("case", "middleware"), MATRIX)
def test_matrix(
    case: Case, middleware: bool, stack: str, pool: LocalUserPool, clock: Any, cognito: None
) -> None:
    header = case.header(pool, clock)
    with override_settings(MIDDLEWARE=settings.MIDDLEWARE if middleware else []):
        response = get(stack, case.path, header)
    check(case, response.status_code, response.headers, response.content, header)


@pytest.mark.parametrize("stack", ["sync", "async"])
def test_async_class_view(stack: str, pool: LocalUserPool, clock: Any, cognito: None) -> None:
    refused = get(stack, "/async-write", bearer(pool.access_token()))
    assert (refused.status_code, refused.json()["error"]) == (403, "insufficient_scope")
    ok = get(stack, "/async-write", bearer(pool.access_token(scopes=["orders/write"])))
    assert ok.json() == {"username": "alice"}


@pytest.mark.parametrize("stack", ["sync", "async"])
def test_keys_unavailable_is_503(stack: str, pool: LocalUserPool, clock: Any) -> None:
    config = cognito_settings(pool, clock, JWKS=None, JWKS_URL=closed_jwks_url())
    with override_settings(COGNITO_VERIFY=config):
        response = get(stack, "/protected", bearer(pool.access_token()))
    assert response.status_code == 503
    assert response.json() == {
        "error": "jwks_unavailable",
        "message": "Authentication is temporarily unavailable.",
    }
    assert response.headers["Retry-After"] == "5"


def test_verifier_is_lazy_and_follows_settings(pool: LocalUserPool, clock: Any) -> None:
    with override_settings(COGNITO_VERIFY=cognito_settings(pool, clock)):
        first = get_verifier()
        assert get_verifier() is first
        with override_settings(COGNITO_VERIFY=cognito_settings(pool, clock, LEEWAY=5)):
            assert get_verifier() is not first
    for broken in (
        {"USER_POOL_ID": pool.user_pool_id, "CLIENT_ID": "client-a"},  # no TOKEN_USE
        {**cognito_settings(pool, clock), "CLIENTID": "typo"},
        {**cognito_settings(pool, clock), "LEEWAY": -1},
    ):
        with override_settings(COGNITO_VERIFY=broken), pytest.raises(ConfigurationError):
            get_verifier()


@pytest.mark.parametrize("stack", ["sync", "async"])
def test_user_mapper_hook(stack: str, pool: LocalUserPool, clock: Any) -> None:
    with override_settings(
        COGNITO_VERIFY=cognito_settings(
            pool, clock, USER_MAPPER="cognito_verify.integrations.django.claims_user"
        ),
    ):
        mapped = get(stack, "/whoami", bearer(pool.access_token("erin")))
    assert mapped.json() == {"user": "erin", "type": "CognitoUser"}


def test_no_user_mapping_by_default(pool: LocalUserPool, clock: Any, cognito: None) -> None:
    # Without a USER_MAPPER the middleware leaves request.user alone (here: unset).
    response = Client().get("/protected", headers={"Authorization": bearer(pool.access_token())})
    assert response.status_code == 200
    assert not hasattr(response.wsgi_request, "user")


# --- Django REST framework -------------------------------------------------------------

DRF_NOT_AUTHENTICATED = {"detail": "Authentication credentials were not provided."}


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_drf_matrix(case: Case, pool: LocalUserPool, clock: Any, cognito: None) -> None:
    header = case.header(pool, clock)
    with override_settings(MIDDLEWARE=[]):  # DRF on its own
        response = Client().get("/drf" + case.path, headers=joined(header))
    assert response.status_code == case.status, response.content
    body = response.json()
    for value in as_pairs(header):
        token = value[1].partition(" ")[2].strip('"')
        assert not token or token not in response.content.decode()
    if case.status != 200:
        assert response.headers["Cache-Control"] == "no-store"
    if case.status == 200:
        expected = None if case.name == "optional_anonymous" else "alice"
        assert body == {"username": expected}
    elif case.code == "missing_token":
        # No bearer token: CognitoAuthentication stays silent, IsAuthenticated answers,
        # and the Bearer challenge still makes it a 401 (not DRF's 403 fallback).
        assert body == DRF_NOT_AUTHENTICATED
        assert response.headers["WWW-Authenticate"] == "Bearer"
    else:
        assert body["code"] == case.code
        assert set(body) == {"detail", "code"}
        # The same challenge as every adapter: with cognito_verify's exception_handler
        # a HasScope 403 names the missing scope too.
        assert response.headers.get("WWW-Authenticate") == case.challenge


def test_drf_keys_unavailable_is_503(pool: LocalUserPool, clock: Any) -> None:
    config = cognito_settings(pool, clock, JWKS=None, JWKS_URL=closed_jwks_url())
    with override_settings(MIDDLEWARE=[], COGNITO_VERIFY=config):
        response = Client().get(
            "/drf/protected", headers={"Authorization": bearer(pool.access_token())}
        )
    assert response.status_code == 503
    assert response.json()["code"] == "jwks_unavailable"
    assert response.headers["Retry-After"] == "5"


def test_drf_reuses_middleware_claims(
    pool: LocalUserPool, clock: Any, cognito: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    original = get_verifier().verify
    monkeypatch.setattr(
        get_verifier(), "verify", lambda t, **kw: calls.append(t) or original(t, **kw)
    )
    token = pool.access_token(groups=["admin"])
    response = Client().get("/drf/admin", headers={"Authorization": bearer(token)})
    assert response.json() == {"username": "alice"}
    assert calls == [token]  # verified once, by the middleware


def test_drf_permission_classes_are_parametrisable() -> None:
    both = HasGroup.of("a", "b", require_all=True)
    assert both.groups == ("a", "b") and both.require_all
    assert issubclass(both, HasGroup) and both.__name__ == "HasGroup[a & b]"
    assert CognitoAuthentication().authenticate_header(object()) == "Bearer"
    with pytest.raises(ConfigurationError):
        HasScope.of()


# --- real servers ------------------------------------------------------------------------


def _exercise(base: str, pool: LocalUserPool) -> None:
    with httpx.Client(base_url=base, timeout=5) as http:
        anonymous = http.get("/protected")
        assert anonymous.status_code == 401
        assert anonymous.headers["www-authenticate"] == "Bearer"
        assert anonymous.json()["error"] == "missing_token"
        token = pool.access_token(groups=["admin"], scopes=["orders/write"])
        for route in ("/protected", "/admin", "/write", "/async-write", "/drf/admin"):
            ok = http.get(route, headers={"Authorization": bearer(token)})
            assert (route, ok.status_code, ok.json()) == (route, 200, {"username": "alice"})
        forbidden = http.get("/write", headers={"Authorization": bearer(pool.access_token())})
        assert forbidden.status_code == 403
        assert forbidden.headers["www-authenticate"] == SCOPE
        bad = http.get("/optional", headers={"Authorization": "Bearer x.y.z"})
        assert (bad.status_code, bad.json()["error"]) == (401, "malformed_token")


@contextmanager
def uvicorn_thread(app: Any) -> Iterator[str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", ws="none"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)  # waiting for the server to listen, not for a token to expire
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
        assert not thread.is_alive()


def test_uvicorn_asgi(pool: LocalUserPool, clock: Any, cognito: None) -> None:
    with uvicorn_thread(get_asgi_application()) as base:
        _exercise(base, pool)


def test_wsgi_test_server(pool: LocalUserPool, clock: Any, cognito: None) -> None:
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
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 20
            with httpx.Client(base_url=base, timeout=5) as http:
                while True:
                    try:
                        health = http.get("/health")
                        break
                    except httpx.TransportError:
                        assert proc.poll() is None, proc.communicate()[1]
                        assert time.monotonic() < deadline, "the example did not start"
                        time.sleep(0.05)  # waiting for the server to listen
                assert health.json() == {"status": "ok"}
                assert http.get("/me").status_code == 401
                token = pool.access_token("dora", groups=["admin"], scopes=["orders/read"])
                me = http.get("/me", headers={"Authorization": bearer(token)})
                assert me.json() == {"username": "dora", "groups": ["admin"]}
                assert (
                    http.get("/admin", headers={"Authorization": bearer(token)}).status_code == 200
                )
                no_scope = http.get(
                    "/api/orders", headers={"Authorization": bearer(pool.access_token())}
                )
                assert (no_scope.status_code, no_scope.json()["code"]) == (
                    403,
                    "insufficient_scope",
                )
                orders = http.get("/api/orders", headers={"Authorization": bearer(token)})
                assert orders.json() == {"orders": [], "for": "dora"}
                expired_or_bad = http.get("/me", headers={"Authorization": "Bearer x.y.z"})
                assert expired_or_bad.status_code == 401
                assert "x.y.z" not in expired_or_bad.text
        finally:
            proc.terminate()
            proc.communicate(timeout=10)


def test_body_is_small_json(pool: LocalUserPool, clock: Any, cognito: None) -> None:
    response = Client().get("/protected", headers={"Authorization": bearer(pool.id_token())})
    assert json.loads(response.content) == {
        "error": "invalid_token_use",
        "message": "The request is not authenticated.",
    }
    assert response.headers["Cache-Control"] == "no-store"


def test_protected_views_need_no_csrf_token(pool: LocalUserPool, clock: Any, cognito: None) -> None:
    middleware = ["django.middleware.csrf.CsrfViewMiddleware", *settings.MIDDLEWARE]
    with override_settings(MIDDLEWARE=middleware):
        client = Client(enforce_csrf_checks=True)
        # A cross-site form cannot send a bearer token, so the refusal is ours: 401.
        assert client.post("/protected").status_code == 401
        ok = client.post("/protected", headers={"Authorization": bearer(pool.access_token())})
        assert ok.json() == {"username": "alice"}
        # An unprotected view keeps Django's CSRF protection.
        assert client.post("/optional").status_code == 403


def teapot(request: HttpRequest, exc: Exception) -> JsonResponse:
    return JsonResponse({"why": getattr(exc, "code", "?")}, status=418)


@pytest.mark.parametrize("stack", ["sync", "async"])
def test_refusal_view_setting(stack: str, pool: LocalUserPool, clock: Any) -> None:
    config = cognito_settings(pool, clock, REFUSAL_VIEW=f"{__name__}.teapot")
    with override_settings(COGNITO_VERIFY=config):
        bad = get(stack, "/optional", "Bearer x.y.z")  # refused by the middleware
        forbidden = get(stack, "/admin", bearer(pool.access_token()))  # by the decorator
    assert (bad.status_code, bad.json()) == (418, {"why": "malformed_token"})
    assert (forbidden.status_code, forbidden.json()) == (418, {"why": "missing_group"})


def test_drf_permissions_compose(pool: LocalUserPool, clock: Any, cognito: None) -> None:
    def status(**claims: Any) -> int:
        headers = {"Authorization": bearer(pool.access_token(**claims))}
        return int(Client().get("/drf/either", headers=headers).status_code)

    assert status(groups=["admin"]) == 200
    assert status(scopes=["orders/write"]) == 200
    assert status() == 403


# --- configuration at start-up, request-time misconfiguration, JSON --------------------


def test_bad_value_names_the_settings_key(pool: LocalUserPool, clock: Any) -> None:
    bad = cognito_settings(pool, clock, TOKEN_USE="acces")
    with override_settings(COGNITO_VERIFY=bad), pytest.raises(ConfigurationError) as info:
        get_verifier()
    assert "settings.COGNITO_VERIFY: TOKEN_USE must be" in str(info.value), str(info.value)


def test_system_check_reports_a_misspelt_key(pool: LocalUserPool, clock: Any) -> None:
    from django.core import checks
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    with override_settings(COGNITO_VERIFY=cognito_settings(pool, clock, GROUP="admin")):
        errors = checks.run_checks(tags=["cognito_verify"])
        assert [e.id for e in errors] == ["cognito_verify.E001"]
        assert "unknown key 'GROUP' (did you mean 'GROUPS'?)" in errors[0].msg
        with pytest.raises(SystemCheckError, match="cognito_verify.E001"):
            call_command("check")
    with override_settings(COGNITO_VERIFY=cognito_settings(pool, clock)):
        assert checks.run_checks(tags=["cognito_verify"]) == []


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ('{"USER_POOL_ID": "eu-west-1_AbCdEf123", "CLIENT_ID": "c", "TOKEN_USE": "access",'
         ' "SCOPE": "x"}', "did you mean 'SCOPES'?"),
        ('{"USER_POOL_ID": "eu-west-1_AbCdEf123", "TOKEN_USE": "access"}', "needs CLIENT_ID"),
        ('{"USER_POOL_ID": "eu-west-1_AbCdEf123", "CLIENT_ID": "c", "TOKEN_USE": "acess"}',
         "TOKEN_USE must be"),
        ('"eu-west-1_AbCdEf123"', "must be a dict"),
    ],
)
def test_manage_py_check_reports_the_error(
    tmp_path: Path, setting: str, expected: str
) -> None:
    # A real project run the way a user runs it: `django-admin check` in a subprocess.
    (tmp_path / "proj_settings.py").write_text(
        "SECRET_KEY = 'x'\n"
        "INSTALLED_APPS = ['cognito_verify.integrations.django.CognitoVerifyConfig']\n"
        "ROOT_URLCONF = 'proj_settings'\nurlpatterns = []\n"
        f"COGNITO_VERIFY = {setting}\n"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "DJANGO_SETTINGS_MODULE": "proj_settings"}
    run = subprocess.run(
        [sys.executable, "-m", "django", "check"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert "cognito_verify.E001" in run.stderr and expected in run.stderr
    assert "Traceback" not in run.stderr


def test_middleware_fails_when_loaded_with_a_bad_setting(pool: LocalUserPool, clock: Any) -> None:
    from cognito_verify.integrations.django import CognitoMiddleware

    with override_settings(COGNITO_VERIFY=cognito_settings(pool, clock, CLIENTID="a")):
        with pytest.raises(ConfigurationError, match="did you mean 'CLIENT_ID'"):
            CognitoMiddleware(lambda request: None)


@pytest.mark.parametrize("stack", ["sync", "async"])
def test_request_time_misconfiguration_is_logged_and_answered_500(
    stack: str, pool: LocalUserPool, clock: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # Only the decorator (no middleware) meets the setting while answering a request.
    with override_settings(
        MIDDLEWARE=[], COGNITO_VERIFY=cognito_settings(pool, clock, LEWAY=5)
    ):
        with caplog.at_level("ERROR", logger="cognito_verify"):
            response = get(stack, "/protected", bearer(pool.access_token()))
    assert response.status_code == 500
    assert json.loads(response.content) == {
        "error": "configuration_error",
        "message": "Authentication is misconfigured.",
    }
    assert "LEWAY" not in response.content.decode()
    assert "unknown key 'LEWAY' (did you mean 'LEEWAY'?)" in caplog.text


def test_claims_json_encoder(pool: LocalUserPool, clock: Any) -> None:
    from cognito_verify.integrations.django import ClaimsJSONEncoder

    claims = make_verifier_for(pool, clock).verify(
        pool.access_token(groups=["b", "a"], scopes=["s"])
    )
    response = JsonResponse(
        {"claims": claims, "groups": claims.groups}, encoder=ClaimsJSONEncoder
    )
    body = json.loads(response.content)
    assert body["groups"] == ["a", "b"]
    assert body["claims"] == claims.to_dict()
    whole = JsonResponse(claims, encoder=ClaimsJSONEncoder, safe=False)
    assert json.loads(whole.content)["cognito:groups"] == ["b", "a"]


def make_verifier_for(pool: LocalUserPool, clock: Any) -> Any:
    return pool.verifier(token_use="access", client_id="client-a", clock=clock)


def test_drf_returns_claims(pool: LocalUserPool, clock: Any, cognito: None) -> None:
    # DRF's encoder renders Claims (a Mapping) and its sets without help.
    from rest_framework.renderers import JSONRenderer

    claims = make_verifier_for(pool, clock).verify(pool.access_token(groups=["a"]))
    rendered = json.loads(JSONRenderer().render({"claims": claims, "groups": claims.groups}))
    assert rendered["claims"]["cognito:groups"] == ["a"] and rendered["groups"] == ["a"]


STEP_UP = (
    'Bearer error="insufficient_user_authentication", '
    'error_description="A more recent authentication is required", max_age=300'
)


@pytest.mark.parametrize("stack", ["sync", "async"])
@pytest.mark.parametrize("url", ["/recent", "/async-recent"])
@pytest.mark.usefixtures("cognito")
def test_step_up_challenge(stack: str, url: str, pool: LocalUserPool, clock: Any) -> None:
    token = pool.access_token()
    assert get(stack, url, bearer(token)).status_code == 200
    clock.advance(301)
    assert get(stack, "/protected", bearer(token)).status_code == 200
    response = get(stack, url, bearer(token))
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == STEP_UP
    assert response.json()["error"] == "insufficient_user_authentication"
    machine = get(stack, url, bearer(pool.client_credentials_token(client_id="client-a")))
    assert (machine.status_code, machine["WWW-Authenticate"]) == (401, STEP_UP)


@pytest.mark.parametrize("url", ["/drf/protected", "/protected"])
def test_settings_max_auth_age_and_is_revoked(url: str, pool: LocalUserPool, clock: Any) -> None:
    """MAX_AUTH_AGE and IS_REVOKED in COGNITO_VERIFY reach the verifier; DRF and the
    middleware answer with the shared challenge and status."""

    def is_revoked(claims: Any) -> bool:
        if claims.username == "crash":
            raise ConnectionError("deny list unreachable")
        return bool(claims.username == "mallory")

    conf = cognito_settings(pool, clock, MAX_AUTH_AGE=300, IS_REVOKED=is_revoked)
    with override_settings(COGNITO_VERIFY=conf):
        token = pool.access_token()
        assert get("sync", url, bearer(token)).status_code == 200
        clock.advance(301)
        stale = get("sync", url, bearer(token))
        assert (stale.status_code, stale["WWW-Authenticate"]) == (401, STEP_UP)
        revoked = get("sync", url, bearer(pool.access_token("mallory")))
        assert revoked.status_code == 401
        assert revoked.json().get("code", revoked.json().get("error")) == "token_revoked"
        broken = get("sync", url, bearer(pool.access_token("crash")))
        assert broken.status_code == 503
        assert broken.json().get("code", broken.json().get("error")) == "revocation_check_failed"


@pytest.mark.parametrize("with_middleware", [True, False])
def test_a_cookie_without_our_csrf_rule_keeps_djangos(
    pool: LocalUserPool, clock: Any, with_middleware: bool
) -> None:
    # csrf_protection=False is for apps that enforce CSRF tokens: the decorator's
    # exemption from CsrfViewMiddleware (right for bearer tokens) must not leave such a
    # cookie-authenticated POST with no CSRF check at all.
    from django.middleware.csrf import _get_new_csrf_string  # type: ignore[attr-defined]

    from cognito_verify.integrations import TokenSource

    source = TokenSource.cookie("session", csrf_protection=False)
    config = cognito_settings(pool, clock, TOKEN_SOURCE=[TokenSource.bearer(), source])
    ours = list(settings.MIDDLEWARE) if with_middleware else []
    middleware = ["django.middleware.csrf.CsrfViewMiddleware", *ours]
    with override_settings(MIDDLEWARE=middleware, COGNITO_VERIFY=config):
        client = Client(enforce_csrf_checks=True)
        client.cookies["session"] = pool.access_token()
        assert client.post("/protected").status_code == 403  # Django's CSRF refusal
        assert client.get("/protected").json() == {"username": "alice"}
        secret = _get_new_csrf_string()
        client.cookies["csrftoken"] = secret
        ok = client.post("/protected", headers={"X-CSRFToken": secret})
        assert ok.json() == {"username": "alice"}
        # A bearer token still needs no CSRF token.
        del client.cookies["session"]
        bearer_only = client.post(
            "/protected", headers={"Authorization": bearer(pool.access_token())}
        )
        assert bearer_only.json() == {"username": "alice"}


@pytest.mark.parametrize("with_middleware", [True, False])
def test_drf_enforces_csrf_for_a_cookie_without_our_rule(
    pool: LocalUserPool, clock: Any, with_middleware: bool
) -> None:
    # What DRF's SessionAuthentication does for its cookie: DRF views are exempt from
    # CsrfViewMiddleware, so the authentication class must check CSRF itself.
    from django.middleware.csrf import _get_new_csrf_string  # type: ignore[attr-defined]

    from cognito_verify.integrations import TokenSource

    source = TokenSource.cookie("session", csrf_protection=False)
    config = cognito_settings(pool, clock, TOKEN_SOURCE=[TokenSource.bearer(), source])
    middleware = list(settings.MIDDLEWARE) if with_middleware else []
    with override_settings(MIDDLEWARE=middleware, COGNITO_VERIFY=config):
        client = Client(enforce_csrf_checks=True)
        client.cookies["session"] = pool.access_token()
        refused = client.post("/drf/protected")
        assert refused.status_code == 403 and "CSRF" in refused.content.decode()
        assert client.get("/drf/protected").json() == {"username": "alice"}
        secret = _get_new_csrf_string()
        client.cookies["csrftoken"] = secret
        # Authenticated: DrfMe has no POST handler, so DRF answers 405 after auth.
        assert client.post("/drf/protected", headers={"X-CSRFToken": secret}).status_code == 405
        del client.cookies["session"]
        bearer_only = client.post(
            "/drf/protected", headers={"Authorization": bearer(pool.access_token())}
        )
        assert bearer_only.status_code == 405
