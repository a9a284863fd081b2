"""Shared by the ASGI adapter tests: the refusal matrix and a real uvicorn server."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn

from cognito_verify import CognitoVerifier
from cognito_verify.testing import LocalUserPool

INVALID = 'Bearer error="invalid_token"'
SCOPE = "orders-api/orders.read"


@dataclass(frozen=True)
class Case:
    """One row of the matrix: which route, which token, what the client must get."""

    name: str
    path: str
    token: Callable[[LocalUserPool, Any], str | None]  # may move the clock
    status: int
    code: str | None = None
    www_authenticate: str | None = None

    def __str__(self) -> str:
        return self.name


def _expired(pool: LocalUserPool, clock: Any) -> str:
    token = pool.access_token(lifetime=600)
    clock.advance(601)  # injected time: no sleeping
    return token


CASES = [
    Case("no_token", "/me", lambda p, c: None, 401, "missing_token", "Bearer"),
    Case("malformed", "/me", lambda p, c: "not-a.jwt", 401, "malformed_token", INVALID),
    Case("expired", "/me", _expired, 401, "token_expired", INVALID),
    Case(
        "wrong_client",
        "/me",
        lambda p, c: p.access_token(client_id="someone-elses-client"),
        401,
        "invalid_client",
        INVALID,
    ),
    Case("id_token", "/me", lambda p, c: p.id_token(), 401, "invalid_token_use", INVALID),
    Case(
        "missing_group",
        "/admin",
        lambda p, c: p.access_token(groups=["staff"]),
        403,
        "missing_group",
    ),
    Case(
        "missing_scope",
        "/orders",
        lambda p, c: p.access_token(scopes=["openid"]),
        403,
        "insufficient_scope",
        'Bearer error="insufficient_scope"',
    ),
    Case("good", "/me", lambda p, c: p.access_token("alice"), 200),
    Case("good_group", "/admin", lambda p, c: p.access_token("alice", groups=["admin"]), 200),
    Case("good_scope", "/orders", lambda p, c: p.access_token("alice", scopes=[SCOPE]), 200),
]


def headers_for(token: str | None) -> dict[str, str]:
    return {} if token is None else {"Authorization": f"Bearer {token}"}


def check(
    response: httpx.Response,
    case: Case,
    token: str | None,
    error_of: Callable[[Any], str] = lambda body: body["error"],
) -> None:
    """Assert status, headers and body of the answer to ``case``."""
    assert response.status_code == case.status, response.text
    if token:
        assert token not in response.text
    if case.status == 200:
        assert response.json()["username"] == "alice"  # the claims reached the handler
        return
    assert response.headers["content-type"].startswith("application/json")
    assert error_of(response.json()) == case.code
    assert response.headers.get("www-authenticate") == case.www_authenticate
    assert "Traceback" not in response.text


def unreachable_verifier(pool: LocalUserPool, clock: Any) -> CognitoVerifier:
    """A verifier whose JWKS endpoint is a closed port on 127.0.0.1 (-> 503)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # The port is closed again: connecting is refused at once.
    return CognitoVerifier(
        pool.user_pool_id,
        client_id=list(pool.client_ids),
        token_use="access",
        jwks_url=f"http://127.0.0.1:{port}/jwks.json",
        jwks_timeout=2,
        clock=clock,
    )


@contextmanager
def uvicorn_server(app: Any, ws: str = "none") -> Iterator[str]:
    """Run ``app`` under uvicorn on 127.0.0.1 (port 0) in a thread; yields its base URL."""
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", lifespan="off", ws=ws
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)  # waiting for a server to bind, not for a token to expire
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
