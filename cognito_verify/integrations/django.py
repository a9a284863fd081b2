"""Django integration: settings, middleware (sync and async), view decorator and mixin.

    # settings.py
    INSTALLED_APPS = [..., "cognito_verify.integrations.django.CognitoVerifyConfig"]
    COGNITO_VERIFY = {"USER_POOL_ID": "eu-west-1_AbCdEf123", "CLIENT_ID": "...",
                      "TOKEN_USE": "access"}
    MIDDLEWARE = [..., "cognito_verify.integrations.django.CognitoMiddleware"]

    # views.py
    @cognito_required(groups="admin")
    def report(request):
        return JsonResponse({"user": request.cognito_claims.username})

The verifier is built from ``settings.COGNITO_VERIFY`` on first use (no IO at import)
and rebuilt when the setting changes (``override_settings`` in tests). The setting is
checked at start-up: by the system-check framework (``manage.py check`` and
``runserver`` report ``cognito_verify.E001`` with a "did you mean" hint) once the app
config is installed, and when the middleware is loaded. A misconfiguration met while
answering a request is logged and answered 500 without details. Django REST
framework classes live in ``cognito_verify.integrations.drf``. Requires
``pip install cognito-verify[django]``.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar, cast

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.apps import AppConfig
from django.conf import settings
from django.core import checks
from django.core.serializers.json import DjangoJSONEncoder
from django.core.signals import setting_changed
from django.http import HttpRequest, HttpResponse
from django.utils.module_loading import import_string

from ..alb import AlbVerifier
from ..claims import Claims
from ..errors import (
    CognitoVerifyError,
    ConfigurationError,
    CrossSiteRequestError,
    MissingTokenError,
)
from ..verifier import CognitoVerifier
from ._config import build_verifier, verifier_options
from ._http import (
    SAFE_METHODS,
    Authenticator,
    Credentials,
    bearer_token,
    json_default,
    refusal,
    requirements,
)

__all__ = [
    "SETTING",
    "ClaimsJSONEncoder",
    "CognitoMiddleware",
    "CognitoRequiredMixin",
    "CognitoUser",
    "CognitoVerifyConfig",
    "check_settings",
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

_OWN_KEYS = ("USER_MAPPER", "VERIFIER", "REFUSAL_VIEW", "TOKEN_SOURCE", "ALB_VERIFIER")
_WHERE = f"settings.{SETTING}"
_UNSET: Any = object()


class _State:
    """The verifier and user mapper built from settings, once per configuration."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.verifier: CognitoVerifier | None = None
        self.mapper: UserMapper | None = None
        self.authenticator: Authenticator | None = None

    def reset(self) -> None:
        with self.lock:
            self.verifier = None
            self.mapper = None
            self.authenticator = None


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
    if "VERIFIER" in config:
        extra = sorted(k for k in config if k not in _OWN_KEYS)
        if extra:
            # VERIFIER replaces every verifier key: any beside it would be unused.
            raise ConfigurationError(
                f"{_WHERE}: VERIFIER replaces {', '.join(map(repr, extra))}; "
                "configure those on the CognitoVerifier itself"
            )
        verifier = config["VERIFIER"]
        if isinstance(verifier, str):
            try:
                verifier = import_string(verifier)
            except ImportError as exc:
                raise ConfigurationError(f"{_WHERE}['VERIFIER']: {exc}") from None
        if not isinstance(verifier, CognitoVerifier):
            raise ConfigurationError(f"{_WHERE}['VERIFIER'] must be a CognitoVerifier")
        return verifier
    # A typo such as "GROUP" must not silently drop a check: refused with a hint.
    options = verifier_options(config, prefix="", where=_WHERE, own=_OWN_KEYS)
    return build_verifier(options, where=_WHERE, prefix="")


def check_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """The system check behind ``manage.py check`` / ``runserver``: ``COGNITO_VERIFY``
    builds a verifier (no IO), and its hooks import. Reports ``cognito_verify.E001``."""
    try:
        verifier_from_settings(_config())
        for key in ("USER_MAPPER", "REFUSAL_VIEW"):
            value = _config().get(key)
            if isinstance(value, str):
                try:
                    value = import_string(value)
                except ImportError as exc:
                    raise ConfigurationError(f"{_WHERE}['{key}']: {exc}") from None
            if value is not None and not callable(value):
                raise ConfigurationError(f"{_WHERE}['{key}'] must be a callable")
    except ConfigurationError as exc:
        return [
            checks.Error(
                exc.message,
                hint="Keys are CognitoVerifier parameters in capitals; see docs/django.md.",
                id="cognito_verify.E001",
            )
        ]
    return []


class CognitoVerifyConfig(AppConfig):  # type: ignore[misc]
    """``INSTALLED_APPS += ["cognito_verify.integrations.django.CognitoVerifyConfig"]``:
    registers the ``COGNITO_VERIFY`` system check (``cognito_verify.E001``)."""

    name = "cognito_verify.integrations"
    label = "cognito_verify"
    verbose_name = "cognito-verify"
    default_auto_field = "django.db.models.AutoField"

    def ready(self) -> None:
        checks.register(check_settings, "cognito_verify")


