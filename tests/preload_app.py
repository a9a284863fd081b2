"""The app gunicorn --preload loads in tests/test_keys_processes.py: a verifier built
(and hydrated) at import, before the workers are forked, as our docs recommend.

Settings come from the environment: CV_POOL, CV_CLIENT, CV_JWKS (a loopback URL),
CV_HYDRATE ("import", "thread" or "none"). Every answer names the worker's pid.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from cognito_verify import CognitoVerifier, CognitoVerifyError

verifier = CognitoVerifier(
    os.environ["CV_POOL"],
    client_id=os.environ["CV_CLIENT"],
    token_use="access",
    jwks_url=os.environ["CV_JWKS"],
    jwks_timeout=5.0,
)
if os.environ.get("CV_HYDRATE") == "import":
    verifier.hydrate()
elif os.environ.get("CV_HYDRATE") == "thread":
    # Still fetching while gunicorn forks its workers.
    threading.Thread(target=verifier.hydrate, daemon=True).start()


def _bearer(value: str) -> str:
    return value[7:] if value.startswith("Bearer ") else ""


def _answer(claims_or_error: Any) -> tuple[int, bytes]:
    pid = os.getpid()
    if isinstance(claims_or_error, CognitoVerifyError):
        return claims_or_error.status_code, f"{pid} {claims_or_error.code}".encode()
    return 200, f"{pid} {claims_or_error.username}".encode()


def wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    try:
        outcome: Any = verifier.verify(_bearer(environ.get("HTTP_AUTHORIZATION", "")))
    except CognitoVerifyError as exc:
        outcome = exc
    status, body = _answer(outcome)
    start_response(f"{status} X", [("Content-Length", str(len(body)))])
    return [body]


async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    headers = dict(scope["headers"])
    try:
        outcome: Any = await verifier.averify(_bearer(headers.get(b"authorization", b"").decode()))
    except CognitoVerifyError as exc:
        outcome = exc
    status, body = _answer(outcome)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
