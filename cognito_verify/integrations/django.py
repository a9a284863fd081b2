"""Django integration: settings, middleware (sync and async), view decorator and mixin.

    # settings.py
    COGNITO_VERIFY = {"USER_POOL_ID": "eu-west-1_AbCdEf123", "CLIENT_ID": "...",
                      "TOKEN_USE": "access"}
    MIDDLEWARE = [..., "cognito_verify.integrations.django.CognitoMiddleware"]

    # views.py
    @cognito_required(groups="admin")
    def report(request):
        return JsonResponse({"user": request.cognito_claims.username})

The verifier is built from ``settings.COGNITO_VERIFY`` on first use (no IO at import)
and rebuilt when the setting changes (``override_settings`` in tests). Django REST
framework classes live in ``cognito_verify.integrations.drf``. Requires
``pip install cognito-verify[django]``.
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar, cast

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.core.signals import setting_changed
from django.http import HttpRequest, HttpResponse
from django.utils.module_loading import import_string

from ..claims import Claims
from ..errors import CognitoVerifyError, ConfigurationError, MissingTokenError
from ..verifier import CognitoVerifier
from ._http import bearer_token, refusal

__all__ = [
    "SETTING",
    "CognitoMiddleware",
    "CognitoRequiredMixin",
    "CognitoUser",
    "claims_user",
    "cognito_required",
    "get_verifier",
    "refusal_response",
    "verifier_from_settings",
]

#: The name of the Django setting holding the configuration dict.
SETTING = "COGNITO_VERIFY"

F = TypeVar("F", bound=Callable[..., Any])
Groups = str | Sequence[str] | None
UserMapper = Callable[[HttpRequest, Claims], Any]

_REQUIRED_KEYS = ("USER_POOL_ID", "CLIENT_ID", "TOKEN_USE")
_OWN_KEYS = ("USER_MAPPER", "VERIFIER", "REFUSAL_VIEW")
_PARAMETERS = tuple(
    name.upper()
    for name in inspect.signature(CognitoVerifier.__init__).parameters
    if name != "self"
)
_UNSET: Any = object()


class _State:
    """The verifier and user mapper built from settings, once per configuration."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.verifier: CognitoVerifier | None = None
        self.mapper: UserMapper | None = None

    def reset(self) -> None:
        with self.lock:
            self.verifier = None
            self.mapper = None


_state = _State()


def _config() -> Mapping[str, Any]:
    config = getattr(settings, SETTING, None)
    if not isinstance(config, Mapping):
        raise ConfigurationError(
            f"settings.{SETTING} must be a dict such as "
            '{"USER_POOL_ID": "...", "CLIENT_ID": "...", "TOKEN_USE": "access"}'
        )
    return config


def verifier_from_settings(config: Mapping[str, Any]) -> CognitoVerifier:
    """Build a verifier from a ``COGNITO_VERIFY`` dict.

    Keys are ``CognitoVerifier`` parameter names in capitals (``USER_POOL_ID``,
    ``CLIENT_ID``, ``TOKEN_USE``, ``JWKS_URL``, ``LEEWAY``, ``GROUPS``, ...); the first
    three are required (``CLIENT_ID`` / ``TOKEN_USE`` may be ``None`` on purpose).
    ``VERIFIER`` (a ``CognitoVerifier`` or its dotted path) replaces all of them,
    e.g. for several pools. ``USER_MAPPER`` is read by ``get_user_mapper`` and
    ``REFUSAL_VIEW`` replaces ``refusal_response``.

    Raises:
        ConfigurationError: a key is missing, unknown, or has an invalid value.
    """
    unknown = sorted(set(config) - set(_PARAMETERS) - set(_OWN_KEYS))
    if unknown:
        # A typo such as "CLIENTID" must not silently drop a check.
        raise ConfigurationError(f"unknown {SETTING} keys: {', '.join(map(str, unknown))}")
    if "VERIFIER" in config:
        verifier = config["VERIFIER"]
        if isinstance(verifier, str):
            verifier = import_string(verifier)
        if not isinstance(verifier, CognitoVerifier):
            raise ConfigurationError(f"{SETTING}['VERIFIER'] must be a CognitoVerifier")
        return verifier
    missing = [k for k in _REQUIRED_KEYS if k not in config]
    # No silent defaults: accepting any client or either token type must be said.
    if missing:
        raise ConfigurationError(
            f"{SETTING} needs {', '.join(missing)} (CLIENT_ID and TOKEN_USE may be None "
            "to accept any app client / both token types)"
        )
    options = {k.lower(): v for k, v in config.items() if k in _PARAMETERS}
    try:
        return CognitoVerifier(**options)
    except TypeError as exc:
        raise ConfigurationError(f"invalid {SETTING}: {exc}") from None


