"""The only module that talks HTTP: GET one key document, sync or async, with bounds.

``Fetcher`` owns the HTTP side of one URL: the connection it keeps alive, how a
request is bounded, and what counts as an answer. It returns the body's bytes or
raises ``JWKSError`` (``DocumentAbsentError`` for 403/404) with a one-line message
naming the URL and the reason, never the body. What the bytes mean is the
parser's business (``_keyset``).

Clients. Unless you pass your own ``httpx`` clients (or a proxy is configured in
the environment, which httpx honours), requests go through httpcore, httpx's own
transport layer, without the httpx client around it: it is all a single GET needs,
and it keeps a Lambda cold start cheap. No TLS context is built for a plain-http
URL; for https one default context (certifi's CA bundle, as httpx uses, or
``SSL_CERT_FILE``/``SSL_CERT_DIR``) is built once per process, when the first
source is created, never on a request's path. Everything the fetch path needs is
imported when this module is, so no import (and no import lock) is ever taken while
requests run: a fork at any moment cannot leave a child waiting on a module lock.

Deadlines. ``timeout`` is a real total deadline, DNS to last byte. httpx's and
httpcore's timeouts bound each connect and each read, not the whole exchange, so a
server that drips one byte at a time would hold a request forever. The sync fetch
runs in a short-lived worker thread whose every socket operation is given only
the time left before the deadline (``_DeadlineBackend``): the caller is released at
the deadline and the worker ends then too, whatever the peer does. (A hung DNS
lookup cannot be interrupted in Python; the caller is still released.) The async
fetch runs under ``anyio.fail_after``, on asyncio, uvloop or trio alike.

Fork safety. A child must never use a connection its parent opened (both would
read each other's bytes): ``after_fork_in_child`` drops the owned pool without
closing it (closing could send a TLS close_notify down the parent's stream).
"""

from __future__ import annotations

import codecs
import os
import ssl
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio
import httpcore
from httpcore import AnyIOBackend

from .errors import JWKSError

if TYPE_CHECKING:
    import httpx

# socket.getaddrinfo (and ssl's server_hostname) encode a str host with the "idna"
# codec, whose module Python imports on first use. Were that first use a fetch in a
# thread while the process forks, the child would inherit the half-done import and
# every fetch there would fail with "LookupError: unknown encoding: idna". Looked up
# here, the codec is imported and cached before any request runs.
codecs.lookup("idna")

DEFAULT_TIMEOUT = 2.0
DEFAULT_CONNECT_TIMEOUT = 1.0
DEFAULT_MAX_BYTES = 1024 * 1024
_HEADERS = [
    (b"Accept", b"application/json, */*"),
    # The cap counts the bytes on the wire; asking for no compression keeps that equal
    # to the bytes parsed, so a small compressed bomb cannot expand past the cap.
    (b"Accept-Encoding", b"identity"),
    (b"User-Agent", b"cognito-verify"),
]
_PROXY_VARIABLES = ("https_proxy", "http_proxy", "all_proxy")


class DocumentAbsentError(JWKSError):
    """The endpoint answered 403 or 404: it does not serve this document (a pool that
    does not use this issuer form or region, or an ALB key id that does not exist)."""


def check_clients(http_client: object, async_http_client: object) -> None:
    """Refuse user-supplied clients that are not httpx's, without importing httpx when
    none is given (it is imported only by whoever built the client).

    Raises:
        ConfigurationError: ``http_client`` is not an ``httpx.Client`` or
            ``async_http_client`` not an ``httpx.AsyncClient``.
    """
    if http_client is None and async_http_client is None:
        return
    import httpx

    from .errors import ConfigurationError

    if http_client is not None and not isinstance(http_client, httpx.Client):
        raise ConfigurationError("http_client must be an httpx.Client")
    if async_http_client is not None and not isinstance(async_http_client, httpx.AsyncClient):
        raise ConfigurationError("async_http_client must be an httpx.AsyncClient")


