"""Generic WSGI middleware: verify the bearer token before any WSGI app sees the request.

    from cognito_verify.integrations.wsgi import CognitoWSGIMiddleware

    app = CognitoWSGIMiddleware(app, verifier, exclude_paths=("/health",))
    # in the app: environ["cognito.claims"] is the verified Claims (None if anonymous)
    # optional=True lets requests without a token through (a bad token is still refused)

It needs no framework (only the standard WSGI protocol) and answers refusals itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from http import HTTPStatus
from typing import Any

from ..alb import AlbVerifier
from ..errors import CognitoVerifyError
from ..verifier import CognitoVerifier
from ._http import Authenticator, ExcludedPaths, Refusal, TokenSource, optional_flag, refusal

__all__ = ["CognitoWSGIMiddleware", "ENVIRON_KEY", "ALB_ENVIRON_KEY"]

#: The environ key holding the verified ``Claims`` (or ``None``).
ENVIRON_KEY = "cognito.claims"
#: The environ key holding the load balancer's verified claims (with ``alb=``).
ALB_ENVIRON_KEY = "cognito.alb_claims"

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]
Groups = str | Sequence[str] | None


class CognitoWSGIMiddleware:
    """Wraps a WSGI app so only requests with an accepted Cognito token reach it.

    Args:
        app: the WSGI app to protect.
        verifier: the ``CognitoVerifier`` that checks tokens.
        exclude_paths: paths that skip authentication entirely (health checks), matched
            as ``ExcludedPaths`` (``"/health"`` also matches ``"/health/"``; an entry
            ending in ``/`` matches every path below it), on ``PATH_INFO``; a path
            with ``.``, ``..`` or ``//`` segments is never excluded.
        optional: ``False`` (the default) answers 401 to a request without a token;
            ``True`` lets it through with ``environ["cognito.claims"] = None``. A bad
            token is refused either way. (``require=False`` is its deprecated old
            spelling.)
        groups / all_groups / scopes / all_scopes: requirements for every request,
            on top of the verifier's own (403 when not met).
        max_auth_age: seconds since sign-in allowed for every request (401 with the
            RFC 9470 step-up challenge when older).
        environ_key: where the claims go.
        token_source: where requests carry the token: ``TokenSource.bearer()``
            (default), ``.header(name)``, ``.cookie(name)``, or a list tried in order.
        alb: an ``AlbVerifier``: ``x-amzn-oidc-data`` is required too and its claims
            go in ``environ["cognito.alb_claims"]``; ``verifier`` may then be None.
    """

    def __init__(
        self,
        app: WSGIApp,
        verifier: CognitoVerifier | None,
        *,
        token_source: TokenSource | Sequence[TokenSource] | None = None,
        alb: AlbVerifier | None = None,
        exclude_paths: Iterable[str] = (),
        optional: bool = False,
        groups: Groups = None,
        all_groups: Groups = None,
        scopes: Groups = None,
        all_scopes: Groups = None,
        max_auth_age: float | None = None,
        environ_key: str = ENVIRON_KEY,
        require: bool | None = None,
    ) -> None:
        if not isinstance(verifier, CognitoVerifier) and alb is None:
            raise TypeError("CognitoWSGIMiddleware needs a CognitoVerifier")
        self.app = app
        self.verifier = verifier
        self._auth = Authenticator(verifier, alb=alb, token_source=token_source)
        self.optional = optional_flag(optional, require)
        self.environ_key = environ_key
        self._excluded = ExcludedPaths(exclude_paths)
        self._requirements: dict[str, Any] = {
            "groups": groups,
            "all_groups": all_groups,
            "scopes": scopes,
            "all_scopes": all_scopes,
            "max_auth_age": max_auth_age,
        }
        # Bad requirement values are a programming error: fail at construction.
        CognitoVerifier._extra(groups, all_groups, scopes, all_scopes, max_auth_age)

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        environ[self.environ_key] = None
        environ[ALB_ENVIRON_KEY] = None
        if self._excluded(environ.get("PATH_INFO") or "/"):
            return self.app(environ, start_response)
        try:
            found = self._auth.authenticate(
                environ.get("REQUEST_METHOD", "GET"),
                lambda name: _headers(environ, name),
                optional=self.optional,
                **self._requirements,
            )
        except CognitoVerifyError as exc:
            return _answer(refusal(exc), start_response)
        environ[self.environ_key], environ[ALB_ENVIRON_KEY] = found
        return self.app(environ, start_response)


def _headers(environ: Environ, name: str) -> list[str]:
    # WSGI joins repeated headers into one value (", "); Cookie is joined with "; ".
    key = "HTTP_" + name.upper().replace("-", "_")
    value = environ.get(key)
    return [value] if isinstance(value, str) else []


def _answer(answer: Refusal, start_response: StartResponse) -> list[bytes]:
    body = answer.json
    status = f"{answer.status} {HTTPStatus(answer.status).phrase}"
    headers = [
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(body))),
        *answer.headers.items(),
    ]
    start_response(status, headers)
    return [body]
