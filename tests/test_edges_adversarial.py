"""Adversarial requests against the HTTP edges, on real servers where a router decides.

Each test names the input that once made an adapter accept what it must refuse.
"""

from __future__ import annotations

import socket
from typing import Any
from urllib.parse import urlsplit

import pytest
from _adapter_matrix import make_verifier, wsgi_server
from _asgi_support import uvicorn_server
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from cognito_verify.errors import MissingTokenError
from cognito_verify.integrations._http import ExcludedPaths
from cognito_verify.integrations.asgi import CognitoASGIMiddleware
from cognito_verify.integrations.wsgi import CognitoWSGIMiddleware
from cognito_verify.testing import LocalUserPool


def raw_get(base: str, target: str) -> tuple[int, bytes]:
    """GET ``target`` exactly as written (no client-side dot-segment removal), as
    ``curl --path-as-is`` sends it; returns (status, body)."""
    parts = urlsplit(base)
    assert parts.hostname is not None and parts.port is not None
    with socket.create_connection((parts.hostname, parts.port), timeout=20) as sock:
        request = f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nConnection: close\r\n\r\n"
        sock.sendall(request.encode("latin-1"))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


# --- ExcludedPaths: a path the router does not normalise must not be judged normalised --

# Each reaches the protected catch-all route below on a router that does not collapse
# dot segments or repeated slashes (Starlette, werkzeug), while its normal form is an
# excluded path.
SMUGGLED = [
    "/files/../health",
    "/files/x/../../health",
    "/files/./../health",
    "/files/..//health",
    "/files//../../health",
    # Percent-encoded: servers decode the path before the middleware sees it.
    "/files/%2e%2e/health",
    "/files/%2E%2E%2Fhealth",
    "/files/..%2fhealth",
    "/files/%2e/%2e%2e/health",
]


def _starlette_app() -> Starlette:
    async def files(request: Request) -> PlainTextResponse:
        return PlainTextResponse(f"secret file {request.path_params['name']}")

    async def health(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    return Starlette(
        routes=[Route("/health", health), Route("/files/{name:path}", files)],
    )


@pytest.mark.parametrize("path", SMUGGLED)
def test_asgi_exclusion_cannot_reach_a_protected_route(
    pool: LocalUserPool, clock: Any, path: str
) -> None:
    app = CognitoASGIMiddleware(
        _starlette_app(), make_verifier(pool, clock), exclude_paths=["/health"]
    )
    with uvicorn_server(app) as base:
        assert raw_get(base, "/health")[0] == 200
        status, body = raw_get(base, path)
    assert status == 401, body
    assert b"secret" not in body


def _wsgi_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    # A router that does not collapse dot segments: everything under /files/ is a file.
    path = environ["PATH_INFO"]
    if path == "/health":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]
    if path.startswith("/files/"):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"secret file " + path.encode("latin-1")]
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"no"]


@pytest.mark.parametrize("path", SMUGGLED)
def test_wsgi_exclusion_cannot_reach_a_protected_route(
    pool: LocalUserPool, clock: Any, path: str
) -> None:
    app = CognitoWSGIMiddleware(_wsgi_app, make_verifier(pool, clock), exclude_paths=["/health"])
    with wsgi_server(app) as base:
        assert raw_get(base, "/health")[0] == 200
        status, body = raw_get(base, path)
    assert status == 401, body
    assert b"secret" not in body


@pytest.mark.parametrize(
    ("path", "excluded"),
    [
        ("/health", True),
        ("/health/", True),
        ("/static/app.css", True),
        ("/static/css/app.css", True),
        # Not in normal form: judged by neither its raw nor its normal form.
        ("/files/../health", False),
        ("/static/../static/app.css", False),
        ("/api/../static/app.css", False),
        ("//health", False),
        ("/./health", False),
        ("/health/.", False),
        ("/static//app.css", False),
        ("/static/./app.css", False),
        ("/static/x/../app.css", False),
        ("/static/..", False),
        ("/health/..", False),
        ("/health//", False),
    ],
)
def test_only_a_path_in_normal_form_is_excluded(path: str, excluded: bool) -> None:
    assert ExcludedPaths(["/health", "/static/"])(path) is excluded


# --- Litestar: `exclude` patterns are searched anywhere in the path by Litestar -------


def _litestar_app(pool: LocalUserPool, clock: Any, exclude: Any) -> Any:
    from litestar import Litestar, get

    from cognito_verify.integrations.litestar import CognitoAuth

    auth = CognitoAuth(verifier=make_verifier(pool, clock), exclude=exclude)

    @get("/health")
    async def health() -> str:
        return "ok"

    @get("/static/app.css")
    async def static() -> str:
        return "css"

    @get(["/reports/health", "/reports/x-health", "/reports/q3", "/reports/public-q3", "/healthz"])
    async def report() -> str:
        return "secret report"

    @get("/api/static/exports")
    async def exports() -> str:
        return "secret exports"

    return Litestar([health, static, report, exports], on_app_init=[auth.on_app_init])


