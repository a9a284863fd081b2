"""FastAPI adapter: the refusal matrix in process, then real HTTP under uvicorn,
with tokens from LocalUserPool and from the moto Cognito emulator."""

from __future__ import annotations

import json
import sys
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
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from cognito_verify import Claims, CognitoVerifier
from cognito_verify.integrations.fastapi import (
    CognitoAuth,
    CognitoHTTPException,
    cognito_exception_handler,
)
from cognito_verify.testing import LocalUserPool

EXAMPLE = Path(__file__).parent.parent / "docs" / "examples" / "fastapi_app.py"


example = load_example(EXAMPLE)


def detail(body: Any) -> str:
    error: str = body["detail"]["error"]  # FastAPI's HTTPException convention
    return error


@pytest.fixture
def client(pool: LocalUserPool, clock: Any) -> Iterator[TestClient]:
    app = example.create_app(pool.verifier(token_use="access", clock=clock))
    with TestClient(app) as c:
        yield c


def matrix_app(verifier: CognitoVerifier) -> FastAPI:
    """The matrix routes (tests/_adapter_matrix.py) as FastAPI dependencies."""
    auth = CognitoAuth(verifier)
    app = FastAPI()
    any_token = Depends(auth)
    admin_group = Depends(auth.required(groups="admin"))
    write_scope = Depends(auth.required(scopes=WRITE))
    anonymous_allowed = Depends(auth.required(optional=True))

    @app.get("/protected")
    async def protected(claims: Claims = any_token) -> dict[str, Any]:
        return {"username": claims.username}

    @app.get("/admin")
    async def admin(claims: Claims = admin_group) -> dict[str, Any]:
        return {"username": claims.username}

    @app.get("/write")
    def write(claims: Claims = write_scope) -> dict[str, Any]:
        return {"username": claims.username}

    @app.get("/optional")
    async def optional(claims: Claims | None = anonymous_allowed) -> dict[str, Any]:
        return {"username": claims.username if claims else None}

    return app


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_matrix(pool: LocalUserPool, clock: Any, case: Case) -> None:
    header = case.header(pool, clock)
    with TestClient(matrix_app(make_verifier(pool, clock))) as c:
        response = c.get(case.path, headers=as_pairs(header))
    check(response, case, header, lambda body: body["detail"])


def test_bearer_scheme_is_case_insensitive(client: TestClient, pool: LocalUserPool) -> None:
    token = pool.access_token("alice")
    response = client.get("/me", headers={"Authorization": f"bEaReR {token}"})
    assert response.status_code == 200


def test_two_authorization_headers_are_refused(client: TestClient, pool: LocalUserPool) -> None:
    token = pool.access_token("alice")
    headers = [("Authorization", f"Bearer {token}"), ("Authorization", "Bearer x")]
    response = client.get("/me", headers=headers)
    assert response.status_code == 401
    assert detail(response.json()) == "malformed_token"


def test_basic_auth_counts_as_no_token(client: TestClient) -> None:
    response = client.get("/me", headers={"Authorization": "Basic YWxpY2U6cHc="})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_jwks_unavailable_is_503(pool: LocalUserPool, clock: Any) -> None:
    app = example.create_app(unreachable_verifier(pool, clock))
    token = pool.access_token("alice")
    with TestClient(app) as c:
        response = c.get("/me", headers=headers_for(token))
    assert response.status_code == 503
    assert detail(response.json()) == "jwks_unavailable"
    assert response.headers["retry-after"] == "5"
    assert "www-authenticate" not in response.headers
    assert token not in response.text and "127.0.0.1" not in response.text


def test_optional_gives_none_to_anonymous(client: TestClient, pool: LocalUserPool) -> None:
    assert client.get("/hello").json() == {"hello": "stranger"}
    good = client.get("/hello", headers=headers_for(pool.access_token("bob")))
    assert good.json() == {"hello": "bob"}
    # A bad token is refused, not downgraded to anonymous.
    bad = client.get("/hello", headers=headers_for(pool.id_token("bob")))
    assert bad.status_code == 401
    assert detail(bad.json()) == "invalid_token_use"


