"""The one refusal matrix every adapter is tested with, header by header.

Each adapter's test app exposes the same routes, verified by a verifier for
``client-a`` access tokens:

    /protected   any accepted token         -> {"username": ...}
    /admin       group "admin"
    /write       scope "orders/write"
    /optional    anonymous allowed          -> {"username": null}

A row's ``header`` gives the ``Authorization`` value(s) to send: ``None`` for none, a
string for one header, a list for several headers (``as_pairs`` / ``joined``).
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
WRITE = "orders/write"
SCOPE = f'Bearer error="insufficient_scope", scope="{WRITE}"'

Header = Callable[[LocalUserPool, Any], "str | list[str] | None"]


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

    def __str__(self) -> str:
        return self.name


CASES = [
    Case("no_token", "/protected", lambda p, c: None, 401, "missing_token", "Bearer"),
    Case("basic_scheme", "/protected", lambda p, c: "Basic YTpi", 401, "missing_token", "Bearer"),
    Case("empty_bearer", "/protected", lambda p, c: "Bearer ", 401, "missing_token", "Bearer"),
    Case(
        "malformed", "/protected", lambda p, c: "Bearer not-a-jwt", 401, "malformed_token", INVALID
    ),
    # Copy-paste mistakes: refused as malformed (the log message names the mistake).
    Case(
        "bearer_twice",
        "/protected",
        lambda p, c: "Bearer Bearer " + p.access_token(),
        401,
        "malformed_token",
        INVALID,
    ),
    Case(
        "quoted_token",
        "/protected",
        lambda p, c: f'Bearer "{p.access_token()}"',
        401,
        "malformed_token",
        INVALID,
    ),
    # Two Authorization headers: a proxy may have checked one, the app reads the other.
    Case(
        "two_authorization_headers",
        "/protected",
        lambda p, c: [bearer(p.access_token()), bearer(p.access_token(groups=["admin"]))],
        401,
        "malformed_token",
        INVALID,
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
        lambda p, c: bearer(p.access_token(scopes=["openid"])),
        403,
        "insufficient_scope",
        SCOPE,
    ),
    Case("good", "/protected", lambda p, c: bearer(p.access_token()), 200),
    Case("good_lowercase_scheme", "/protected", lambda p, c: "bearer " + p.access_token(), 200),
    Case("good_group", "/admin", lambda p, c: bearer(p.access_token(groups=["admin"])), 200),
    Case("good_scope", "/write", lambda p, c: bearer(p.access_token(scopes=[WRITE])), 200),
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


def as_pairs(header: str | list[str] | None) -> list[tuple[str, str]]:
    """The ``Authorization`` header(s) as (name, value) pairs for an HTTP client."""
    if header is None:
        return []
    return [("Authorization", v) for v in ([header] if isinstance(header, str) else header)]


def joined(header: str | list[str] | None) -> dict[str, str]:
    """One header dict, repeated values joined with ", " as WSGI servers do (PEP 3333
    environ has one HTTP_AUTHORIZATION): for test clients that cannot send two."""
    if header is None:
        return {}
    return {"Authorization": header if isinstance(header, str) else ", ".join(header)}


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
    header: str | list[str] | None,
    *,
    unwrap: Callable[[Any], Any] = lambda body: body,
    error_key: str = "error",
    message_key: str = "message",
) -> dict[str, Any]:
    """Assert one response against its case, header by header; returns the decoded
    body. ``headers`` must be case-insensitive (every framework's header type is);
    ``unwrap`` finds the refusal object in the framework's body shape (FastAPI:
    ``body["detail"]``)."""
    assert status == case.status, body
    assert headers.get("Content-Type", "").startswith("application/json"), case.name
    data = json.loads(body)
    if header is not None:
        # The token (or any fragment of it) is never echoed back.
        for value in [header] if isinstance(header, str) else header:
            token = value.partition(" ")[2]
            for part in token.strip('"').split("."):
                assert len(part) < 4 or part not in body.decode(), case.name
    assert headers.get("WWW-Authenticate") == case.challenge, case.name
    assert headers.get("Retry-After") is None, case.name
    if case.status == 200:
        expected = None if case.name == "optional_anonymous" else "alice"
        assert data == {"username": expected}
        return dict(data)
    # A refusal depends on the Authorization header: no cache may keep it.
    assert headers.get("Cache-Control") == "no-store", case.name
    refused = unwrap(data)
    assert refused == {error_key: case.code, message_key: refused[message_key]}, data
    assert isinstance(refused[message_key], str) and refused[message_key], data
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
