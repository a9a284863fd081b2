"""CognitoWSGIMiddleware: the refusal matrix through werkzeug's test client, and end to
end through a real WSGI server on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import httpx
import pytest
from _adapter_matrix import (
    CASES,
    IDS,
    SCOPE,
    Case,
    bearer,
    check,
    joined,
    make_verifier,
    unavailable_verifier,
    wsgi_server,
)
from werkzeug.test import Client

from cognito_verify import CognitoVerifier
from cognito_verify.integrations.wsgi import CognitoWSGIMiddleware
from cognito_verify.testing import LocalUserPool


def echo(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    claims = environ["cognito.claims"]
    body = json.dumps({"username": claims.username if claims else None}).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


def make_app(verifier: CognitoVerifier) -> Callable[..., Iterable[bytes]]:
    by_path = {
        "/admin": CognitoWSGIMiddleware(echo, verifier, groups="admin"),
        "/write": CognitoWSGIMiddleware(echo, verifier, scopes=["orders/write"]),
        "/optional": CognitoWSGIMiddleware(echo, verifier, optional=True),
    }
    default = CognitoWSGIMiddleware(echo, verifier, exclude_paths=("/health", "/static/"))

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        return by_path.get(environ["PATH_INFO"], default)(environ, start_response)

    return app


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_matrix(case: Case, pool: LocalUserPool, clock: Any) -> None:
    client = Client(make_app(make_verifier(pool, clock)))
    header = case.header(pool, clock)
    response = client.get(case.path, headers=joined(header))
    check(case, response.status_code, response.headers, response.data, header)


def test_keys_unavailable_is_503(pool: LocalUserPool, clock: Any) -> None:
    client = Client(make_app(unavailable_verifier(pool, clock)))
    response = client.get("/protected", headers={"Authorization": bearer(pool.access_token())})
    assert response.status_code == 503
    assert response.json == {
        "error": "jwks_unavailable",
        "message": "Authentication is temporarily unavailable.",
    }
    assert "WWW-Authenticate" not in response.headers


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/health", 200),
        ("/health/", 200),
        ("/static/app.css", 200),
        ("/static/../protected", 401),  # dot segments cannot smuggle a path past the check
        ("/health/../protected", 401),
        ("/healthz", 401),
        ("/static", 200),  # the directory itself, as "/health/" is "/health"
        ("/staticfiles", 401),
        ("//health", 401),  # not in normal form: authenticated
    ],
)
def test_exclude_paths(pool: LocalUserPool, clock: Any, path: str, status: int) -> None:
    app = CognitoWSGIMiddleware(
        echo, make_verifier(pool, clock), exclude_paths=("/health", "/static/")
    )
    environ = {"PATH_INFO": path, "REQUEST_METHOD": "GET"}
    seen: list[str] = []
    body = b"".join(app(environ, lambda s, h: seen.append(s)))
    assert int(seen[0].split()[0]) == status, body
    assert environ["cognito.claims"] is None


def test_string_exclude_paths_is_refused(pool: LocalUserPool, clock: Any) -> None:
    with pytest.raises(TypeError):
        CognitoWSGIMiddleware(echo, make_verifier(pool, clock), exclude_paths="/health")


@pytest.fixture
def server(pool: LocalUserPool, clock: Any) -> Iterator[str]:
    with wsgi_server(make_app(make_verifier(pool, clock))) as url:
        yield url


def test_real_server(server: str, pool: LocalUserPool) -> None:
    with httpx.Client(base_url=server, timeout=5) as http:
        anonymous = http.get("/protected")
        assert anonymous.status_code == 401
        assert anonymous.headers["www-authenticate"] == "Bearer"
        assert anonymous.json()["error"] == "missing_token"
        good = http.get(
            "/admin", headers={"Authorization": bearer(pool.access_token(groups=["admin"]))}
        )
        assert good.status_code == 200
        assert good.json() == {"username": "alice"}
        forbidden = http.get("/write", headers={"Authorization": bearer(pool.access_token())})
        assert forbidden.status_code == 403
        assert forbidden.headers["www-authenticate"] == SCOPE
        assert http.get("/health").status_code == 200
        # Two Authorization headers reach the app joined by a comma: never accepted.
        token = pool.access_token(groups=["admin"])
        doubled = [("Authorization", bearer(token)), ("Authorization", bearer(token))]
        twice = http.get("/admin", headers=doubled)
        assert (twice.status_code, twice.json()["error"]) == (401, "malformed_token")


def test_core_and_wsgi_import_no_framework() -> None:
    code = (
        "import sys, cognito_verify, cognito_verify.integrations.wsgi\n"
        "loaded = {'flask', 'werkzeug', 'django', 'rest_framework', 'starlette', 'fastapi'}\n"
        "print(sorted(loaded & {m.split('.')[0] for m in sys.modules}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