def test_openapi_lists_the_bearer_scheme(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    scheme = spec["components"]["securitySchemes"]["CognitoBearer"]
    assert scheme["type"] == "http"
    assert scheme["scheme"] == "bearer"
    assert scheme["bearerFormat"] == "JWT"
    for path in ("/me", "/admin", "/orders", "/hello"):
        assert spec["paths"][path]["get"]["security"] == [{"CognitoBearer": []}], path
    assert "security" not in spec["paths"]["/health"]["get"]
    assert "/openapi.json" in client.get("/docs").text  # the page the Authorize button is on


def test_exception_handler_customises_the_body(pool: LocalUserPool, clock: Any) -> None:
    app = example.create_app(pool.verifier(token_use="access", clock=clock))
    app.add_exception_handler(CognitoHTTPException, cognito_exception_handler)
    with TestClient(app) as c:
        response = c.get("/orders", headers=headers_for(pool.access_token()))
    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"
    assert response.headers["www-authenticate"] == (
        f'Bearer error="insufficient_scope", scope="{SCOPE}"'
    )


def test_require_rejects_bad_arguments_at_import(pool: LocalUserPool) -> None:
    auth = CognitoAuth(pool.verifier(token_use="access"))
    with pytest.raises(TypeError):
        auth.required(groups=[1])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        CognitoAuth("not a verifier")  # type: ignore[arg-type]


# --- WebSocket --------------------------------------------------------------------


def test_websocket_with_authorization_header(client: TestClient, pool: LocalUserPool) -> None:
    with client.websocket_connect("/ws", headers=headers_for(pool.access_token())) as ws:
        assert ws.receive_json() == {"username": "alice"}


def test_websocket_with_bearer_subprotocol(client: TestClient, pool: LocalUserPool) -> None:
    token = pool.access_token("carol")
    with client.websocket_connect("/ws", subprotocols=[f"bearer.{token}"]) as ws:
        assert ws.receive_json() == {"username": "carol"}


@pytest.mark.parametrize("kind", ["none", "id_token"])
def test_websocket_refused_with_1008(client: TestClient, pool: LocalUserPool, kind: str) -> None:
    headers = {} if kind == "none" else headers_for(pool.id_token())
    with pytest.raises(WebSocketDisconnect) as info:
        with client.websocket_connect("/ws", headers=headers):
            pass  # pragma: no cover - the handshake is refused
    assert info.value.code == 1008
    assert info.value.reason == ("missing_token" if kind == "none" else "invalid_token_use")


# --- real HTTP ----------------------------------------------------------------------


def test_over_real_http(pool: LocalUserPool, clock: Any) -> None:
    app = matrix_app(make_verifier(pool, clock))
    with uvicorn_server(app) as base, httpx.Client(base_url=base, timeout=5) as http:
        by_name = {c.name: c for c in CASES}
        for name in ("no_token", "wrong_client", "missing_scope", "good_scope", "quoted_token"):
            case = by_name[name]
            header = case.header(pool, clock)
            response = http.get(case.path, headers=as_pairs(header))
            check(response, case, header, lambda body: body["detail"])


def test_websocket_over_real_http(pool: LocalUserPool, clock: Any) -> None:
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    app = example.create_app(pool.verifier(token_use="access", clock=clock))
    with uvicorn_server(app, ws="websockets-sansio") as base:
        url = base.replace("http://", "ws://") + "/ws"
        headers = headers_for(pool.access_token("ivy"))
        with connect(url, additional_headers=headers, open_timeout=5) as ws:
            assert json.loads(ws.recv(timeout=5)) == {"username": "ivy"}
        # FastAPI's convention: close with 1008 before accept, which uvicorn sends as 403.
        with pytest.raises(InvalidStatus) as refused:
            connect(url, open_timeout=5)
        assert refused.value.response.status_code == 403


def test_example_reads_its_configuration_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COGNITO_USER_POOL_ID", "eu-west-1_AbCdEf123")
    monkeypatch.setenv("COGNITO_CLIENT_ID", "client-a")
    app = example.create_app()
    assert isinstance(app, FastAPI)
    with TestClient(app) as c:
        assert c.get("/me").status_code == 401  # no network: refused before any key fetch


# --- moto: tokens minted by the Cognito emulator --------------------------------------


@pytest.fixture(scope="module")
def moto_cognito() -> Iterator[dict[str, str]]:
    """A user pool, app client and user in moto's server; yields their tokens."""
    boto3 = pytest.importorskip("boto3")
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        idp = boto3.client(
            "cognito-idp",
            region_name="us-east-1",
            endpoint_url=url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        pool_id = idp.create_user_pool(PoolName="orders")["UserPool"]["Id"]
        client_id = idp.create_user_pool_client(
            UserPoolId=pool_id, ClientName="web", ExplicitAuthFlows=["USER_PASSWORD_AUTH"]
        )["UserPoolClient"]["ClientId"]
        idp.admin_create_user(UserPoolId=pool_id, Username="dora")
        idp.admin_set_user_password(
            UserPoolId=pool_id, Username="dora", Password="Secret-Passw0rd!", Permanent=True
        )
        result = idp.initiate_auth(
            ClientId=client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "dora", "PASSWORD": "Secret-Passw0rd!"},
        )["AuthenticationResult"]
        yield {
            "url": url,
            "pool_id": pool_id,
            "client_id": client_id,
            "access": result["AccessToken"],
            "id": result["IdToken"],
        }
    finally:
        server.stop()


def test_moto_tokens_over_real_http(moto_cognito: dict[str, str]) -> None:
    m = moto_cognito
    verifier = CognitoVerifier(
        m["pool_id"],
        client_id=m["client_id"],
        token_use="access",
        # Only the keys come from the emulator; iss is checked in its real AWS form.
        jwks_url=f"{m['url']}/{m['pool_id']}/.well-known/jwks.json",
    )
    app = example.create_app(verifier)
    with uvicorn_server(app) as base, httpx.Client(base_url=base, timeout=5) as http:
        me = http.get("/me", headers=headers_for(m["access"]))
        assert me.status_code == 200, me.text
        assert me.json()["username"] == "dora"
        wrong = http.get("/me", headers=headers_for(m["id"]))
        assert wrong.status_code == 401
        assert detail(wrong.json()) == "invalid_token_use"
        assert m["id"] not in wrong.text
        scope = http.get("/orders", headers=headers_for(m["access"]))
        assert scope.status_code == 403
        assert scope.headers["www-authenticate"] == (
            f'Bearer error="insufficient_scope", scope="{SCOPE}"'
        )


def test_importing_the_package_imports_no_framework() -> None:
    import subprocess

    code = (
        "import sys, cognito_verify, cognito_verify.pytest_plugin, cognito_verify.integrations"
        "._http, cognito_verify.integrations.asgi; "
        "bad = [m for m in ('fastapi', 'starlette', 'flask', 'django') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_scope_constant_matches_example() -> None:
    assert SCOPE in EXAMPLE.read_text()


def test_claims_are_returned_as_json(pool: LocalUserPool, clock: Any) -> None:
    auth = CognitoAuth(make_verifier(pool, clock))
    app = FastAPI()
    any_token = Depends(auth)

    @app.get("/claims")
    async def claims_route(claims: Claims = any_token) -> dict[str, Any]:
        return {"claims": claims.to_dict(), "groups": sorted(claims.groups)}

    @app.get("/bare")
    async def bare(claims: Claims = any_token):  # type: ignore[no-untyped-def]
        return claims  # no return annotation: FastAPI's jsonable_encoder

    token = pool.access_token(groups=["b", "a"])
    with TestClient(app) as c:
        body = c.get("/claims", headers=headers_for(token)).json()
        bare_body = c.get("/bare", headers=headers_for(token)).json()
    assert body["claims"]["cognito:groups"] == ["b", "a"]
    assert body["groups"] == ["a", "b"]
    assert bare_body == body["claims"]