@pytest.mark.parametrize(
    "path", ["/reports/health", "/reports/x-health", "/api/static/exports", "/healthz"]
)
def test_litestar_exclude_is_anchored_at_the_path_start(
    pool: LocalUserPool, clock: Any, path: str
) -> None:
    app = _litestar_app(pool, clock, ["/health", "/static/"])
    with uvicorn_server(app) as base:
        assert raw_get(base, "/health")[0] == 200
        assert raw_get(base, "/static/app.css")[0] == 200
        status, body = raw_get(base, path)
    assert status == 401, body
    assert b"secret" not in body


def test_litestar_exclude_keeps_an_anchored_regex(pool: LocalUserPool, clock: Any) -> None:
    # A pattern the app anchored itself is Litestar's regex, unchanged.
    app = _litestar_app(pool, clock, r"^/reports/public-\w+$")
    with uvicorn_server(app) as base:
        assert raw_get(base, "/reports/public-q3")[0] == 200
        assert raw_get(base, "/reports/q3")[0] == 401


# --- AppSync: a cached answer must not outlive any rule it was decided under ----------


def _appsync_event(token: str) -> dict[str, Any]:
    from _lambda_samples import APPSYNC, load

    event = load(APPSYNC)
    event["authorizationToken"] = token
    return event


def test_appsync_ttl_never_outlives_max_auth_age(pool: LocalUserPool, clock: Any) -> None:
    from cognito_verify.integrations.aws_lambda import LambdaAuth

    auth = LambdaAuth(make_verifier(pool, clock))
    handler = auth.appsync_authorizer(result_ttl=3600, max_auth_age=300)
    token = pool.access_token(lifetime=3600)  # signed in now
    clock.advance(200)
    answer = handler(_appsync_event(token), None)
    assert answer["isAuthorized"] is True
    # The sign-in is 200 s old and may be 300 s old: AppSync may reuse it for 100 s.
    assert answer["ttlOverride"] == 100


def test_appsync_ttl_never_outlives_the_verifiers_max_auth_age(
    pool: LocalUserPool, clock: Any
) -> None:
    from cognito_verify import CognitoVerifier
    from cognito_verify.integrations.aws_lambda import LambdaAuth

    verifier = CognitoVerifier(
        pool.user_pool_id,
        client_id=list(pool.client_ids),
        token_use="access",
        jwks=pool.jwks,
        clock=clock,
        max_auth_age=600,
    )
    handler = LambdaAuth(verifier).appsync_authorizer(result_ttl=3600, max_auth_age=900)
    token = pool.access_token(lifetime=3600)
    clock.advance(550.5)
    assert handler(_appsync_event(token), None)["ttlOverride"] == 49


# --- token sources: another scheme in Authorization is not "no token anywhere" ---------


def test_cookie_source_is_tried_after_an_authorization_of_another_scheme(
    pool: LocalUserPool, clock: Any
) -> None:
    # A staging site behind HTTP Basic auth: the browser sends Authorization: Basic on
    # every request, and its Cognito token in the cookie.
    from cognito_verify.integrations import TokenSource
    from cognito_verify.integrations.aws_lambda import LambdaAuth

    auth = LambdaAuth(
        make_verifier(pool, clock),
        token_source=[TokenSource.bearer(), TokenSource.cookie("session")],
    )
    token = pool.access_token()
    for shape in ("rest", "http", "alb", "alb_multi", "function_url"):
        event = pool.lambda_event(shape, "dXNlcjpwYXNz", scheme="Basic", cookies={"session": token})
        claims = auth.authenticate(event)
        assert claims is not None and claims.token_use == "access", shape
        # Still refused when no source has a token.
        with pytest.raises(MissingTokenError):
            auth.authenticate(pool.lambda_event(shape, "dXNlcjpwYXNz", scheme="Basic"))


# --- cookie CSRF rule: a trusted origin as a person writes it --------------------------


@pytest.mark.parametrize(
    "configured",
    ["https://App.Example.com", "HTTPS://app.example.com:443", "https://app.example.com"],
)
def test_trusted_origin_is_compared_as_browsers_serialise_it(configured: str) -> None:
    from cognito_verify.errors import CrossSiteRequestError
    from cognito_verify.integrations import TokenSource

    source = TokenSource.cookie("session", trusted_origins=[configured])
    sent = {"origin": ["https://app.example.com"]}
    source.check_origin("POST", lambda name: sent.get(name, []))
    evil = {"origin": ["https://app.example.com.evil.test"]}
    with pytest.raises(CrossSiteRequestError):
        source.check_origin("POST", lambda name: evil.get(name, []))