def get_verifier() -> CognitoVerifier:
    """The process-wide verifier built from ``settings.COGNITO_VERIFY`` (built lazily)."""
    verifier = _state.verifier
    if verifier is None:
        with _state.lock:
            if _state.verifier is None:
                _state.verifier = verifier_from_settings(_config())
            verifier = _state.verifier
    return verifier


def get_user_mapper() -> UserMapper | None:
    """The ``USER_MAPPER`` hook of ``COGNITO_VERIFY`` (a callable or dotted path), if any."""
    mapper = _state.mapper
    if mapper is None:
        value = _config().get("USER_MAPPER")
        if value is None:
            return None
        mapper = import_string(value) if isinstance(value, str) else value
        if not callable(mapper):
            raise ConfigurationError(f"{SETTING}['USER_MAPPER'] must be a callable")
        _state.mapper = mapper
    return mapper


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting == SETTING:
        _state.reset()


setting_changed.connect(_on_setting_changed)


class CognitoUser:
    """A user object made from claims alone: no database, no Django ``User`` row.

    ``claims_user`` returns one; set ``"USER_MAPPER":
    "cognito_verify.integrations.django.claims_user"`` to put it on ``request.user``.
    """

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False

    def __init__(self, claims: Claims) -> None:
        self.claims = claims
        self.pk = self.id = claims.sub
        self.username = claims.username or claims.sub

    @property
    def cognito_groups(self) -> frozenset[str]:
        return self.claims.groups

    def get_username(self) -> str:
        return self.username

    def __str__(self) -> str:
        return self.username

    def __repr__(self) -> str:
        return f"<CognitoUser {self.username!r}>"


def claims_user(request: HttpRequest, claims: Claims) -> CognitoUser:
    """A ready ``USER_MAPPER``: a database-free ``CognitoUser`` for the claims."""
    return CognitoUser(claims)


def user_for(request: HttpRequest, claims: Claims) -> Any:
    """The user for verified claims: the ``USER_MAPPER``'s answer, else a ``CognitoUser``.

    The answer is kept on the request, so middleware and DRF map a request once.
    """
    user = getattr(request, "_cognito_user", None)
    if user is None:
        mapper = get_user_mapper()
        user = mapper(request, claims) if mapper is not None else None
        user = user if user is not None else CognitoUser(claims)
        request._cognito_user = user
    return user


def refusal_response(request: HttpRequest, exc: CognitoVerifyError) -> HttpResponse:
    """The default refusal: the short JSON answer for ``exc`` (401, 403, 503 or 500).

    Replace it with ``COGNITO_VERIFY["REFUSAL_VIEW"]``, a callable (or dotted path)
    taking ``(request, exc)``, as Django's ``CSRF_FAILURE_VIEW`` replaces its 403.
    """
    answer = refusal(exc)
    response = HttpResponse(answer.json, status=answer.status, content_type="application/json")
    for name, value in answer.headers.items():
        response[name] = value
    # Refusals depend on the Authorization header: no shared cache may reuse them.
    response["Cache-Control"] = "no-store"
    return response


def _refuse(request: HttpRequest, exc: CognitoVerifyError) -> HttpResponse:
    view = _config().get("REFUSAL_VIEW")
    if view is None:
        return refusal_response(request, exc)
    if isinstance(view, str):
        view = import_string(view)
    return cast(HttpResponse, view(request, exc))


def _token(request: HttpRequest) -> str | None:
    try:
        return bearer_token(request.headers.get("Authorization"))
    except MissingTokenError:
        return None