class ClaimsJSONEncoder(DjangoJSONEncoder):  # type: ignore[misc]
    """``JsonResponse(claims, encoder=ClaimsJSONEncoder, safe=False)``: ``Claims`` as
    its ``to_dict()``, ``claims.groups`` / ``claims.scopes`` as sorted lists."""

    def default(self, o: Any) -> Any:
        found = json_default(o)
        return super().default(o) if found is NotImplemented else found


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


def get_authenticator() -> Authenticator:
    """The settings' verifier with the ``TOKEN_SOURCE`` (a ``TokenSource`` or a list)
    and ``ALB_VERIFIER`` (an ``AlbVerifier`` or its dotted path) of ``COGNITO_VERIFY``.

    Raises:
        ConfigurationError: ``ALB_VERIFIER`` or ``TOKEN_SOURCE`` is invalid.
    """
    found = _state.authenticator
    if found is None:
        config = _config()
        alb = config.get("ALB_VERIFIER")
        if isinstance(alb, str):
            alb = import_string(alb)
        if alb is not None and not isinstance(alb, AlbVerifier):
            raise ConfigurationError(f"{_WHERE}['ALB_VERIFIER'] must be an AlbVerifier")
        found = Authenticator(get_verifier(), alb=alb, token_source=config.get("TOKEN_SOURCE"))
        _state.authenticator = found
    return found


def _headers(request: HttpRequest) -> Callable[[str], list[str]]:
    def values(name: str) -> list[str]:
        value = request.headers.get(name)
        return [] if value is None else [value]

    return values


def _store(request: HttpRequest, found: Credentials) -> Claims | None:
    request.cognito_claims, request.alb_claims = found
    return found.claims


def _needs(needs: _Needs) -> dict[str, Any]:
    return dict(needs.requirements)


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
        # Built when Django loads its middleware (server start-up), so a bad
        # COGNITO_VERIFY fails there rather than at the first token.
        get_authenticator()
        self.get_response = get_response
        self._async = iscoroutinefunction(get_response)
        if self._async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self._async:
            return self.__acall__(request)
        request.cognito_claims = None
        request.alb_claims = None
        try:
            found = get_authenticator().authenticate(
                request.method or "GET", _headers(request), optional=True
            )
        except CognitoVerifyError as exc:
            return _refuse(request, exc)
        claims = _store(request, found)
        if claims is not None:
            if get_user_mapper() is not None:
                request.user = user_for(request, claims)
        return self.get_response(request)

    async def __acall__(self, request: HttpRequest) -> Any:
        request.cognito_claims = None
        request.alb_claims = None
        try:
            found = await get_authenticator().aauthenticate(
                request.method or "GET", _headers(request), optional=True
            )
        except CognitoVerifyError as exc:
            return _refuse(request, exc)
        claims = _store(request, found)
        if claims is not None:
            if get_user_mapper() is not None:
                # The mapper may query the database: run it where the ORM is allowed.
                user = await sync_to_async(user_for)(request, claims)
                request.user = user
        return await cast(Callable[[HttpRequest], Awaitable[Any]], self.get_response)(request)


class _Needs:
    """One view's requirements, checked when it is decorated."""

    __slots__ = ("requirements", "optional")

    def __init__(
        self,
        groups: Groups,
        all_groups: Groups,
        scopes: Groups,
        all_scopes: Groups,
        max_auth_age: float | None = None,
        optional: bool = False,
    ) -> None:
        # Bad requirement values are a programming error: fail at decoration time.
        self.requirements = requirements(groups, all_groups, scopes, all_scopes, max_auth_age)
        if not isinstance(optional, bool):
            raise TypeError(f"optional must be True or False, got {optional!r}")
        self.optional = optional


_CSRF_MIDDLEWARE = "django.middleware.csrf.CsrfViewMiddleware"


def _django_csrf(request: HttpRequest, needs: _Needs) -> HttpResponse | None:
    """Django's own CSRF check, for a view we exempted from it, when the request carries
    a cookie token source's cookie whose ``csrf_protection`` is off.

    The exemption is right for bearer tokens, which a cross-site page cannot send; a
    cookie the app left to Django's CSRF tokens (``csrf_protection=False``) must still
    meet them. None when the request may proceed, else Django's 403.
    """
    if needs.optional:
        return None  # an optional view was never exempted
    if _CSRF_MIDDLEWARE not in settings.MIDDLEWARE:
        return None
    return _cookie_csrf(request)


def _cookie_csrf(request: HttpRequest) -> HttpResponse | None:
    """Django's CSRF check when the request carries the cookie of a token source whose
    own ``csrf_protection`` is off, or a load balancer's headers with the
    ``AlbVerifier``'s ``csrf_protection`` off (used where the view is exempt from
    ``CsrfViewMiddleware``: decorators, Ninja). None when it may proceed, else the 403.

    Raises:
        MalformedTokenError: two cookies of that name.
    """
    if (request.method or "GET").upper() in SAFE_METHODS:
        return None
    if not get_authenticator().needs_app_csrf(_headers(request)):
        return None
    from django.middleware.csrf import CsrfViewMiddleware

    check = CsrfViewMiddleware(lambda r: HttpResponse())
    check.process_request(request)
    if check.process_view(request, None, (), {}) is None:
        return None
    return _refuse(
        request,
        CrossSiteRequestError(
            "a state-changing request authenticated by a cookie without its own CSRF "
            "rule failed Django's CSRF check"
        ),
    )


