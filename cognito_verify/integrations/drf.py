"""Django REST framework: ``CognitoAuthentication`` and the ``HasGroup`` / ``HasScope``
permissions.

    REST_FRAMEWORK = {
        "DEFAULT_AUTHENTICATION_CLASSES": ["cognito_verify.integrations.drf.CognitoAuthentication"],
        "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
        "EXCEPTION_HANDLER": "cognito_verify.integrations.drf.exception_handler",
    }

    class Orders(APIView):
        permission_classes = [IsAuthenticated, HasScope.of("orders-api/orders.read")]

The verifier comes from ``settings.COGNITO_VERIFY`` (see ``integrations.django``).
``request.auth`` is the verified ``Claims``; ``request.user`` the ``USER_MAPPER``'s
user or a database-free ``CognitoUser``. ``exception_handler`` adds what DRF's own
handler cannot: ``Cache-Control: no-store`` on every refusal and the RFC 6750
``insufficient_scope`` challenge on a ``HasScope`` 403, as the other adapters answer.
Requires ``pip install cognito-verify[drf]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import (
    APIException,
    AuthenticationFailed,
    NotAuthenticated,
    PermissionDenied,
)
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from ..claims import Claims
from ..errors import CognitoVerifyError, ConfigurationError, ForbiddenError
from ._http import NO_STORE, SAFE_METHODS, Refusal, refusal
from .django import _headers, _store, get_authenticator, get_verifier, user_for

__all__ = [
    "CognitoAuthentication",
    "HasGroup",
    "HasScope",
    "KeysUnavailable",
    "exception_handler",
]

_UNSET: Any = object()
# Where a failed authentication leaves its challenge for ``authenticate_header``.
_CHALLENGE = "_cognito_challenge"
# Where a refused HasScope leaves its insufficient_scope challenge for the handler.
_SCOPE_CHALLENGE = "_cognito_scope_challenge"


class KeysUnavailable(APIException):  # type: ignore[misc]
    """503: the pool's keys cannot be fetched and none are cached."""

    status_code = 503
    default_detail = "Authentication is temporarily unavailable."
    default_code = "jwks_unavailable"