class CognitoMiddleware:
    """Verifies the bearer token of every request and sets ``request.cognito_claims``.

    ``None`` when the request has no bearer token (the view decides whether that is
    allowed); a bad token is answered with 401 here. With a ``USER_MAPPER`` set,
    ``request.user`` becomes its answer. Works in sync and async middleware stacks;
    place it after ``AuthenticationMiddleware`` when mapping users.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self._async = iscoroutinefunction(get_response)
        if self._async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self._async:
            return self.__acall__(request)
        request.cognito_claims = None
        token = _token(request)
        if token is not None:
            try:
                claims = get_verifier().verify(token)
            except CognitoVerifyError as exc:
                return _refuse(request, exc)
            request.cognito_claims = claims
            if get_user_mapper() is not None:
                request.user = user_for(request, claims)
        return self.get_response(request)

    async def __acall__(self, request: HttpRequest) -> Any:
        request.cognito_claims = None
        token = _token(request)
        if token is not None:
            try:
                claims = await get_verifier().averify(token)
            except CognitoVerifyError as exc:
                return _refuse(request, exc)
            request.cognito_claims = claims
            if get_user_mapper() is not None:
                # The mapper may query the database: run it where the ORM is allowed.
                user = await sync_to_async(user_for)(request, claims)
                request.user = user
        return await cast(Callable[[HttpRequest], Awaitable[Any]], self.get_response)(request)


def _requirements(
    groups: Groups,
    all_groups: Groups,
    scopes: Groups,
    all_scopes: Groups,
    max_auth_age: float | None = None,
) -> dict[str, Any]:
    # Bad requirement values are a programming error: fail at decoration time.
    CognitoVerifier._extra(groups, all_groups, scopes, all_scopes, max_auth_age)
    return {
        "groups": groups,
        "all_groups": all_groups,
        "scopes": scopes,
        "all_scopes": all_scopes,
        "max_auth_age": max_auth_age,
    }


def _check(request: HttpRequest, requirements: Mapping[str, Any]) -> HttpResponse | None:
    """None when the request may proceed, else the refusal to answer."""
    try:
        claims = getattr(request, "cognito_claims", _UNSET)
        if claims is _UNSET:  # no middleware: verify here, with this view's needs
            token = bearer_token(request.headers.get("Authorization"))
            request.cognito_claims = get_verifier().verify(token, **requirements)
            return None
        if claims is None:
            raise MissingTokenError("the request has no bearer token")
        get_verifier().authorize(claims, **requirements)
    except CognitoVerifyError as exc:
        return _refuse(request, exc)
    return None


async def _acheck(request: HttpRequest, requirements: Mapping[str, Any]) -> HttpResponse | None:
    claims = getattr(request, "cognito_claims", _UNSET)
    try:
        if claims is None:
            raise MissingTokenError("the request has no bearer token")
        if claims is not _UNSET:
            # Only authorization is left; awaited, as custom_check may be async.
            await get_verifier().aauthorize(claims, **requirements)
            return None
        token = bearer_token(request.headers.get("Authorization"))
        request.cognito_claims = await get_verifier().averify(token, **requirements)
    except CognitoVerifyError as exc:
        return _refuse(request, exc)
    return None


def _csrf_exempt(view: F) -> F:
    # Only requests carrying a valid bearer token reach a protected view, and a
    # cross-site form or link cannot set an Authorization header: CSRF tokens add
    # nothing here (DRF exempts its token-authenticated views the same way).
    view.csrf_exempt = True  # type: ignore[attr-defined]
    return view


def cognito_required(
    view: F | None = None,
    *,
    groups: Groups = None,
    all_groups: Groups = None,
    scopes: Groups = None,
    all_scopes: Groups = None,
    max_auth_age: float | None = None,
) -> Any:
    """Decorate a function view (sync or async) to require an accepted token.

    ``groups`` / ``scopes``: at least one of them; ``all_groups`` / ``all_scopes``:
    every one, on top of the verifier's own requirements. No token -> 401, a lacking
    group or scope -> 403. Uses the middleware's claims, or verifies the request
    itself when the middleware is not installed. Usable bare or called. The view is
    exempt from Django's CSRF check, as a bearer token cannot be forged cross-site.
    ``max_auth_age``: seconds since sign-in (older: 401 with the RFC 9470 step-up
    challenge ``error="insufficient_user_authentication"``).
    """
    requirements = _requirements(groups, all_groups, scopes, all_scopes, max_auth_age)

    def decorate(fn: F) -> F:
        if iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
                refused = await _acheck(request, requirements)
                if refused is not None:
                    return refused
                return await fn(request, *args, **kwargs)

            return cast(F, _csrf_exempt(async_wrapper))

        @functools.wraps(fn)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            refused = _check(request, requirements)
            if refused is not None:
                return refused
            return fn(request, *args, **kwargs)

        return cast(F, _csrf_exempt(wrapper))

    return decorate(view) if view is not None else decorate


class CognitoRequiredMixin:
    """Class-based view mixin (put it first): requires an accepted token.

    Set ``cognito_groups``, ``cognito_all_groups``, ``cognito_scopes`` or
    ``cognito_all_scopes`` (and ``cognito_max_auth_age``, seconds since sign-in) on
    the view class for per-view requirements. Works for
    sync and async views.
    """

    cognito_groups: Groups = None
    cognito_all_groups: Groups = None
    cognito_scopes: Groups = None
    cognito_all_scopes: Groups = None
    cognito_max_auth_age: float | None = None

    @classmethod
    def as_view(cls, **initkwargs: Any) -> Any:
        return _csrf_exempt(cast(Any, super()).as_view(**initkwargs))

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        requirements = _requirements(
            self.cognito_groups,
            self.cognito_all_groups,
            self.cognito_scopes,
            self.cognito_all_scopes,
            self.cognito_max_auth_age,
        )
        parent = cast(Any, super())
        if getattr(self, "view_is_async", False):

            async def checked() -> Any:
                refused = await _acheck(request, requirements)
                if refused is not None:
                    return refused
                return await parent.dispatch(request, *args, **kwargs)

            return checked()
        refused = _check(request, requirements)
        if refused is not None:
            return refused
        return parent.dispatch(request, *args, **kwargs)
