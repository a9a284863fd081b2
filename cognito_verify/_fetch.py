"""The only module that talks HTTP: fetch a JWKS document, sync or async, with bounds.

Both twins share ``_request_args`` and ``_decode``; only the IO differs.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from .errors import JWKSError

DEFAULT_TIMEOUT = 5.0
DEFAULT_MAX_BYTES = 1024 * 1024
_HEADERS = {"Accept": "application/json", "User-Agent": "cognito-verify"}


def default_timeout(total: float) -> httpx.Timeout:
    return httpx.Timeout(total, connect=min(total, 2.0))


def _request_args(url: str, timeout: float) -> dict[str, Any]:
    # Redirects are never followed: a JWKS endpoint that redirects is misconfigured
    # or hijacked, and following it would take keys from somewhere not configured.
    return {
        "method": "GET",
        "url": url,
        "headers": _HEADERS,
        "timeout": default_timeout(timeout),
        "follow_redirects": False,
    }


def _check_status(response: httpx.Response, url: str, max_bytes: int) -> None:
    if response.status_code != 200:
        raise JWKSError(f"JWKS request to {url} answered HTTP {response.status_code}")
    length = response.headers.get("content-length", "")
    if length.isdigit() and int(length) > max_bytes:
        raise _too_big(url, max_bytes)


def _too_big(url: str, limit: int) -> JWKSError:
    return JWKSError(f"JWKS response from {url} exceeds {limit} bytes; refusing it")


def _decode(body: bytes, url: str) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        raise JWKSError(f"JWKS response from {url} is not JSON") from None
    if not isinstance(value, dict) or not isinstance(value.get("keys"), list):
        raise JWKSError(f'JWKS response from {url} is not a JWKS object {{"keys": [...]}}')
    return value


def _deadline_passed(deadline: float, url: str) -> None:
    if time.monotonic() > deadline:
        raise JWKSError(f"JWKS request to {url} took longer than the configured timeout")


def fetch_jwks(client: httpx.Client, url: str, *, timeout: float, max_bytes: int) -> dict[str, Any]:
    """GET ``url`` and return its JWKS object; any failure becomes ``JWKSError``."""
    deadline = time.monotonic() + timeout
    try:
        with client.stream(**_request_args(url, timeout)) as response:
            _check_status(response, url, max_bytes)
            body = bytearray()
            # Read in chunks and stop at the cap: a 50 MB answer never sits in memory.
            for chunk in response.iter_raw():
                body += chunk
                if len(body) > max_bytes:
                    raise _too_big(url, max_bytes)
                _deadline_passed(deadline, url)
    except httpx.HTTPError as exc:
        raise JWKSError(f"JWKS request to {url} failed: {type(exc).__name__}") from None
    return _decode(bytes(body), url)


async def afetch_jwks(
    client: httpx.AsyncClient, url: str, *, timeout: float, max_bytes: int
) -> dict[str, Any]:
    """Async twin of :func:`fetch_jwks`."""
    deadline = time.monotonic() + timeout
    try:
        async with client.stream(**_request_args(url, timeout)) as response:
            _check_status(response, url, max_bytes)
            body = bytearray()
            async for chunk in response.aiter_raw():
                body += chunk
                if len(body) > max_bytes:
                    raise _too_big(url, max_bytes)
                _deadline_passed(deadline, url)
    except httpx.HTTPError as exc:
        raise JWKSError(f"JWKS request to {url} failed: {type(exc).__name__}") from None
    return _decode(bytes(body), url)
