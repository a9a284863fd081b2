"""Generic ASGI middleware: the refusal matrix through httpx's ASGITransport, path
exclusions, anonymous pass-through, WebSocket handshakes, lifespan, and real HTTP."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from _adapter_matrix import WRITE
from _asgi_support import (
    CASES,
    IDS,
    Case,
    as_pairs,
    check,
    headers_for,
    unreachable_verifier,
    uvicorn_server,
)
from starlette.testclient import TestClient, WebSocketDenialResponse

from cognito_verify import CognitoVerifier
from cognito_verify.integrations.asgi import CLAIMS_KEY, CognitoASGIMiddleware
from cognito_verify.testing import LocalUserPool

Scope = dict[str, Any]


class Inner:
    """A bare ASGI app that reports what the middleware left in the scope."""

    def __init__(self) -> None:
        self.lifespan: list[str] = []
        self.scopes: list[Scope] = []

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                self.lifespan.append(message["type"])
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        self.scopes.append(scope)
        claims = scope.get(CLAIMS_KEY)
        body = json.dumps({"username": claims.username if claims else None}).encode()
        if scope["type"] == "websocket":
            assert (await receive())["type"] == "websocket.connect"
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.send", "text": body.decode()})
            await send({"type": "websocket.close", "code": 1000})
            return
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def protected(inner: Inner, verifier: CognitoVerifier, **options: Any) -> Any:
    """The matrix routes: /admin, /write and /optional carry their requirements;
    everything else just needs a token."""
    by_path = {
        "/admin": CognitoASGIMiddleware(inner, verifier, groups="admin", **options),
        "/write": CognitoASGIMiddleware(inner, verifier, scopes=WRITE, **options),
        "/optional": CognitoASGIMiddleware(inner, verifier, optional=True, **options),
    }
    default = CognitoASGIMiddleware(inner, verifier, **options)

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await by_path.get(scope.get("path", ""), default)(scope, receive, send)

    return app


def request(app: Any, path: str, headers: Any = None) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get(path, headers=headers)

    return asyncio.run(go())


@pytest.fixture
def inner() -> Inner:
    return Inner()


@pytest.fixture
def verifier(pool: LocalUserPool, clock: Any) -> CognitoVerifier:
    return pool.verifier(token_use="access", client_id="client-a", clock=clock)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_matrix(
    inner: Inner, verifier: CognitoVerifier, pool: LocalUserPool, clock: Any, case: Case
) -> None:
    header = case.header(pool, clock)
    check(request(protected(inner, verifier), case.path, as_pairs(header)), case, header)
    assert len(inner.scopes) == (1 if case.status == 200 else 0)  # refusals stop here


def test_jwks_unavailable_is_503(inner: Inner, pool: LocalUserPool, clock: Any) -> None:
    token = pool.access_token()
    app = CognitoASGIMiddleware(inner, unreachable_verifier(pool, clock))
    response = request(app, "/me", headers_for(token))
    assert response.status_code == 503
    assert response.json()["error"] == "jwks_unavailable"
    assert response.headers["retry-after"] == "5"
    assert token not in response.text


def test_exclude_paths(inner: Inner, verifier: CognitoVerifier) -> None:
    app = CognitoASGIMiddleware(inner, verifier, exclude_paths=("/health", "/public/"))
    assert request(app, "/health").status_code == 200
    assert request(app, "/public/logo.png").status_code == 200
    assert request(app, "/healthcare").status_code == 401
    assert request(app, "/health/deep").status_code == 401
    assert request(app, "/publicity").status_code == 401
    with pytest.raises(TypeError):
        CognitoASGIMiddleware(inner, verifier, exclude_paths="/health")
    with pytest.raises(ValueError):
        CognitoASGIMiddleware(inner, verifier, exclude_paths=["health"])


def test_optional_mode(inner: Inner, verifier: CognitoVerifier, pool: LocalUserPool) -> None:
    app = CognitoASGIMiddleware(inner, verifier, optional=True)
    anonymous = request(app, "/me")
    assert anonymous.status_code == 200 and anonymous.json() == {"username": None}
    assert inner.scopes[-1][CLAIMS_KEY] is None
    assert request(app, "/me", headers_for(pool.access_token("bob"))).json() == {"username": "bob"}
    bad = request(app, "/me", headers_for(pool.id_token()))
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_token_use"


def test_two_authorization_headers_are_refused(
    inner: Inner, verifier: CognitoVerifier, pool: LocalUserPool
) -> None:
    token = pool.access_token()
    headers = [("Authorization", f"Bearer {token}"), ("Authorization", "Bearer other")]
    response = request(CognitoASGIMiddleware(inner, verifier), "/me", headers)
    assert response.status_code == 401
    assert response.json()["error"] == "malformed_token"


@pytest.fixture
def client(inner: Inner, verifier: CognitoVerifier) -> Iterator[TestClient]:
    with TestClient(protected(inner, verifier)) as c:
        yield c


def test_lifespan_passes_through(client: TestClient, inner: Inner) -> None:
    assert inner.lifespan == ["lifespan.startup"]


def test_claims_in_scope_and_state(client: TestClient, inner: Inner, pool: LocalUserPool) -> None:
    assert client.get("/me", headers=headers_for(pool.access_token("ann"))).status_code == 200
    scope = inner.scopes[-1]
    assert scope[CLAIMS_KEY].username == "ann"
    assert scope["state"]["cognito_claims"] is scope[CLAIMS_KEY]


def test_websocket_accepted_with_a_token(client: TestClient, pool: LocalUserPool) -> None:
    with client.websocket_connect("/me", headers=headers_for(pool.access_token("gus"))) as ws:
        assert json.loads(ws.receive_text()) == {"username": "gus"}
    token = pool.access_token("hal")
    with client.websocket_connect("/me", subprotocols=["chat", f"bearer.{token}"]) as ws:
        assert json.loads(ws.receive_text()) == {"username": "hal"}


def test_websocket_denied_with_http_status(client: TestClient, pool: LocalUserPool) -> None:
    # The test client offers the websocket.http.response extension: a real 401/403.
    with pytest.raises(WebSocketDenialResponse) as denied:
        with client.websocket_connect("/me"):
            pass  # pragma: no cover - refused
    assert denied.value.status_code == 401
    assert denied.value.headers["www-authenticate"] == "Bearer"
    assert denied.value.json()["error"] == "missing_token"
    token = pool.access_token(scopes=["openid"])
    with pytest.raises(WebSocketDenialResponse) as denied:
        with client.websocket_connect("/write", headers=headers_for(token)):
            pass  # pragma: no cover - refused
    assert denied.value.status_code == 403
    assert denied.value.json()["error"] == "insufficient_scope"


def test_websocket_closed_1008_without_the_extension(
    inner: Inner, verifier: CognitoVerifier, pool: LocalUserPool
) -> None:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}  # pragma: no cover - never read

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "websocket", "path": "/ws", "headers": [], "subprotocols": []}
    asyncio.run(CognitoASGIMiddleware(inner, verifier)(scope, receive, send))
    assert sent == [{"type": "websocket.close", "code": 1008, "reason": "missing_token"}]


def test_over_real_http(inner: Inner, verifier: CognitoVerifier, pool: LocalUserPool) -> None:
    app = protected(inner, verifier, exclude_paths=("/health",))
    with uvicorn_server(app) as base, httpx.Client(base_url=base, timeout=5) as http:
        by_name = {c.name: c for c in CASES}
        for name in ("no_token", "id_token", "missing_scope", "good", "two_authorization_headers"):
            case = by_name[name]
            header = case.header(pool, None)
            check(http.get(case.path, headers=as_pairs(header)), case, header)
        assert inner.scopes[-1]["state"]["cognito_claims"].username == "alice"  # uvicorn's state
        assert http.get("/health").status_code == 200


def test_websocket_over_real_http(
    inner: Inner, verifier: CognitoVerifier, pool: LocalUserPool
) -> None:
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    app = CognitoASGIMiddleware(inner, verifier)
    with uvicorn_server(app, ws="websockets-sansio") as base:
        url = base.replace("http://", "ws://") + "/ws"
        token = pool.access_token("ivy")
        with connect(url, subprotocols=[f"bearer.{token}"], open_timeout=5) as ws:
            assert json.loads(ws.recv(timeout=5)) == {"username": "ivy"}
        # uvicorn offers the denial-response extension: the handshake gets a real 401.
        with pytest.raises(InvalidStatus) as refused:
            connect(url, additional_headers=headers_for(pool.id_token()), open_timeout=5)
        response = refused.value.response
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
        assert json.loads(bytes(response.body or b""))["error"] == "invalid_token_use"


def test_errors_doc_covers_every_code() -> None:
    from pathlib import Path

    from cognito_verify import errors
    from cognito_verify.integrations._http import refusal

    doc = (Path(__file__).parent.parent / "docs" / "errors.md").read_text()
    rows = {
        line.split("|")[1].strip(" `"): line.split("|")
        for line in doc.splitlines()
        if line.startswith("| `")
    }
    for name in errors.__all__:
        cls = getattr(errors, name)
        answer = refusal(cls("x"))
        assert cls.code in rows, cls.code
        row = rows[cls.code]
        assert row[2].strip(" `") == name
        assert row[3].strip() == str(answer.status), cls.code
        header = answer.headers.get("WWW-Authenticate", answer.headers.get("Retry-After"))
        if header:
            assert header in row[4], cls.code