def _proxy_configured() -> bool:
    return any(os.environ.get(v) or os.environ.get(v.upper()) for v in _PROXY_VARIABLES)


_TLS: list[ssl.SSLContext] = []
_INHERITED: list[Any] = []  # connections a forked child inherited and must not use


def tls_context() -> ssl.SSLContext:
    """The process's default TLS context for key fetches, built on first need.

    No lock: two threads racing here build two equal contexts and one is kept, which
    is cheaper than any lock held across the tens of milliseconds a CA bundle takes.
    """
    if not _TLS:
        cafile = os.environ.get("SSL_CERT_FILE")
        capath = os.environ.get("SSL_CERT_DIR")
        if not cafile and not capath:
            import certifi  # imported at source creation, never on a request's path

            cafile = certifi.where()
        context = ssl.create_default_context(cafile=cafile or None, capath=capath or None)
        _TLS[:] = [context]
    return _TLS[0]


def import_async_backends() -> None:
    """Import anyio's backend for each event loop library already imported.

    anyio imports a backend on its first call under that loop. Done here, when a
    source is created, no import runs on a request's path (a fork during an import
    would leave the child waiting on that module's lock forever). A sync-only
    process that never imported asyncio or trio pays for neither.
    """
    if "asyncio" in sys.modules:
        import anyio._backends._asyncio  # noqa: F401
    if "trio" in sys.modules:
        import anyio._backends._trio  # noqa: F401


# --- deadlines ------------------------------------------------------------------------------

_deadline = threading.local()


