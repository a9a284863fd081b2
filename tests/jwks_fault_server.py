"""A real loopback JWKS server that can misbehave on demand, for the key cache tests.

    with FaultServer(lambda: pool.jwks) as server:
        server.mode = "500"          # or ok, garbage, html, huge, drip, redirect, ...
        server.delay = 0.3           # seconds before answering (every mode)
        server.down()                # connection refused until server.up()
        server.requests              # how many requests reached it

It speaks HTTP/1.1 with keep-alive, as real endpoints do (connection reuse is what
breaks when a process forks): ``requests`` counts requests, ``connections`` counts
TCP connections accepted.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cognito_verify import CognitoVerifier
from cognito_verify.testing import LocalUserPool, b64url

MODES = (
    "ok",  # the JWKS
    "500",  # HTTP 500
    "garbage",  # 200 with bytes that are not JSON
    "html",  # 200 with an HTML error page (a captive portal, a proxy)
    "notjwks",  # 200 with JSON that is not a JWKS object
    "nokeys",  # 200 with a JWKS holding no usable key
    "huge",  # 200 streaming HUGE_BYTES with no Content-Length
    "huge_declared",  # 200 declaring HUGE_BYTES in Content-Length
    "drip",  # 200, then one byte every `drip_interval` seconds, forever
    "drip_headers",  # the status line, then header bytes one at a time, forever
    "redirect",  # 302 to another path on this server
)
HUGE_BYTES = 50 * 1024 * 1024


class FaultServer:
    def __init__(self, jwks: Callable[[], Mapping[str, Any]], path: str = "/jwks.json") -> None:
        self._jwks = jwks
        self.path = path
        self.mode = "ok"
        self.delay = 0.0
        self.drip_interval = 0.05
        self.requests = 0
        self.connections = 0
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._port = 0
        self.up()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}{self.path}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive unless a mode has no length

            def setup(self) -> None:
                super().setup()
                with outer._lock:
                    outer.connections += 1
                    outer._open.add(self.connection)

            def finish(self) -> None:
                with outer._lock:
                    outer._open.discard(self.connection)
                try:
                    super().finish()
                except OSError:
                    pass  # down() already cut this connection

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                with outer._lock:
                    outer.requests += 1
                if outer.delay:
                    outer._stopping.wait(outer.delay)
                try:
                    outer._answer(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (cap reached, timeout): expected

            def log_message(self, format: str, *args: Any) -> None:
                return None

        return Handler

    def _answer(self, h: BaseHTTPRequestHandler) -> None:
        path, _, query = h.path.partition("?")
        if path != self.path:
            self._send(h, 404, b'{"message": "not found"}')
            return
        # "?mode=huge" overrides the server's mode for one request (subprocess tests).
        mode = query[5:] if query.startswith("mode=") else self.mode
        if mode == "redirect":
            h.send_response(302)
            h.send_header("Location", self.path + "?mode=ok")
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        if mode == "drip_headers":
            h.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            while not self._stopping.wait(self.drip_interval):
                h.wfile.write(b"a")
                h.wfile.flush()
            return
        if mode == "500":
            self._send(h, 500, b'{"message": "internal error"}')
            return
        if mode in ("huge", "huge_declared", "drip"):
            h.send_response(200)
            h.send_header("Content-Type", "application/json")
            if mode == "huge_declared":
                h.send_header("Content-Length", str(HUGE_BYTES))
            else:  # no length: the body ends when the connection closes
                h.send_header("Connection", "close")
                h.close_connection = True
            h.end_headers()
            if mode == "drip":
                h.wfile.write(b'{"keys": [')
                while not self._stopping.wait(self.drip_interval):
                    h.wfile.write(b" ")
                    h.wfile.flush()
                return
            chunk = b" " * 65536
            for _ in range(HUGE_BYTES // len(chunk)):
                h.wfile.write(chunk)
            return
        body = {
            "ok": lambda: json.dumps(self._jwks()).encode(),
            "garbage": lambda: b"\x00\xff{not json",
            "html": lambda: b"<html><body>Service Unavailable</body></html>",
            "notjwks": lambda: b'[{"kid": "a"}]',
            "nokeys": lambda: b'{"keys": [{"kid": "x", "kty": "EC"}]}',
        }[mode]()
        self._send(h, 200, body)

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, status: int, body: bytes) -> None:
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def up(self) -> None:
        """Listen (again, on the same port after ``down``)."""
        self._stopping.clear()
        server = ThreadingHTTPServer(("127.0.0.1", self._port), self._handler())
        server.daemon_threads = True
        self._port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def down(self) -> None:
        """Close the listening socket and cut open keep-alive connections: the endpoint
        is unreachable until ``up``."""
        self._stopping.set()
        with self._lock:
            open_now, self._open = list(self._open), set()
        for conn in open_now:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> FaultServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.down()


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll ``condition`` (for thread hand-offs, never for expiry: that uses the clock)."""
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise AssertionError("condition not reached in time")
        time.sleep(0.005)


def make(
    server: FaultServer, pool: LocalUserPool, clock: Callable[[], float], **kw: Any
) -> CognitoVerifier:
    kw.setdefault("jwks_timeout", 1.0)
    # The key policy runs on the monotonic clock; these tests move it with the claims'.
    kw.setdefault("monotonic", clock)
    return CognitoVerifier(
        pool.user_pool_id,
        client_id=pool.client_id,
        token_use="access",
        jwks_url=server.url,
        clock=clock,
        **kw,
    )


def token(pool: LocalUserPool, clock: Callable[[], float]) -> str:
    pool.clock = clock
    return pool.access_token(f"user-{uuid.uuid4().hex[:8]}")


def forged(pool: LocalUserPool, clock: Callable[[], float], kid: str | None = None) -> str:
    """A token naming a kid the pool never had (the signature is random bytes)."""
    header = {"kid": kid or base64.b64encode(os.urandom(32)).decode(), "alg": "RS256"}
    payload = {"iss": pool.issuer, "token_use": "access", "exp": int(clock()) + 600}
    segs = [b64url(json.dumps(x).encode()) for x in (header, payload)]
    return ".".join([*segs, b64url(os.urandom(256))])


def verifier_for(server: FaultServer, pool: Any, **kw: Any) -> Any:
    """An access-token ``CognitoVerifier`` for ``pool`` fetching its keys from ``server``."""
    from cognito_verify import CognitoVerifier

    return CognitoVerifier(
        pool.user_pool_id,
        client_id=pool.client_id,
        token_use="access",
        jwks_url=server.url,
        jwks_timeout=5.0,
        **kw,
    )
