"""The only module that talks HTTP: fetch a JWKS document, sync or async, with bounds.

Both twins share ``_request_args``, ``_check_response``, ``_read_capped`` rules and
``_decode``; only the IO differs. Every failure becomes ``JWKSError`` with a one-line
message naming the URL and the reason, never the body.

The total timeout is a real deadline for the caller. httpx's timeouts bound each
connect and each read, not the whole exchange: a server that drips one byte per
second, or a DNS lookup that hangs, would hold a request far longer. The async twin
wraps the whole exchange in ``asyncio.wait_for``; the sync twin runs the exchange in
a short-lived worker thread and stops waiting for it at the deadline (the worker
then ends at its next read, which its own per-read timeout bounds).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import httpx

from .errors import JWKSError

DEFAULT_TIMEOUT = 2.0
DEFAULT_CONNECT_TIMEOUT = 1.0
DEFAULT_MAX_BYTES = 1024 * 1024
_HEADERS = {
    "Accept": "application/json",
    # The cap counts the bytes on the wire; asking for no compression keeps that equal
    # to the bytes parsed, so a small compressed bomb cannot expand past the cap.
    "Accept-Encoding": "identity",
    "User-Agent": "cognito-verify",
}


def default_timeout(total: float, connect: float = DEFAULT_CONNECT_TIMEOUT) -> httpx.Timeout:
    """Per-operation timeouts: connect is short, each read/write at most the total."""
    return httpx.Timeout(total, connect=min(connect, total))


def _request_args(url: str, timeout: float, connect_timeout: float) -> dict[str, Any]:
    # Redirects are never followed: a JWKS endpoint that redirects is misconfigured
    # or hijacked, and following it would take keys from somewhere not configured.
    return {
        "method": "GET",
        "url": url,
        "headers": _HEADERS,
        "timeout": default_timeout(timeout, connect_timeout),
        "follow_redirects": False,
    }


class HTTPStatusError(JWKSError):
    """A key request answered with a status other than 200; ``status`` says which
    (the per-kid key sources tell "no such key" from an outage by it)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def _check_response(response: httpx.Response, url: str, max_bytes: int) -> None:
    status = response.status_code
    if 300 <= status < 400:
        raise HTTPStatusError(
            f"JWKS request to {url} answered HTTP {status}; redirects are not followed", status
        )
    if status != 200:
        raise HTTPStatusError(f"JWKS request to {url} answered HTTP {status}", status)
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise JWKSError(
            f"JWKS response from {url} is {encoding}-encoded although identity was asked"
        )
    length = response.headers.get("content-length", "")
    if length.isdigit() and int(length) > max_bytes:
        raise _too_big(url, max_bytes)


def _too_big(url: str, limit: int) -> JWKSError:
    return JWKSError(f"JWKS response from {url} exceeds {limit} bytes; refusing it")


def _timed_out(url: str, timeout: float) -> JWKSError:
    return JWKSError(f"JWKS request to {url} timed out after {timeout:g} s (the total allowed)")


Decode = Callable[[bytes, str], Any]  # (body, url) -> document; raises JWKSError


def _decode(body: bytes, url: str) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        raise JWKSError(f"JWKS response from {url} is not JSON") from None
    if not isinstance(value, dict) or not isinstance(value.get("keys"), list):
        raise JWKSError(f'JWKS response from {url} is not a JWKS object {{"keys": [...]}}')
    return value


def _transport_error(url: str, exc: Exception) -> JWKSError:
    if isinstance(exc, httpx.TimeoutException):
        return JWKSError(f"JWKS request to {url} timed out ({type(exc).__name__})")
    return JWKSError(f"JWKS request to {url} failed: {type(exc).__name__}")


def _fetch_blocking(
    client: httpx.Client,
    url: str,
    timeout: float,
    connect_timeout: float,
    max_bytes: int,
    abandoned: threading.Event,
    decode: Decode = _decode,
) -> Any:
    try:
        with client.stream(**_request_args(url, timeout, connect_timeout)) as response:
            _check_response(response, url, max_bytes)
            body = bytearray()
            # Read in chunks and stop at the cap: a 50 MB answer never sits in memory.
            # iter_bytes, not iter_raw: a response built in memory (httpx.MockTransport
            # with json=...) is already read, and iter_raw would raise StreamConsumed.
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > max_bytes:
                    raise _too_big(url, max_bytes)
                if abandoned.is_set():
                    raise _timed_out(url, timeout)
    except httpx.HTTPError as exc:
        raise _transport_error(url, exc) from None
    return decode(bytes(body), url)


def fetch_jwks(
    client: httpx.Client,
    url: str,
    *,
    timeout: float,
    max_bytes: int,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    decode: Decode = _decode,
) -> Any:
    """GET ``url`` and return its JWKS object within ``timeout`` seconds (or what
    ``decode`` makes of the body: the per-kid PEM documents of a load balancer).

    Raises:
        JWKSError: any failure: timeout, connection, status, size, content.
    """
    outcome: list[Any] = []
    abandoned = threading.Event()

    def work() -> None:
        try:
            outcome.append(
                _fetch_blocking(client, url, timeout, connect_timeout, max_bytes, abandoned, decode)
            )
        except JWKSError as exc:
            outcome.append(exc)
        except Exception as exc:  # a closed client, an odd transport: still a JWKSError
            outcome.append(JWKSError(f"JWKS request to {url} failed: {type(exc).__name__}"))

    worker = threading.Thread(target=work, name="cognito-verify-jwks-fetch", daemon=True)
    worker.start()
    worker.join(timeout)
    if not outcome:
        abandoned.set()
        raise _timed_out(url, timeout)
    result = outcome[0]
    if isinstance(result, JWKSError):
        raise result
    return result


async def _afetch(
    client: httpx.AsyncClient,
    url: str,
    timeout: float,
    connect_timeout: float,
    max_bytes: int,
    decode: Decode = _decode,
) -> Any:
    try:
        async with client.stream(**_request_args(url, timeout, connect_timeout)) as response:
            _check_response(response, url, max_bytes)
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > max_bytes:
                    raise _too_big(url, max_bytes)
    except httpx.HTTPError as exc:
        raise _transport_error(url, exc) from None
    return decode(bytes(body), url)


async def afetch_jwks(
    client: httpx.AsyncClient,
    url: str,
    *,
    timeout: float,
    max_bytes: int,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    decode: Decode = _decode,
) -> Any:
    """Async twin of :func:`fetch_jwks`; never blocks the event loop."""
    import asyncio  # here, not at the top: sync users never pay for importing it

    try:
        return await asyncio.wait_for(
            _afetch(client, url, timeout, connect_timeout, max_bytes, decode), timeout
        )
    except asyncio.TimeoutError:
        raise _timed_out(url, timeout) from None