def _bound(timeout: float | None) -> float:
    """The time a socket operation may take: its own timeout, cut at the deadline."""
    at: float | None = getattr(_deadline, "at", None)
    if at is None:
        return timeout if timeout is not None else DEFAULT_TIMEOUT
    left = at - time.monotonic()
    if left <= 0:
        raise httpcore.ReadTimeout("the total deadline has passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _bound(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _bound(timeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        tls = self._stream.start_tls(ssl_context, server_hostname, _bound(timeout))
        return _DeadlineStream(tls)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's socket backend with every operation cut at the thread's deadline."""

    def __init__(self) -> None:
        self._backend = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        bound = _bound(timeout)
        stream = self._backend.connect_tcp(host, port, bound, local_address, socket_options)
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:  # pragma: no cover - key URLs are http(s)
        return _DeadlineStream(self._backend.connect_unix_socket(path, _bound(timeout)))

    def sleep(self, seconds: float) -> None:  # pragma: no cover - retries are off
        time.sleep(min(seconds, _bound(seconds)))


# --- answers ----------------------------------------------------------------------------


def _check_answer(url: str, status: int, headers: Any, max_bytes: int) -> None:
    """``headers``: anything with ``.get(name, default)`` over str names and values."""
    if status in (403, 404):
        raise DocumentAbsentError(f"key request to {url} answered HTTP {status}")
    if 300 <= status < 400:
        raise JWKSError(f"key request to {url} answered HTTP {status}; redirects are not followed")
    if status != 200:
        raise JWKSError(f"key request to {url} answered HTTP {status}")
    encoding = headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise JWKSError(
            f"key response from {url} is {encoding}-encoded although identity was asked"
        )
    length = headers.get("content-length", "")
    if length.isdigit() and int(length) > max_bytes:
        raise _too_big(url, max_bytes)


class _RawHeaders:
    def __init__(self, raw: list[tuple[bytes, bytes]]) -> None:
        self._raw = raw

    def get(self, name: str, default: str) -> str:
        wanted = name.encode("ascii")
        for key, value in self._raw:
            if key.lower() == wanted:
                return value.decode("latin-1")
        return default


def _too_big(url: str, limit: int) -> JWKSError:
    return JWKSError(f"key response from {url} exceeds {limit} bytes; refusing it")


def _timed_out(url: str, timeout: float) -> JWKSError:
    return JWKSError(f"key request to {url} timed out after {timeout:g} s (the total allowed)")


def _failed(url: str, exc: BaseException) -> JWKSError:
    if isinstance(exc, JWKSError):
        return exc
    if "Timeout" in type(exc).__name__:
        return JWKSError(f"key request to {url} timed out ({type(exc).__name__})")
    return JWKSError(f"key request to {url} failed: {type(exc).__name__}")


def _collect(chunks: Iterable[bytes], url: str, max_bytes: int) -> bytes:
    body = bytearray()
    at: float | None = getattr(_deadline, "at", None)
    # Read in chunks and stop at the cap: a 50 MB answer never sits in memory.
    for chunk in chunks:
        body += chunk
        if len(body) > max_bytes:
            raise _too_big(url, max_bytes)
        # Our own transport cuts every read at the deadline; a client you passed may
        # not, so its worker at least stops between chunks.
        if at is not None and time.monotonic() > at:
            raise JWKSError(f"key request to {url} passed its total deadline")
    return bytes(body)


def _timeouts(timeout: float, connect_timeout: float) -> dict[str, float]:
    return {
        "connect": min(connect_timeout, timeout),
        "read": timeout,
        "write": timeout,
        "pool": timeout,
    }


# --- one URL ----------------------------------------------------------------------------


class Fetcher:
    """GET one URL, bounded; the only object here that holds sockets.

    Args:
        url: http(s) URL of the document.
        timeout / connect_timeout: seconds (total deadline / TCP+TLS connect).
        max_bytes: larger bodies are refused while streaming.
        http_client / async_http_client: the user's ``httpx`` clients, used as given.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        max_bytes: int = DEFAULT_MAX_BYTES,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self.url = url
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.max_bytes = max_bytes
        self._user_http = http_client
        self._user_ahttp = async_http_client
        # With a proxy in the environment, httpx's own clients honour it as before.
        self._via_httpx = _proxy_configured()
        # Built now, off every request's path (and before any fork of a preloading
        # server): https only (or for a proxy); a plain-http URL never needs one.
        self._tls = tls_context() if url.startswith("https:") or self._via_httpx else None
        if self._via_httpx:
            import httpx  # noqa: F401  (now, not on a request's path)
        import_async_backends()
        self._pool: httpcore.ConnectionPool | None = None
        self._httpx_client: httpx.Client | None = None

    # --- sync ----------------------------------------------------------------------

    def _sync_pool(self) -> httpcore.ConnectionPool:
        # Only a flight's leader fetches, so no lock: should two leaders ever race
        # (a flight replaced after its deadline), each builds a pool and one is kept.
        pool = self._pool
        if pool is None:
            pool = self._pool = httpcore.ConnectionPool(
                ssl_context=self._tls,
                max_connections=1,
                max_keepalive_connections=1,
                keepalive_expiry=60.0,
                network_backend=_DeadlineBackend(),
            )
        return pool

    def _exchange(self) -> bytes:
        url, limit = self.url, self.max_bytes
        client = self._user_http
        if client is None and self._via_httpx:
            client = self._httpx_client
            if client is None:
                import httpx

                client = self._httpx_client = httpx.Client(
                    follow_redirects=False, verify=self._tls or True
                )
        if client is not None:
            with client.stream(
                "GET",
                url,
                headers={k.decode(): v.decode() for k, v in _HEADERS},
                timeout=_httpx_timeout(self.timeout, self.connect_timeout),
                follow_redirects=False,
            ) as response:
                _check_answer(url, response.status_code, response.headers, limit)
                # iter_bytes, not iter_raw: a response built in memory (MockTransport)
                # is already read, and iter_raw would raise StreamConsumed.
                return _collect(response.iter_bytes(), url, limit)
        with self._sync_pool().stream(
            "GET",
            url,
            headers=_HEADERS,
            extensions={"timeout": _timeouts(self.timeout, self.connect_timeout)},
        ) as answer:
            _check_answer(url, answer.status, _RawHeaders(answer.headers), limit)
            return _collect(answer.iter_stream(), url, limit)

    def fetch(self) -> bytes:
        """The body, within ``timeout`` seconds of the call.

        Raises:
            DocumentAbsentError: HTTP 403/404.
            JWKSError: anything else that is not a 200 within the bounds; whatever
                the transport raised, it is reported as this.
        """
        outcome: list[bytes | JWKSError] = []
        deadline = time.monotonic() + self.timeout

        def work() -> None:
            _deadline.at = deadline
            try:
                outcome.append(self._exchange())
            except BaseException as exc:  # any failure of a fetch is a fetch failure
                outcome.append(_failed(self.url, exc))

        worker = threading.Thread(target=work, name="cognito-verify-key-fetch", daemon=True)
        worker.start()
        worker.join(max(0.0, deadline - time.monotonic()))
        if not outcome:
            raise _timed_out(self.url, self.timeout)
        result = outcome[0]
        if isinstance(result, JWKSError):
            raise result
        return result

    # --- async ---------------------------------------------------------------------

    @asynccontextmanager
    async def _astream(self) -> AsyncIterator[tuple[int, Any, AsyncIterator[bytes]]]:
        client = self._user_ahttp
        if client is None and self._via_httpx:
            import httpx

            async with httpx.AsyncClient(follow_redirects=False, verify=self._tls or True) as own:
                async with own.stream(
                    "GET",
                    self.url,
                    headers={k.decode(): v.decode() for k, v in _HEADERS},
                    timeout=_httpx_timeout(self.timeout, self.connect_timeout),
                ) as response:
                    yield response.status_code, response.headers, response.aiter_bytes()
            return
        if client is not None:
            async with client.stream(
                "GET",
                self.url,
                headers={k.decode(): v.decode() for k, v in _HEADERS},
                timeout=_httpx_timeout(self.timeout, self.connect_timeout),
                follow_redirects=False,
            ) as response:
                yield response.status_code, response.headers, response.aiter_bytes()
            return
        # A pool per fetch: fetches are rare, and a pool is bound to one event loop,
        # while a verifier may serve several (and trio as well as asyncio). Building
        # one is cheap: the TLS context is shared and anyio's backend was imported.
        async with httpcore.AsyncConnectionPool(
            ssl_context=self._tls, max_connections=1, network_backend=AnyIOBackend()
        ) as pool:
            async with pool.stream(
                "GET",
                self.url,
                headers=_HEADERS,
                extensions={"timeout": _timeouts(self.timeout, self.connect_timeout)},
            ) as answer:
                yield answer.status, _RawHeaders(answer.headers), answer.aiter_stream()

    async def afetch(self) -> bytes:
        """Async twin of :meth:`fetch`; never blocks the event loop."""
        url, limit = self.url, self.max_bytes
        try:
            with anyio.fail_after(self.timeout):
                async with self._astream() as (status, headers, chunks):
                    _check_answer(url, status, headers, limit)
                    body = bytearray()
                    async for chunk in chunks:
                        body += chunk
                        if len(body) > limit:
                            raise _too_big(url, limit)
                    return bytes(body)
        except TimeoutError:
            raise _timed_out(url, self.timeout) from None
        except Exception as exc:  # a closed client, one bound to another loop: a failure
            raise _failed(url, exc) from None

    # --- lifecycle -----------------------------------------------------------------

    def after_fork_in_child(self) -> None:
        """Forget connections the parent opened, without touching them."""
        # Kept referenced, not closed: garbage collection would close the sockets
        # (harmless for the parent, but noisy), and a close could block on a lock the
        # parent's threads held at the fork.
        _INHERITED.extend(x for x in (self._pool, self._httpx_client) if x is not None)
        self._pool = None
        self._httpx_client = None

    def __del__(self) -> None:
        # Unreachable, so no fetch is using the pool: close its keep-alive socket.
        try:
            self.close()
        except Exception:  # pragma: no cover - interpreter shutdown
            pass

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()
        client, self._httpx_client = self._httpx_client, None
        if client is not None:
            client.close()


def _httpx_timeout(total: float, connect: float) -> httpx.Timeout:
    import httpx

    return httpx.Timeout(total, connect=min(connect, total))