def _check(request: HttpRequest, needs: _Needs) -> HttpResponse | None:
    """None when the request may proceed, else the refusal to answer."""
    try:
        if (refused := _django_csrf(request, needs)) is not None:
            return refused
        claims = getattr(request, "cognito_claims", _UNSET)
        if claims is _UNSET:  # no middleware: verify here, with this view's needs
            request.cognito_claims = request.alb_claims = None
            found = get_authenticator().authenticate(
                request.method or "GET",
                _headers(request),
                optional=needs.optional,
                **_needs(needs),
            )
            _store(request, found)
            return None
        if claims is None:
            if needs.optional:
                return None
            raise MissingTokenError("the request has no token")
        get_verifier().authorize(claims, **needs.requirements)
    except CognitoVerifyError as exc:
        return _refuse(request, exc)
    return None


async def _acheck(request: HttpRequest, needs: _Needs) -> HttpResponse | None:
    claims = getattr(request, "cognito_claims", _UNSET)
    try:
        # No I/O in Django's CSRF check (cookies and headers only): run it in place.
        if (refused := _django_csrf(request, needs)) is not None:
            return refused
        if claims is None:
            if needs.optional:
                return None
            raise MissingTokenError("the request has no token")
        if claims is not _UNSET:
            # Only authorization is left; awaited, as custom_check may be async.
            await get_verifier().aauthorize(claims, **needs.requirements)
            return None
        request.cognito_claims = request.alb_claims = None
        found = await get_authenticator().aauthenticate(
            request.method or "GET",
            _headers(request),
            optional=needs.optional,
            **_needs(needs),
        )
        _store(request, found)
    except CognitoVerifyError as exc:
        return _refuse(request, exc)
    return None


def _csrf_exempt(view: F, needs: _Needs | None = None) -> F:
    # Only requests carrying a valid bearer token reach a protected view, and a
    # cross-site form or link cannot set an Authorization header: CSRF tokens add
    # nothing here (DRF exempts its token-authenticated views the same way). An
    # optional view also serves anonymous (maybe cookie-authenticated) callers, so
    # it keeps Django's CSRF check.
    if needs is None or not needs.optional:
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
    optional: bool = False,
) -> Any:
    """Decorate a function view (sync or async) to require an accepted token.

    ``groups`` / ``scopes``: at least one of them; ``all_groups`` / ``all_scopes``:
    every one, on top of the verifier's own requirements. No token -> 401, a lacking
    group or scope -> 403. With ``optional=True`` a request without a token reaches
    the view with ``request.cognito_claims = None`` (a bad token is still refused).
    Uses the middleware's claims, or verifies the request itself when the middleware
    is not installed. Usable bare or called. A required view is exempt from Django's
    CSRF check, as a bearer token cannot be forged cross-site; an optional one keeps
    the check. ``max_auth_age``: seconds since sign-in (older: 401 with the RFC 9470
    step-up challenge ``error="insufficient_user_authentication"``).

    Raises:
        TypeError: a requirement is not a string or a list of strings.
    """
    requirements = _Needs(groups, all_groups, scopes, all_scopes, max_auth_age, optional)

    def decorate(fn: F) -> F:
        if iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
                refused = await _acheck(request, requirements)
                if refused is not None:
                    return refused
                return await fn(request, *args, **kwargs)

            return cast(F, _csrf_exempt(async_wrapper, requirements))

        @functools.wraps(fn)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            refused = _check(request, requirements)
            if refused is not None:
                return refused
            return fn(request, *args, **kwargs)

        return cast(F, _csrf_exempt(wrapper, requirements))

    return decorate(view) if view is not None else decorate


class CognitoRequiredMixin:
    """Class-based view mixin (put it first): requires an accepted token.

    Set ``cognito_groups``, ``cognito_all_groups``, ``cognito_scopes``,
    ``cognito_all_scopes``, ``cognito_max_auth_age`` (seconds since sign-in) or
    ``cognito_optional`` on the view class for per-view requirements. Works for
    sync and async views.
    """

    cognito_groups: Groups = None
    cognito_all_groups: Groups = None
    cognito_scopes: Groups = None
    cognito_all_scopes: Groups = None
    cognito_max_auth_age: float | None = None
    cognito_optional: bool = False

    @classmethod
    def as_view(cls, **initkwargs: Any) -> Any:
        view = cast(Any, super()).as_view(**initkwargs)
        return view if cls.cognito_optional else _csrf_exempt(view)

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        requirements = _Needs(
            self.cognito_groups,
            self.cognito_all_groups,
            self.cognito_scopes,
            self.cognito_all_scopes,
            self.cognito_max_auth_age,
            self.cognito_optional,
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
