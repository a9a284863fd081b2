"""The refusal matrix every sync-framework adapter (Flask, WSGI, Django) is tested with.

Each adapter's test app exposes the same routes, verified by a verifier for
``client-a`` access tokens:

    /protected   any accepted token         -> {"username": ...}
    /admin       group "admin"
    /write       scope "orders/write"
    /optional    anonymous allowed          -> {"username": null}
"""

from __future__ import annotations

import importlib.util
import json
import socket
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from cognito_verify import CognitoVerifier
from cognito_verify.testing import LocalUserPool

INVALID = 'Bearer error="invalid_token"'
SCOPE = 'Bearer error="insufficient_scope"'

Header = Callable[[LocalUserPool, Any], "str | None"]


def bearer(token: str) -> str:
    return f"Bearer {token}"


def _expired(pool: LocalUserPool, clock: Any) -> str:
    token = pool.access_token()
    clock.advance(3601)  # one hour lifetime: move time, never sleep
    return bearer(token)


@dataclass(frozen=True)
class Case:
    name: str
    path: str
    header: Header
    status: int
    code: str | None = None
    challenge: str | None = None


CASES = [
    Case("no_token", "/protected", lambda p, c: None, 401, "missing_token", "Bearer"),
    Case("basic_scheme", "/protected", lambda p, c: "Basic YTpi", 401, "missing_token", "Bearer"),
    Case(
        "malformed", "/protected", lambda p, c: "Bearer not-a-jwt", 401, "malformed_token", INVALID
    ),
    Case("expired", "/protected", _expired, 401, "token_expired", INVALID),
    Case(
        "wrong_client",
        "/protected",
        lambda p, c: bearer(p.access_token(client_id="client-b")),
        401,
        "invalid_client",
        INVALID,
    ),
    Case(
        "id_token",
        "/protected",
        lambda p, c: bearer(p.id_token()),
        401,
        "invalid_token_use",
        INVALID,
    ),
    Case("missing_group", "/admin", lambda p, c: bearer(p.access_token()), 403, "missing_group"),
    Case(
        "missing_scope",
        "/write",
        lambda p, c: bearer(p.access_token()),
        403,
        "insufficient_scope",
        SCOPE,
    ),
    Case("good", "/protected", lambda p, c: bearer(p.access_token()), 200),
    Case("good_lowercase_scheme", "/protected", lambda p, c: "bearer " + p.access_token(), 200),
    Case("good_group", "/admin", lambda p, c: bearer(p.access_token(groups=["admin"])), 200),
    Case("good_scope", "/write", lambda p, c: bearer(p.access_token(scopes=["orders/write"])), 200),
    Case("optional_anonymous", "/optional", lambda p, c: None, 200),
    Case("optional_good", "/optional", lambda p, c: bearer(p.access_token()), 200),
    Case(
        "optional_bad_token",
        "/optional",
        lambda p, c: "Bearer x.y.z",
        401,
        "malformed_token",
        INVALID,
    ),
]
IDS = [c.name for c in CASES]


def make_verifier(pool: LocalUserPool, clock: Any) -> CognitoVerifier:
    return pool.verifier(token_use="access", client_id="client-a", clock=clock)


def closed_jwks_url() -> str:
    """A loopback URL nothing listens on: fetching keys from it fails at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/jwks.json"


def unavailable_verifier(pool: LocalUserPool, clock: Any) -> CognitoVerifier:
    return pool.verifier(
        token_use="access", client_id="client-a", clock=clock, jwks=None, jwks_url=closed_jwks_url()
    )


def check(
    case: Case,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    header: str | None,
    *,
    error_key: str = "error",
    message_key: str = "message",
) -> dict[str, Any]:
    """Assert one response against its case; returns the decoded body."""
    assert status == case.status, body
    assert headers.get("Content-Type", "").startswith("application/json")
    data = json.loads(body)
    if header is not None:
        # The token (or any fragment of it) is never echoed back.
        token = header.partition(" ")[2]
        for part in token.split("."):
            assert len(part) < 4 or part not in body.decode(), case.name
    assert headers.get("WWW-Authenticate") == case.challenge
    if case.status == 200:
        expected = None if case.name == "optional_anonymous" else "alice"
        assert data == {"username": expected}
    else:
        assert data == {error_key: case.code, message_key: data[message_key]}
        assert "Traceback" not in body.decode()
    return dict(data)


@contextmanager
def wsgi_server(app: Any) -> Iterator[str]:
    """Serve a WSGI app with werkzeug on 127.0.0.1 for the block; yields its base URL."""
    from werkzeug.serving import make_server

    srv = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.server_port}"
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(5)


def load_example(path: Path) -> ModuleType:
    """Import a docs/examples app from its file, as a user running it would."""
    spec = importlib.util.spec_from_file_location(f"{path.stem}_example", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
