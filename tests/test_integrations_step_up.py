"""Revocation and step-up through every adapter: status, challenge header and body code
come from the shared refusal rules (integrations/_http.py)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from conftest import Clock

from cognito_verify import Claims, CognitoVerifier
from cognito_verify.testing import LocalUserPool

STEP_UP = (
    'Bearer error="insufficient_user_authentication", '
    'error_description="A more recent authentication is required", max_age=300'
)
INVALID = 'Bearer error="invalid_token"'


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: Any

    def __post_init__(self) -> None:
        self.headers = {k.lower(): v for k, v in self.headers.items()}

    @property
    def code(self) -> str | None:
        body = self.body.get("detail", self.body) if isinstance(self.body, dict) else {}
        return body.get("error") if isinstance(body, dict) else None


class Revocations:
    """Sync or async hook over a set of revoked jti; "crash" users break the store."""

    def __init__(self) -> None:
        self.revoked: set[str] = set()

    def check(self, claims: Claims) -> bool:
        if claims.username == "crash":
            raise ConnectionError("deny list unreachable")
        return claims["jti"] in self.revoked

    async def acheck(self, claims: Claims) -> bool:
        await asyncio.sleep(0)
        return self.check(claims)


# --- one small app per adapter: /protected, and /recent with max_auth_age=300 ---------


def flask_get(verifier: CognitoVerifier) -> Callable[[str, dict[str, str]], Answer]:
    from flask import Flask

    from cognito_verify.integrations.flask import CognitoAuth

    app = Flask(__name__)
    auth = CognitoAuth(verifier, app=app)

    @app.get("/protected")
    @auth.required
    def protected() -> dict[str, Any]:
        return {"ok": True}

    @app.get("/recent")
    @auth.required(max_auth_age=300)
    async def recent() -> dict[str, Any]:
        return {"ok": True}

    client = app.test_client()

    def get(path: str, headers: dict[str, str]) -> Answer:
        r = client.get(path, headers=headers)
        return Answer(r.status_code, dict(r.headers), r.get_json())

    return get


def fastapi_get(verifier: CognitoVerifier) -> Callable[[str, dict[str, str]], Answer]:
    from fastapi import Depends, FastAPI
    from fastapi.testclient import TestClient

    from cognito_verify.integrations.fastapi import CognitoAuth

    app = FastAPI()
    auth = CognitoAuth(verifier)

    # Defaults, not Annotated: this module's annotations are strings (PEP 563), and
    # FastAPI cannot resolve names local to this function from them.
    @app.get("/protected")
    async def protected(claims: Claims = Depends(auth)) -> dict[str, Any]:  # noqa: B008
        return {"ok": True}

    @app.get("/recent")
    async def recent(
        claims: Claims = Depends(auth.required(max_auth_age=300)),  # noqa: B008
    ) -> dict[str, Any]:
        return {"ok": True}

    client = TestClient(app)

    def get(path: str, headers: dict[str, str]) -> Answer:
        r = client.get(path, headers=headers)
        return Answer(r.status_code, dict(r.headers), r.json())

    return get


def starlette_get(verifier: CognitoVerifier) -> Callable[[str, dict[str, str]], Answer]:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    from cognito_verify.integrations.starlette import CognitoAuthBackend

    backend = CognitoAuthBackend(verifier)

    @backend.required()
    async def protected(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    @backend.required(max_auth_age=300)
    async def recent(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    app = Starlette(
        routes=[Route("/protected", protected), Route("/recent", recent)],
        middleware=[backend.middleware()],
    )
    client = TestClient(app)

    def get(path: str, headers: dict[str, str]) -> Answer:
        r = client.get(path, headers=headers)
        return Answer(r.status_code, dict(r.headers), r.json())

    return get


async def _ok_asgi(scope: Any, receive: Any, send: Any) -> None:
    body = b'{"ok": true}'
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


def asgi_get(verifier: CognitoVerifier) -> Callable[[str, dict[str, str]], Answer]:
    from starlette.testclient import TestClient

    from cognito_verify.integrations.asgi import CognitoASGIMiddleware

    clients = {
        "/protected": TestClient(CognitoASGIMiddleware(_ok_asgi, verifier)),
        "/recent": TestClient(CognitoASGIMiddleware(_ok_asgi, verifier, max_auth_age=300)),
    }

    def get(path: str, headers: dict[str, str]) -> Answer:
        r = clients[path].get(path, headers=headers)
        return Answer(r.status_code, dict(r.headers), r.json())

    return get


def wsgi_get(verifier: CognitoVerifier) -> Callable[[str, dict[str, str]], Answer]:
    from werkzeug.test import Client

    from cognito_verify.integrations.wsgi import CognitoWSGIMiddleware

    def ok(environ: Any, start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b'{"ok": true}']

    clients = {
        "/protected": Client(CognitoWSGIMiddleware(ok, verifier)),
        "/recent": Client(CognitoWSGIMiddleware(ok, verifier, max_auth_age=300)),
    }

    def get(path: str, headers: dict[str, str]) -> Answer:
        r = clients[path].get(path, headers=headers)
        return Answer(r.status_code, dict(r.headers), json.loads(r.get_data()))

    return get


ADAPTERS = {
    "flask": (flask_get, False),
    "fastapi": (fastapi_get, True),
    "starlette": (starlette_get, True),
    "asgi": (asgi_get, True),
    "wsgi": (wsgi_get, False),
}


@dataclass
class Setup:
    get: Callable[[str, dict[str, str]], Answer]
    pool: LocalUserPool
    clock: Clock
    revocations: Revocations


@pytest.fixture(params=list(ADAPTERS))
def app(request: pytest.FixtureRequest, pool: LocalUserPool, clock: Clock) -> Iterator[Setup]:
    make, is_async = ADAPTERS[request.param]
    revocations = Revocations()
    verifier = pool.verifier(
        token_use="access",
        client_id="client-a",
        clock=clock,
        # The async adapters get an async hook, awaited by averify.
        is_revoked=revocations.acheck if is_async else revocations.check,
    )
    yield Setup(make(verifier), pool, clock, revocations)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_fresh_token_passes_both_routes(app: Setup) -> None:
    token = app.pool.access_token()
    assert app.get("/protected", bearer(token)).status == 200
    assert app.get("/recent", bearer(token)).status == 200


def test_revoked_token_is_401_invalid_token(app: Setup) -> None:
    token = app.pool.access_token()
    assert app.get("/protected", bearer(token)).status == 200  # now cached
    app.revocations.revoked.add(json.loads(_payload(token))["jti"])
    answer = app.get("/protected", bearer(token))
    assert (answer.status, answer.code) == (401, "token_revoked")
    assert answer.headers["www-authenticate"] == INVALID


def test_failing_revocation_store_is_503(app: Setup) -> None:
    answer = app.get("/protected", bearer(app.pool.access_token("crash")))
    assert (answer.status, answer.code) == (503, "revocation_check_failed")
    assert answer.headers["retry-after"] == "5"
    assert "unreachable" not in json.dumps(answer.body)


def test_old_sign_in_gets_the_step_up_challenge(app: Setup) -> None:
    token = app.pool.access_token()
    assert app.get("/recent", bearer(token)).status == 200
    app.clock.advance(301)
    assert app.get("/protected", bearer(token)).status == 200  # other routes: still fine
    answer = app.get("/recent", bearer(token))
    assert (answer.status, answer.code) == (401, "insufficient_user_authentication")
    assert answer.headers["www-authenticate"] == STEP_UP


def test_machine_token_gets_the_step_up_challenge(app: Setup) -> None:
    token = app.pool.client_credentials_token(client_id="client-a")
    assert app.get("/protected", bearer(token)).status == 200
    answer = app.get("/recent", bearer(token))
    assert (answer.status, answer.headers["www-authenticate"]) == (401, STEP_UP)


def _payload(token: str) -> str:
    import base64

    segment = token.split(".")[1]
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)).decode()


def test_starlette_require_awaits_an_async_custom_check(pool: LocalUserPool, clock: Clock) -> None:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    from cognito_verify.integrations.starlette import CognitoAuthBackend

    async def not_bob(claims: Claims) -> bool:
        await asyncio.sleep(0)
        return claims.username != "bob"

    verifier = pool.verifier(
        token_use="access", client_id="client-a", clock=clock, custom_check=not_bob
    )
    backend = CognitoAuthBackend(verifier)

    @backend.required(max_auth_age=300)
    async def recent(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    app = Starlette(routes=[Route("/recent", recent)], middleware=[backend.middleware()])
    client = TestClient(app)
    assert client.get("/recent", headers=bearer(pool.access_token())).status_code == 200
    refused = client.get("/recent", headers=bearer(pool.access_token("bob")))
    assert (refused.status_code, refused.json()["error"]) == (403, "custom_check_failed")
