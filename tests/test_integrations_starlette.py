"""Starlette adapter: AuthenticationBackend, on_error, backend.require, the example app,
the refusal matrix in process and over real HTTP under uvicorn."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _adapter_matrix import WRITE, load_example, make_verifier
from _asgi_support import (
    CASES,
    IDS,
    SCOPE,
    Case,
    as_pairs,
    check,
    headers_for,
    unreachable_verifier,
    uvicorn_server,
)
from starlette.applications import Starlette
from starlette.authentication import AuthenticationError
from starlette.endpoints import HTTPEndpoint
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from cognito_verify.integrations.starlette import (
    CognitoAuthBackend,
    CognitoAuthenticationError,
    CognitoUser,
    on_error,
)
from cognito_verify.testing import LocalUserPool

EXAMPLE = Path(__file__).parent.parent / "docs" / "examples" / "starlette_app.py"


example = load_example(EXAMPLE)


@pytest.fixture
def client(pool: LocalUserPool, clock: Any) -> Iterator[TestClient]:
    with TestClient(example.create_app(pool.verifier(token_use="access", clock=clock))) as c:
        yield c


def matrix_app(verifier: Any) -> Starlette:
    """The matrix routes (tests/_adapter_matrix.py) with ``backend.required``."""
    backend = CognitoAuthBackend(verifier)

    def me(request: Request) -> JSONResponse:
        user = request.user
        return JSONResponse({"username": user.username if user.is_authenticated else None})

    async def protected(request: Request) -> JSONResponse:
        return me(request)

    routes = [
        Route("/protected", backend.required()(protected)),
        Route("/admin", backend.required(groups="admin")(protected)),
        Route("/write", backend.required(scopes=WRITE)(me)),
        Route("/optional", backend.required(optional=True)(protected)),
    ]
    return Starlette(routes=routes, middleware=[backend.middleware()])


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_matrix(pool: LocalUserPool, clock: Any, case: Case) -> None:
    header = case.header(pool, clock)
    with TestClient(matrix_app(make_verifier(pool, clock))) as c:
        check(c.get(case.path, headers=as_pairs(header)), case, header)


def test_jwks_unavailable_is_503(pool: LocalUserPool, clock: Any) -> None:
    token = pool.access_token("alice")
    with TestClient(example.create_app(unreachable_verifier(pool, clock))) as c:
        response = c.get("/me", headers=headers_for(token))
    assert response.status_code == 503
    assert response.json()["error"] == "jwks_unavailable"
    assert response.headers["retry-after"] == "5"
    assert token not in response.text and "127.0.0.1" not in response.text


def test_two_authorization_headers_are_refused(client: TestClient, pool: LocalUserPool) -> None:
    token = pool.access_token("alice")
    headers = [("Authorization", f"Bearer {token}"), ("Authorization", "Bearer x")]
    response = client.get("/hello", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "malformed_token"


def test_scopes_and_user(client: TestClient, pool: LocalUserPool) -> None:
    token = pool.access_token("alice", groups=["admin", "staff"], scopes=[SCOPE, "openid"])
    body = client.get("/me", headers=headers_for(token)).json()
    assert body["username"] == "alice"
    # OAuth scopes as they are, groups prefixed: a group cannot pose as a scope.
    assert body["scopes"] == sorted(
        ["authenticated", SCOPE, "openid", "group:admin", "group:staff"]
    )


def test_starlette_requires_works_with_group_scopes(
    client: TestClient, pool: LocalUserPool
) -> None:
    admin = client.get("/reports", headers=headers_for(pool.access_token(groups=["admin"])))
    assert admin.status_code == 200 and admin.json()["username"] == "alice"
    staff = client.get("/reports", headers=headers_for(pool.access_token(groups=["staff"])))
    assert staff.status_code == 403
    # Starlette's own @requires answers 403 to anonymous too (documented); backend.require
    # is the one that gives 401.
    assert client.get("/reports").status_code == 403
    # A token whose *scope* is literally "group:admin" does not pass for the group.
    forged = client.get("/reports", headers=headers_for(pool.access_token(scopes=["group:admin"])))
    assert forged.status_code == 403


def test_anonymous_is_allowed_where_no_requirement(client: TestClient, pool: LocalUserPool) -> None:
    assert client.get("/hello").json() == {"hello": "stranger"}
    named = client.get("/hello", headers=headers_for(pool.access_token("bob")))
    assert named.json() == {"hello": "bob"}
    # A bad token is refused even on an open route: it is not anonymity.
    bad = client.get("/hello", headers=headers_for(pool.id_token("bob")))
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_token_use"


def test_user_of_a_machine_token(pool: LocalUserPool) -> None:
    verifier = pool.verifier(token_use="access", clock=pool.clock)
    claims = verifier.verify(pool.client_credentials_token())
    user = CognitoUser(claims)
    assert user.is_authenticated and user.username is None
    assert user.display_name == user.identity == pool.client_id


def test_on_error_does_not_echo_foreign_errors() -> None:
    conn = HTTPConnection({"type": "http", "headers": []})
    response = on_error(conn, AuthenticationError("secret detail from another backend"))
    assert response.status_code == 401
    assert b"secret detail" not in bytes(response.body)


def test_authentication_error_text_is_only_the_code(pool: LocalUserPool) -> None:
    from cognito_verify import TokenExpiredError

    exc = CognitoAuthenticationError(TokenExpiredError("exp 1799999999 is before now"))
    assert str(exc) == "token_expired"  # Starlette's default on_error would show str(exc)


def test_require_on_endpoint_methods_and_kwargs(pool: LocalUserPool, clock: Any) -> None:
    backend = CognitoAuthBackend(pool.verifier(token_use="access", clock=clock))

    @backend.required(all_groups=["admin", "ops"])
    async def both(request: Request) -> JSONResponse:
        return JSONResponse({"username": request.user.username})

    class Orders(HTTPEndpoint):
        @backend.required(scopes=SCOPE)
        def get(self, request: Request) -> JSONResponse:
            return JSONResponse({"username": request.user.username})

    routes = [Route("/both", both), Route("/orders", Orders)]
    app = Starlette(routes=routes, middleware=[backend.middleware()])
    with TestClient(app) as c:
        assert c.get("/orders").status_code == 401
        ok = c.get("/orders", headers=headers_for(pool.access_token(scopes=[SCOPE])))
        assert ok.json() == {"username": "alice"}
        one = c.get("/both", headers=headers_for(pool.access_token(groups=["admin"])))
        assert one.status_code == 403 and one.json()["error"] == "missing_group"
        two = c.get("/both", headers=headers_for(pool.access_token(groups=["admin", "ops"])))
        assert two.status_code == 200
    with pytest.raises(TypeError):
        backend.required(scopes=[3])  # type: ignore[list-item]

    bare = Starlette(routes=[Route("/both", both)])  # the middleware was forgotten
    with TestClient(bare) as c, pytest.raises(RuntimeError, match="backend.middleware"):
        c.get("/both")


def test_websocket(client: TestClient, pool: LocalUserPool) -> None:
    with client.websocket_connect("/ws", headers=headers_for(pool.access_token("eve"))) as ws:
        assert ws.receive_json() == {"username": "eve"}
    token = pool.access_token("fay")
    with client.websocket_connect("/ws", subprotocols=[f"bearer.{token}"]) as ws:
        assert ws.receive_json() == {"username": "fay"}
    with pytest.raises(WebSocketDisconnect) as info:
        with client.websocket_connect("/ws"):
            pass  # pragma: no cover - refused
    assert (info.value.code, info.value.reason) == (1008, "missing_token")


def test_over_real_http(pool: LocalUserPool, clock: Any) -> None:
    app = matrix_app(make_verifier(pool, clock))
    with uvicorn_server(app) as base, httpx.Client(base_url=base, timeout=5) as http:
        by_name = {c.name: c for c in CASES}  # the one matrix, over real HTTP
        for name in ("no_token", "malformed", "missing_scope", "missing_group", "good_group"):
            case = by_name[name]
            header = case.header(pool, clock)
            check(http.get(case.path, headers=as_pairs(header)), case, header)


def test_example_reads_its_configuration_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COGNITO_USER_POOL_ID", "eu-west-1_AbCdEf123")
    monkeypatch.setenv("COGNITO_CLIENT_ID", "client-a")
    with TestClient(example.create_app()) as c:
        assert c.get("/health").json() == {"ok": True}
        assert c.get("/me").status_code == 401
