"""Django Ninja: ``HttpBearer`` auth classes for Cognito tokens, configured by the Django
adapter's ``COGNITO_VERIFY`` setting.

    from ninja import NinjaAPI
    from cognito_verify.integrations.ninja import (
        AsyncCognitoBearer, CognitoBearer, CognitoRefusal, cognito_exception_handler,
    )

    api = NinjaAPI(auth=CognitoBearer())
    api.add_exception_handler(CognitoRefusal, cognito_exception_handler)

    @api.get("/me")
    def me(request):
        return {"username": request.auth.username}       # request.auth is the Claims

    @api.delete("/orders/{id}", auth=CognitoBearer(groups="admin"))   # 403 without it
    def delete_order(request, id: int): ...

    @api.get("/orders", auth=AsyncCognitoBearer(scopes="orders-api/orders.read"))
    async def orders(request): ...

The verifier is the Django adapter's, built lazily from ``settings.COGNITO_VERIFY``
(see docs/django.md), unless one is passed as ``verifier=``. With
``CognitoMiddleware`` installed, its verified claims are reused (a token is verified
once per request). Refusals are raised as ``CognitoRefusal``, a Ninja ``HttpError``:
with ``cognito_exception_handler`` registered they answer like every other adapter
(401/403/503, ``WWW-Authenticate``, ``Retry-After``, ``Cache-Control: no-store``,
``{"error", "message"}``); without it Ninja's default answers ``{"detail": ...}``
with the same status and no headers. Requires ``pip install cognito-verify[ninja]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from django.http import HttpRequest, HttpResponse
from ninja.errors import HttpError
from ninja.security import HttpBearer

from ..claims import Claims
from ..errors import CognitoVerifyError, CrossSiteRequestError, MissingTokenError
from ..verifier import CognitoVerifier
from . import django as _django
from ._http import Refusal, bearer_token, refusal, requirements

__all__ = [
    "AsyncCognitoBearer",
    "CognitoBearer",
    "CognitoRefusal",
    "cognito_exception_handler",
]

Names = str | Sequence[str] | None
_UNSET: Any = object()


def _settings_verifier() -> CognitoVerifier:
    # The one place naming the Django adapter's accessor: a rename there is fixed here.
    return _django.get_verifier()


class CognitoRefusal(HttpError):
    """A refused request: a Ninja ``HttpError`` with our status (401, 403, 503, 500).

    ``message`` is a fixed text, never the library message; ``error`` is the library
    error (for logs and metrics) and ``refusal`` its HTTP answer.
    """

    def __init__(self, error: CognitoVerifyError) -> None:
        self.error = error
        self.refusal: Refusal = refusal(error)
        super().__init__(self.refusal.status, self.refusal.body["message"])


def cognito_exception_handler(request: HttpRequest, exc: CognitoRefusal) -> HttpResponse:
    """``api.add_exception_handler(CognitoRefusal, cognito_exception_handler)``: the
    same answer as the Django adapter's (status, headers, ``{"error", "message"}``)."""
    return _django.refusal_response(request, exc.error)


class _Base(HttpBearer):
    """Shared by the sync and async classes: requirements, token reading, reuse of the
    middleware's claims."""

    def __init__(
        self,
        *,
        groups: Names = None,
        all_groups: Names = None,
        scopes: Names = None,
        all_scopes: Names = None,
        max_auth_age: float | None = None,
        verifier: CognitoVerifier | None = None,
    ) -> None:
        if verifier is not None and not isinstance(verifier, CognitoVerifier):
            raise TypeError("verifier must be a CognitoVerifier")
        # Bad requirement values are a programming error: fail at import, not per call.
        self._needs = requirements(groups, all_groups, scopes, all_scopes, max_auth_age)
        self._verifier = verifier
        super().__init__()

    @property
    def verifier(self) -> CognitoVerifier:
        """The verifier given, else the one built from ``settings.COGNITO_VERIFY``."""
        return self._verifier if self._verifier is not None else _settings_verifier()

    def _token(self, request: HttpRequest) -> str:
        # Our own parsing, not HttpBearer's: a non-Bearer header is "no token" (401 with
        # the bare challenge) and is never logged, even with DEBUG on.
        try:
            return bearer_token(request.headers.get("Authorization"))
        except CognitoVerifyError as exc:
            raise CognitoRefusal(exc) from None

    def _middleware_claims(self, request: HttpRequest) -> Claims | None:
        """The claims CognitoMiddleware verified (None: it did not run, or this
        instance has a verifier of its own); refuses when it found no token."""
        claims = getattr(request, "cognito_claims", _UNSET)
        if claims is _UNSET or self._verifier is not None:
            return None
        if claims is None:
            raise CognitoRefusal(MissingTokenError("the request has no bearer token"))
        try:
            # Ninja's views are exempt from CsrfViewMiddleware: a token the middleware
            # took from a cookie without its own CSRF rule gets Django's check here.
            refused = _django._cookie_csrf(request)
        except CognitoVerifyError as exc:
            raise CognitoRefusal(exc) from None
        if refused is not None:
            raise CognitoRefusal(CrossSiteRequestError("the request failed the CSRF check"))
        return cast(Claims, claims)


class CognitoBearer(_Base):
    """Ninja auth (``auth=CognitoBearer(...)``) for sync and async operations.

    Args:
        groups / scopes: at least one of them is needed; ``all_groups`` /
            ``all_scopes``: every one, on top of the verifier's own requirements.
        max_auth_age: seconds since the user signed in (older: 401 with the RFC 9470
            ``insufficient_user_authentication`` challenge).
        verifier: a ``CognitoVerifier``; by default the Django adapter's, from settings.

    ``request.auth`` (and ``request.cognito_claims``) get the verified ``Claims``. No
    token is a 401 refusal rather than "try the next auth", so put this class last in
    a list such as ``auth=[ApiKey(), CognitoBearer()]``.

    Raises:
        CognitoRefusal: the token is missing or refused (401), lacks a group or scope
            (403), or the pool's keys are unavailable (503).
        TypeError: at construction, for requirement values of the wrong type.
    """

    def __call__(self, request: HttpRequest) -> Claims:
        claims = self._middleware_claims(request)
        if claims is None:
            return self.authenticate(request, self._token(request))
        try:
            self.verifier.authorize(claims, **self._needs)
        except CognitoVerifyError as exc:
            raise CognitoRefusal(exc) from None
        return claims

    def authenticate(self, request: HttpRequest, token: str) -> Claims:
        try:
            claims = self.verifier.verify(token, **self._needs)
        except CognitoVerifyError as exc:
            raise CognitoRefusal(exc) from None
        request.cognito_claims = claims
        return claims


class AsyncCognitoBearer(_Base):
    """``CognitoBearer`` for async operations: verifies with ``averify``, so fetching
    keys never blocks the event loop. Same arguments and errors."""

    async def __call__(self, request: HttpRequest) -> Claims:
        claims = self._middleware_claims(request)
        if claims is None:
            return await self.authenticate(request, self._token(request))
        try:
            await self.verifier.aauthorize(claims, **self._needs)
        except CognitoVerifyError as exc:
            raise CognitoRefusal(exc) from None
        return claims

    async def authenticate(self, request: HttpRequest, token: str) -> Claims:
        try:
            claims = await self.verifier.averify(token, **self._needs)
        except CognitoVerifyError as exc:
            raise CognitoRefusal(exc) from None
        request.cognito_claims = claims
        return claims
