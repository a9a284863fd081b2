"""Shared by the ASGI adapter tests: the one refusal matrix over httpx, and a real
uvicorn server."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn
from _adapter_matrix import CASES, IDS, Case, as_pairs
from _adapter_matrix import check as matrix_check

from cognito_verify import CognitoVerifier
from cognito_verify.testing import LocalUserPool

__all__ = ["CASES", "IDS", "Case", "as_pairs", "check", "headers_for", "SCOPE"]

SCOPE = "orders-api/orders.read"  # the example apps' scope


def headers_for(token: str | None) -> dict[str, str]:
    return {} if token is None else {"Authorization": f"Bearer {token}"}


def check(
    response: httpx.Response,
    case: Case,
    header: str | list[str] | None,
    unwrap: Callable[[Any], Any] = lambda body: body,
) -> None:
    """Assert an httpx response against a row of the one matrix (_adapter_matrix)."""
    matrix_check(
        case, response.status_code, response.headers, response.content, header, unwrap=unwrap
    )


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
