"""Generic WSGI middleware: verify the bearer token before any WSGI app sees the request.

    from cognito_verify.integrations.wsgi import CognitoWSGIMiddleware

    app = CognitoWSGIMiddleware(app, verifier, exclude_paths=("/health",))
    # in the app: environ["cognito.claims"] is the verified Claims (None if anonymous)

It needs no framework (only the standard WSGI protocol) and answers refusals itself.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterable, Sequence
from http import HTTPStatus
from typing import Any

from ..errors import CognitoVerifyError, MissingTokenError
from ..verifier import CognitoVerifier
from ._http import Refusal, bearer_token, refusal

__all__ = ["CognitoWSGIMiddleware", "ENVIRON_KEY"]

#: The environ key holding the verified ``Claims`` (or ``None``).
ENVIRON_KEY = "cognito.claims"

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]
Groups = str | Sequence[str] | None


class CognitoWSGIMiddleware:
    """Wraps a WSGI app so only requests with an accepted Cognito token reach it.

    Args:
        app: the WSGI app to protect.
        verifier: the ``CognitoVerifier`` that checks tokens.
        exclude_paths: paths that skip authentication entirely (health checks). An
            entry matches that exact path; an entry ending in ``/`` matches every
            path below it. Compared on the normalised ``PATH_INFO``.
        require: ``True`` answers 401 to a request without a token; ``False`` lets
            it through with ``environ["cognito.claims"] = None``. A bad token is
            refused either way.
        groups / all_groups / scopes / all_scopes: requirements for every request,
            on top of the verifier's own (403 when not met).
        max_auth_age: seconds since sign-in allowed for every request (401 with the
            RFC 9470 step-up challenge when older).
        environ_key: where the claims go.
    """

    def __init__(
        self,
        app: WSGIApp,
        verifier: CognitoVerifier,
        *,
        exclude_paths: Iterable[str] = (),
        require: bool = True,
        groups: Groups = None,
        all_groups: Groups = None,
        scopes: Groups = None,
        all_scopes: Groups = None,
        max_auth_age: float | None = None,
        environ_key: str = ENVIRON_KEY,
    ) -> None:
        if isinstance(exclude_paths, str):
            raise TypeError("exclude_paths must be a list of paths, not a string")
        self.app = app
        self.verifier = verifier
        self.require = require
        self.environ_key = environ_key
        self._exact = frozenset(_normal(p) for p in exclude_paths if not p.endswith("/"))
        self._prefixes = tuple(
            _normal(p).rstrip("/") + "/" for p in exclude_paths if p.endswith("/")
        )
        self._requirements: dict[str, Any] = {
            "groups": groups,
            "all_groups": all_groups,
            "scopes": scopes,
            "all_scopes": all_scopes,
            "max_auth_age": max_auth_age,
        }
        # Bad requirement values are a programming error: fail at construction.
        CognitoVerifier._extra(groups, all_groups, scopes, all_scopes, max_auth_age)

    def _excluded(self, path: str) -> bool:
        # Normalise first, so "/health/../admin" is judged as "/admin": a router that
        # collapses dot segments must not reach a protected view through an exclusion.
        path = _normal(path)
        return path in self._exact or any(path.startswith(p) for p in self._prefixes)

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        environ[self.environ_key] = None
        if self._excluded(environ.get("PATH_INFO") or "/"):
            return self.app(environ, start_response)
        try:
            token = bearer_token(environ.get("HTTP_AUTHORIZATION"))
        except MissingTokenError as exc:
            if not self.require:
                return self.app(environ, start_response)
            return _answer(refusal(exc), start_response)
        try:
            claims = self.verifier.verify(token, **self._requirements)
        except CognitoVerifyError as exc:
            return _answer(refusal(exc), start_response)
        environ[self.environ_key] = claims
        return self.app(environ, start_response)


def _normal(path: str) -> str:
    return posixpath.normpath("/" + path.lstrip("/"))


def _answer(answer: Refusal, start_response: StartResponse) -> list[bytes]:
    body = answer.json
    status = f"{answer.status} {HTTPStatus(answer.status).phrase}"
    headers = [
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(body))),
        ("Cache-Control", "no-store"),
        *answer.headers.items(),
    ]
    start_response(status, headers)
    return [body]
