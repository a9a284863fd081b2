"""Litestar: the shared refusal matrix under uvicorn, guards, exclusion by opt key and
pattern, the OpenAPI bearer scheme, WebSockets and Litestar's own exception style."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from _adapter_matrix import (
    CASES,
    IDS,
    Case,
    as_pairs,
    bearer,
    check,
    load_example,
    make_verifier,
    unavailable_verifier,
)
from _asgi_support import uvicorn_server
from litestar import Litestar, Request, get, head, websocket
from litestar.connection import WebSocket
from litestar.exceptions import WebSocketDisconnect
from litestar.openapi import OpenAPIConfig
from litestar.testing import TestClient

from cognito_verify import Claims, CognitoVerifier
from cognito_verify.integrations.litestar import CognitoAuth, CognitoRefusal
from cognito_verify.testing import LocalUserPool


class User:
    def __init__(self, claims: Claims) -> None:
        self.name = claims.username


async def load_user(claims: Claims, connection: Any) -> User:
    return User(claims)


def build_app(verifier: CognitoVerifier, *, handler: bool = True, **options: Any) -> Litestar:
    auth = CognitoAuth(verifier=verifier, exclude=["/health"], **options)

    def me(request: Request[Any, Any, Any]) -> dict[str, Any]:
        claims = request.auth
        return {"username": claims.username if claims else None}

    @get("/protected")
    async def protected(request: Request[Any, Claims, Any]) -> dict[str, Any]:
        return me(request)

    @get("/admin", guards=[auth.required(groups="admin")])
    async def admin(request: Request[Any, Claims, Any]) -> dict[str, Any]:
        return me(request)

    @get("/write", guards=[auth.required(scopes="orders/write")], sync_to_thread=False)
    def write(request: Request[Any, Claims, Any]) -> dict[str, Any]:
        return me(request)

    @get("/optional", cognito_optional=True)
    async def optional(request: Request[Any, Any, Any]) -> dict[str, Any]:
        return me(request)

    @get("/optional-admin", cognito_optional=True, guards=[auth.required(groups="admin")])
    async def optional_admin(request: Request[Any, Any, Any]) -> dict[str, Any]:
        return me(request)

    @get("/public", exclude_from_auth=True)
    async def public(request: Request[Any, Any, Any]) -> dict[str, Any]:
        return {"auth": repr(request.scope.get("auth"))}

    @head("/report")
    async def report() -> None:
        return None

    @get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @get("/user")
    async def user(request: Request[User, Claims, Any]) -> dict[str, Any]:
        return {"type": type(request.user).__name__, "name": request.user.name}

    @websocket("/ws")
    async def ws(socket: WebSocket[Any, Claims, Any]) -> None:
        await socket.accept()
        await socket.send_json({"username": socket.auth.username})
        await socket.close()

    @websocket("/ws-admin", guards=[auth.required(groups="admin")])
    async def ws_admin(socket: WebSocket[Any, Claims, Any]) -> None:
        await socket.accept()
        await socket.close()

    app_init = [auth.on_app_init] if handler else []
    middleware = [] if handler else [auth.middleware]
    return Litestar(
        [
            protected,
            admin,
            write,
            optional,
            optional_admin,
            public,
            report,
            health,
            user,
            ws,
            ws_admin,
        ],
        on_app_init=app_init,
        middleware=middleware,
        openapi_config=OpenAPIConfig(title="orders", version="1"),
        debug=False,
    )


@pytest.fixture
def base(pool: LocalUserPool, clock: Any) -> Any:
    app = build_app(make_verifier(pool, clock), retrieve_user_handler=load_user)
    with uvicorn_server(app) as url:
        yield url


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_matrix_under_uvicorn(case: Case, pool: LocalUserPool, clock: Any, base: str) -> None:
    header = case.header(pool, clock)
    with httpx.Client(base_url=base, timeout=30) as http:
        # httpx refuses to send whitespace around a value; HTTP/1.1 drops it anyway.
        sent = [(name, value.strip()) for name, value in as_pairs(header)]
        response = http.get(case.path, headers=sent)
    body = check(case, response.status_code, response.headers, response.content, header)
    if case.status != 200:
        assert response.headers["Cache-Control"] == "no-store"
        assert body["message"] in (
            "The request is not authenticated.",
            "The caller is not allowed to do this.",
        )


def test_keys_unavailable_is_503(pool: LocalUserPool, clock: Any) -> None:
    with uvicorn_server(build_app(unavailable_verifier(pool, clock))) as url:
        response = httpx.get(
            url + "/protected", headers={"Authorization": bearer(pool.access_token())}, timeout=30
        )
    assert response.status_code == 503
    assert response.json() == {
        "error": "jwks_unavailable",
        "message": "Authentication is temporarily unavailable.",
    }
    assert response.headers["Retry-After"] == "5"
    assert response.headers["Cache-Control"] == "no-store"


def test_exclusion_by_opt_key_pattern_and_method(
    pool: LocalUserPool, clock: Any, base: str
) -> None:
    with httpx.Client(base_url=base, timeout=30) as http:
        # exclude_from_auth=True: the middleware does not even look at a bad token.
        public = http.get("/public", headers={"Authorization": "Bearer x.y.z"})
        assert (public.status_code, public.json()) == (200, {"auth": "None"})
        assert http.get("/health").json() == {"status": "ok"}  # exclude pattern
        # OPTIONS is excluded (CORS preflights carry no token); HEAD is not.
        assert http.options("/protected").status_code != 401
        assert http.head("/report").status_code == 401
        ok = http.head("/report", headers={"Authorization": bearer(pool.access_token())})
        assert ok.status_code == 200


def test_user_and_guard_on_optional_route(pool: LocalUserPool, clock: Any, base: str) -> None:
    with httpx.Client(base_url=base, timeout=30) as http:
        user = http.get("/user", headers={"Authorization": bearer(pool.access_token("erin"))})
        assert user.json() == {"type": "User", "name": "erin"}
        anonymous = http.get("/optional-admin")
        assert (anonymous.status_code, anonymous.json()["error"]) == (401, "missing_token")
        assert anonymous.headers["WWW-Authenticate"] == "Bearer"
        token = pool.access_token(groups=["admin"])
        admin = http.get("/optional-admin", headers={"Authorization": bearer(token)})
        assert admin.json() == {"username": "alice"}


def test_openapi_bearer_scheme(pool: LocalUserPool, clock: Any, base: str) -> None:
    schema = httpx.get(base + "/schema/openapi.json", timeout=30)
    assert schema.status_code == 401  # the schema is protected unless excluded
    app = build_app(make_verifier(pool, clock))
    document = app.openapi_schema.to_schema()
    assert document["components"]["securitySchemes"]["CognitoBearer"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "An Amazon Cognito user pool access token: Authorization: Bearer <JWT>.",
    }
    assert document["security"] == [{"CognitoBearer": []}]


def test_websocket_token_header_and_subprotocol(pool: LocalUserPool, clock: Any) -> None:
    app = build_app(make_verifier(pool, clock))
    token = pool.access_token("dora")
    with TestClient(app) as client:
        with client.websocket_connect("/ws", headers={"Authorization": bearer(token)}) as ws:
            assert ws.receive_json() == {"username": "dora"}
        with client.websocket_connect("/ws", subprotocols=[f"bearer.{token}"]) as ws:
            assert ws.receive_json() == {"username": "dora"}
        with pytest.raises(WebSocketDisconnect) as refused:
            with client.websocket_connect("/ws") as ws:
                ws.receive_json()
        # Litestar's style for a refused WebSocket: close code 4000 + HTTP status.
        assert (refused.value.code, refused.value.detail) == (4401, "missing_token")
        with pytest.raises(WebSocketDisconnect) as forbidden:
            with client.websocket_connect("/ws-admin", subprotocols=[f"bearer.{token}"]) as ws:
                ws.receive_json()
        assert (forbidden.value.code, forbidden.value.detail) == (4403, "missing_group")


def test_litestar_default_exception_style_without_our_handler(
    pool: LocalUserPool, clock: Any
) -> None:
    app = build_app(make_verifier(pool, clock), handler=False)
    with TestClient(app) as client:
        response = client.get("/protected", headers={"Authorization": bearer(pool.id_token())})
    assert response.status_code == 401
    assert response.json() == {
        "status_code": 401,
        "detail": "The request is not authenticated.",
        "extra": {"error": "invalid_token_use"},
    }
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert response.headers["Cache-Control"] == "no-store"


def test_configuration_errors(pool: LocalUserPool, clock: Any) -> None:
    with pytest.raises(TypeError):
        CognitoAuth(verifier="nope")  # type: ignore[arg-type]
    auth = CognitoAuth(verifier=make_verifier(pool, clock))
    with pytest.raises(TypeError):
        auth.required(scopes=3)  # type: ignore[arg-type]
    assert issubclass(CognitoRefusal, Exception)


def test_example_app(pool: LocalUserPool, clock: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    example = load_example(Path(__file__).parent.parent / "docs" / "examples" / "litestar_app.py")
    # Litestar resolves the handlers' annotations in their module, as imported by a user.
    monkeypatch.setitem(sys.modules, example.__name__, example)
    with uvicorn_server(example.create_app(make_verifier(pool, clock))) as url:
        with httpx.Client(base_url=url, timeout=30) as http:
            assert http.get("/health").json() == {"status": "ok"}
            assert http.get("/me").status_code == 401
            token = pool.access_token("dora", groups=["admin"], scopes=["orders-api/orders.read"])
            auth = {"Authorization": bearer(token)}
            assert http.get("/me", headers=auth).json() == {"username": "dora", "groups": ["admin"]}
            assert http.get("/admin", headers=auth).json() == {"admin": True}
            assert http.get("/orders", headers=auth).json() == {"orders": [], "for": "dora"}
            plain = {"Authorization": bearer(pool.access_token())}
            refused = http.get("/orders", headers=plain)
            assert (refused.status_code, refused.json()["error"]) == (403, "insufficient_scope")
            assert http.get("/hello").json() == {"hello": "stranger"}
            assert http.get("/hello", headers=auth).json() == {"hello": "dora"}
            assert http.get("/hello", headers={"Authorization": "Bearer x.y.z"}).status_code == 401
            schema = http.get("/schema/openapi.json").json()
            assert "CognitoBearer" in schema["components"]["securitySchemes"]


def test_optional_for_every_route(pool: LocalUserPool, clock: Any) -> None:
    app = build_app(make_verifier(pool, clock), optional=True)
    with TestClient(app) as client:
        assert client.get("/protected").json() == {"username": None}
        assert (
            client.get("/protected", headers={"Authorization": "Bearer x.y.z"}).status_code == 401
        )
        admin = client.get("/admin")  # the guard still needs a verified caller
        assert (admin.status_code, admin.json()["error"]) == (401, "missing_token")


def test_step_up_and_async_custom_check(pool: LocalUserPool, clock: Any) -> None:
    async def not_bob(claims: Claims) -> bool:
        return claims.username != "bob"

    verifier = pool.verifier(
        token_use="access", client_id="client-a", clock=clock, custom_check=not_bob
    )
    auth = CognitoAuth(verifier=verifier)

    @get("/recent", guards=[auth.required(max_auth_age=300)])
    async def recent(request: Request[Any, Claims, Any]) -> dict[str, Any]:
        return {"username": request.auth.username}

    app = Litestar([recent], on_app_init=[auth.on_app_init])
    with TestClient(app) as client:
        token = bearer(pool.access_token())
        assert client.get("/recent", headers={"Authorization": token}).status_code == 200
        clock.advance(301)  # the token is still valid; the sign-in is too old here
        stale = client.get("/recent", headers={"Authorization": token})
        assert stale.status_code == 401
        assert stale.json()["error"] == "insufficient_user_authentication"
        assert 'error="insufficient_user_authentication"' in stale.headers["WWW-Authenticate"]
        bob = client.get("/recent", headers={"Authorization": bearer(pool.access_token("bob"))})
        assert (bob.status_code, bob.json()["error"]) == (403, "custom_check_failed")