def _detail(answer: Refusal) -> dict[str, str]:
    # DRF's shape ("detail") plus the stable code; never the exception message.
    body = answer.body
    return {"detail": body["message"], "code": body["error"]}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's ``exception_handler`` plus the HTTP rules every adapter of this library
    follows: ``Cache-Control: no-store`` on every 401, 403 and 503 answer (they depend
    on the ``Authorization`` header), and on a ``HasScope`` refusal the
    ``WWW-Authenticate: Bearer error="insufficient_scope", scope="..."`` challenge.
    Set it as ``REST_FRAMEWORK["EXCEPTION_HANDLER"]``."""
    # Imported here: rest_framework.views imports the authentication classes (this
    # module) while it loads, so a top-level import would be circular.
    from rest_framework.views import exception_handler as drf_exception_handler

    response: Response | None = drf_exception_handler(exc, context)
    if response is None or response.status_code not in (401, 403, 503):
        return response
    for name, value in NO_STORE.items():
        response[name] = value
    request = context.get("request")
    challenge = getattr(request, _SCOPE_CHALLENGE, None)
    if (
        isinstance(exc, PermissionDenied)
        and not isinstance(exc, NotAuthenticated)
        and challenge
        and not response.has_header("WWW-Authenticate")
    ):
        response["WWW-Authenticate"] = challenge
    return response


class CognitoAuthentication(BaseAuthentication):  # type: ignore[misc]
    """Authenticates ``Authorization: Bearer <token>`` with the settings' verifier.

    No bearer token: returns ``None`` (anonymous), so DRF tries the next class and a
    permission such as ``IsAuthenticated`` answers 401. A bad token: 401 with
    ``WWW-Authenticate: Bearer error="invalid_token"``. Keys unavailable: 503. Put it
    first in the authentication classes: DRF takes the 401 challenge from the first.
    Reuses the claims of ``CognitoMiddleware`` when that ran.
    """

    def authenticate(self, request: Any) -> tuple[Any, Claims] | None:
        django_request = request._request
        claims = getattr(django_request, "cognito_claims", _UNSET)
        if claims is _UNSET:
            # TOKEN_SOURCE and ALB_VERIFIER of COGNITO_VERIFY apply here too; no
            # token at all is anonymous, a token present but unusable is refused.
            try:
                found = get_authenticator().authenticate(
                    django_request.method or "GET", _headers(django_request), optional=True
                )
            except CognitoVerifyError as exc:
                raise self._refuse(request, exc) from None
            claims = _store(django_request, found)
        if claims is None:
            return None
        self._enforce_csrf(request)
        return user_for(django_request, claims), claims

    def _enforce_csrf(self, request: Any) -> None:
        """Django's CSRF check, as DRF's ``SessionAuthentication`` runs it for its
        cookie, when the request carries the cookie of a token source whose own
        ``csrf_protection`` is off (or a load balancer's headers, likewise): DRF views
        are exempt from ``CsrfViewMiddleware``, so without this such a cookie would meet
        no CSRF check at all."""
        django_request = request._request
        if (django_request.method or "GET").upper() in SAFE_METHODS:
            return
        try:
            unchecked = get_authenticator().needs_app_csrf(_headers(django_request))
        except CognitoVerifyError as exc:
            raise self._refuse(request, exc) from None
        if not unchecked:
            return
        from rest_framework.authentication import CSRFCheck

        check = CSRFCheck(lambda r: None)
        check.process_request(django_request)
        reason = check.process_view(django_request, None, (), {})
        if reason:
            raise PermissionDenied(f"CSRF Failed: {reason}", code="csrf_failed")

    def _refuse(self, request: Any, exc: CognitoVerifyError) -> APIException:
        answer = refusal(exc)
        if answer.status == 401:
            setattr(request, _CHALLENGE, answer.headers["WWW-Authenticate"])
            return AuthenticationFailed(_detail(answer), code=exc.code)
        if answer.status == 403:  # the verifier's own group/scope requirements
            if "WWW-Authenticate" in answer.headers:
                setattr(request, _SCOPE_CHALLENGE, answer.headers["WWW-Authenticate"])
            return PermissionDenied(_detail(answer), code=exc.code)
        if answer.status == 503:
            unavailable = KeysUnavailable(_detail(answer), code=exc.code)
            unavailable.wait = int(answer.headers.get("Retry-After", "5"))
            return unavailable
        return APIException(_detail(answer), code=exc.code)

    def authenticate_header(self, request: Any) -> str:
        # A non-empty challenge makes DRF answer 401 rather than 403 (RFC 7235).
        return str(getattr(request, _CHALLENGE, "Bearer"))


class _CognitoPermission(BasePermission):  # type: ignore[misc]
    """Checks one kind of requirement on ``request.auth`` with the verifier."""

    _kind = ""
    require_all = False

    def _values(self) -> Sequence[str]:
        raise NotImplementedError

    def has_permission(self, request: Any, view: Any) -> bool:
        claims = request.auth
        if not isinstance(claims, Claims):
            # Anonymous (DRF answers 401) or authenticated some other way: no claims
            # to judge, so refuse rather than assume.
            return False
        values = self._values()
        if not values:
            raise ConfigurationError(f"{type(self).__name__} names no {self._kind}")
        key = f"all_{self._kind}" if self.require_all else self._kind
        try:
            get_verifier().authorize(claims, **{key: values})  # type: ignore[arg-type]
        except ForbiddenError as exc:
            # Per-request instance (DRF instantiates permissions per request).
            answer = refusal(exc)
            self.message = _detail(answer)
            self.code = exc.code
            if "WWW-Authenticate" in answer.headers:
                setattr(request, _SCOPE_CHALLENGE, answer.headers["WWW-Authenticate"])
            return False
        return True


class HasGroup(_CognitoPermission):
    """Allows callers in one of ``groups`` (all of them with ``require_all``); 403 otherwise.

    ``HasGroup.of("admin")`` or ``class IsAdmin(HasGroup): groups = ("admin",)``.
    """

    _kind = "groups"
    groups: Sequence[str] = ()

    def _values(self) -> Sequence[str]:
        return (self.groups,) if isinstance(self.groups, str) else tuple(self.groups)

    @classmethod
    def of(cls, *groups: str, require_all: bool = False) -> type[HasGroup]:
        """A permission class requiring these groups."""
        if not groups:
            raise ConfigurationError("HasGroup.of() needs at least one group")
        sep = " & " if require_all else " | "
        return type(
            f"HasGroup[{sep.join(groups)}]", (cls,), {"groups": groups, "require_all": require_all}
        )


class HasScope(_CognitoPermission):
    """Allows callers with one of ``scopes`` (all of them with ``require_all``); 403
    with code ``insufficient_scope`` otherwise.

    ``HasScope.of("orders-api/orders.read")`` or a subclass setting ``scopes``.
    """

    _kind = "scopes"
    scopes: Sequence[str] = ()

    def _values(self) -> Sequence[str]:
        return (self.scopes,) if isinstance(self.scopes, str) else tuple(self.scopes)

    @classmethod
    def of(cls, *scopes: str, require_all: bool = False) -> type[HasScope]:
        """A permission class requiring these scopes."""
        if not scopes:
            raise ConfigurationError("HasScope.of() needs at least one scope")
        sep = " & " if require_all else " | "
        return type(
            f"HasScope[{sep.join(scopes)}]", (cls,), {"scopes": scopes, "require_all": require_all}
        )
