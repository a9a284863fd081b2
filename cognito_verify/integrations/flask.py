"""Flask extension: ``CognitoAuth`` and its ``@auth.required(...)`` decorator.

    from cognito_verify.integrations.flask import CognitoAuth

    auth = CognitoAuth(app=app)          # configured from app.config["COGNITO_..."]

    @app.get("/orders")
    @auth.required(scopes="orders-api/orders.read")
    def orders():
        return {"user": auth.current_claims.username}

Refusals are raised as ``CognitoAuthError``, a ``werkzeug`` ``HTTPException``, so the
usual ``@app.errorhandler(CognitoAuthError)`` (or ``errorhandler(401)``) replaces the
default JSON answer. Requires ``pip install cognito-verify[flask]``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar, cast, overload

from flask import Flask, current_app, g, has_app_context, request
from werkzeug.exceptions import (
    Forbidden,
    HTTPException,
    InternalServerError,
    ServiceUnavailable,
    Unauthorized,
)

from ..alb import AlbVerifier
from ..claims import Claims
from ..errors import CognitoVerifyError, ConfigurationError
from ..verifier import CognitoVerifier
from ._config import build_verifier, unknown_keys, verifier_options
from ._http import Authenticator, Refusal, TokenSource, json_default, refusal, token_sources

__all__ = [
    "CognitoAuth",
    "CognitoAuthError",
    "CognitoUnauthorized",
    "CognitoForbidden",
    "CognitoUnavailable",
    "CognitoMisconfigured",
    "verifier_from_config",
]

F = TypeVar("F", bound=Callable[..., Any])
Groups = str | Sequence[str] | None

_EXTENSION = "cognito_verify"
_WHERE = "app.config"


class CognitoAuthError(HTTPException):
    """A refused request. Flask renders it as the short JSON body of ``refusal``.

    ``error`` is the library error behind it (for logging and metrics; never send its
    message to the client) and ``refusal`` the status, headers and body to answer.
    Register ``@app.errorhandler(CognitoAuthError)`` to answer differently.
    """

    def __init__(self, error: CognitoVerifyError, answer: Refusal | None = None) -> None:
        self.error = error
        self.refusal: Refusal = answer if answer is not None else refusal(error)
        # The description is the fixed text, not str(error): exception messages can
        # name configured issuers and clients, which a caller has no need to learn.
        super().__init__(description=self.refusal.body["message"])

    @classmethod
    def from_error(cls, error: CognitoVerifyError) -> CognitoAuthError:
        """The subclass matching the error's HTTP status (401, 403, 503 or 500)."""
        answer = refusal(error)
        for sub in (CognitoUnauthorized, CognitoForbidden, CognitoUnavailable):
            if sub.code == answer.status:
                return sub(error, answer)
        return CognitoMisconfigured(error, answer)

    def get_headers(self, environ: Any = None, scope: Any = None) -> list[tuple[str, str]]:
        return [("Content-Type", "application/json"), *self.refusal.headers.items()]

    def get_body(self, environ: Any = None, scope: Any = None) -> str:
        return self.refusal.json.decode("utf-8")


# Each refusal also subclasses werkzeug's exception for its status, so an app-wide
# ``@app.errorhandler(401)`` catches it like any other 401.
class CognitoUnauthorized(CognitoAuthError, Unauthorized):
    """401: no token, or a token that is not acceptable."""


class CognitoForbidden(CognitoAuthError, Forbidden):
    """403: a valid token that lacks a required group or scope."""


class CognitoUnavailable(CognitoAuthError, ServiceUnavailable):
    """503: the pool's keys cannot be fetched and none are cached."""


class CognitoMisconfigured(CognitoAuthError, InternalServerError):
    """500: the verifier is misconfigured."""


def verifier_from_config(config: Mapping[str, Any]) -> CognitoVerifier:
    """Build a verifier from ``COGNITO_<PARAMETER>`` keys of a Flask config.

    Every ``CognitoVerifier`` parameter can be given as ``COGNITO_`` plus its name in
    capitals (``COGNITO_JWKS_URL``, ``COGNITO_LEEWAY``, ``COGNITO_GROUPS``, ...).
    ``COGNITO_USER_POOL_ID``, ``COGNITO_CLIENT_ID`` and ``COGNITO_TOKEN_USE`` are
    required; the last two may be ``None`` on purpose. Any other ``COGNITO_*`` key is
    refused with the closest known name: a typo such as ``COGNITO_GROUP`` must not
    silently drop a group check. List the app's own ``COGNITO_*`` keys (say
    ``COGNITO_DOMAIN``) in ``COGNITO_EXTRA_KEYS`` to keep them.

    Raises:
        ConfigurationError: a key is unknown or missing, or a value is invalid.
    """
    options = verifier_options(config, prefix="COGNITO_", where=_WHERE, own=_own_keys(config))
    return build_verifier(options, where=_WHERE, prefix="COGNITO_")


def _own_keys(config: Mapping[str, Any]) -> tuple[str, ...]:
    # COGNITO_EXTRA_KEYS: the app's other COGNITO_* keys (say COGNITO_DOMAIN for the
    # hosted UI), named on purpose so they are not mistaken for typos.
    extra = config.get("COGNITO_EXTRA_KEYS", ())
    if isinstance(extra, str) or not all(isinstance(k, str) for k in extra):
        raise ConfigurationError(f"{_WHERE}['COGNITO_EXTRA_KEYS'] must be a list of key names")
    return ("EXTRA_KEYS", *(k.removeprefix("COGNITO_") for k in extra))


class CognitoAuth:
    """Protects Flask views with Cognito tokens.

    Args:
        verifier: the ``CognitoVerifier`` to use for every app; when ``None``, each app
            passed to ``init_app`` gets one built from its ``COGNITO_*`` config (see
            ``verifier_from_config``).
        app: an app to initialise now; or call ``init_app`` later (app factories).
        token_source: where requests carry the token: ``TokenSource.bearer()``
            (default), ``.header(name)``, ``.cookie(name)``, or a list tried in order.
        alb: an ``AlbVerifier``: requests must also carry a valid ``x-amzn-oidc-data``
            (``g.alb_claims``); the token source then defaults to the
            ``x-amzn-oidc-accesstoken`` header. With ``alb`` and no verifier (and no
            ``COGNITO_USER_POOL_ID``), the load balancer's claims are the claims.
    """

    def __init__(
        self,
        verifier: CognitoVerifier | None = None,
        app: Flask | None = None,
        *,
        token_source: TokenSource | Sequence[TokenSource] | None = None,
        alb: AlbVerifier | None = None,
    ) -> None:
        if verifier is not None and not isinstance(verifier, CognitoVerifier):
            raise TypeError("CognitoAuth needs a CognitoVerifier")
        self._verifier = verifier
        self._alb = alb
        self._token_source = token_sources(token_source) if token_source is not None else None
        self._authenticators: dict[int, Authenticator] = {}
        # Views decorated by ``required``, by their undecorated function: found again
        # when the decorator was written above ``@app.route`` (see ``_guard``).
        self._guarded: dict[Callable[..., Any], dict[str, Any]] = {}
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask, *, verifier: CognitoVerifier | None = None) -> None:
        """Register on ``app``: its verifier is ``verifier``, else the one given to
        ``CognitoAuth``, else one built from ``app.config`` now (no IO), so a bad or
        misspelt ``COGNITO_*`` key fails at start-up. Call again with ``verifier=`` to
        swap it in tests.

        Also teaches the app's JSON provider to return ``Claims`` (as ``to_dict()``)
        and the sets of ``claims.groups`` / ``claims.scopes`` (as sorted lists).

        Raises:
            ConfigurationError: the ``COGNITO_*`` configuration is invalid.
        """
        if verifier is not None and not isinstance(verifier, CognitoVerifier):
            raise TypeError("init_app(verifier=) needs a CognitoVerifier")
        if (
            verifier is None
            and self._verifier is None
            and (
                # With the load balancer alone, no COGNITO_* pool config is needed.
                self._alb is None or "COGNITO_USER_POOL_ID" in app.config
            )
        ):
            verifier = verifier_from_config(app.config)
        else:
            # A verifier given in code: COGNITO_* keys would be ignored, so a
            # misspelt one is still refused rather than silently unused.
            verifier_options_known(app.config)
        app.extensions[_EXTENSION] = verifier or self._verifier
        # Fail now, not on the first request, for a bad token_source / alb pairing.
        Authenticator(verifier or self._verifier, alb=self._alb, token_source=self._token_source)
        if _EXTENSION + ".guard" not in app.extensions:
            app.extensions[_EXTENSION + ".guard"] = True
            app.before_request(self._guard)
            _teach_json(app)

    def _guard(self) -> None:
        # ``@auth.required`` written above ``@app.get`` decorates the function after
        # Flask registered it, so the registered view is the unprotected one. The
        # order must not decide whether a view is protected: such a view is found
        # here by its function and checked before it runs.
        if not self._guarded or request.endpoint is None:
            return
        view = current_app.view_functions.get(request.endpoint)
        options = self._guarded.get(view) if view is not None else None
        if options is not None:
            self.authenticate(**options)

    @property
    def verifier(self) -> CognitoVerifier:
        """The verifier of the current app (or the one given to ``CognitoAuth``)."""
        if has_app_context():
            found = current_app.extensions.get(_EXTENSION)
            if found is not None:
                return cast(CognitoVerifier, found)
        if self._verifier is not None:
            return self._verifier
        raise ConfigurationError(
            "CognitoAuth has not been initialised for this app: call auth.init_app(app)"
        )

    def _authenticator(self) -> Authenticator:
        if self._alb is not None and has_app_context() and _EXTENSION in current_app.extensions:
            verifier = current_app.extensions[_EXTENSION]  # None: the ALB alone
        else:
            verifier = self.verifier
        found = self._authenticators.get(id(verifier))
        if found is None or found.verifier is not verifier:
            found = Authenticator(verifier, alb=self._alb, token_source=self._token_source)
            self._authenticators[id(verifier)] = found
        return found

    @property
    def current_alb_claims(self) -> Claims | None:
        """The load balancer's verified ``x-amzn-oidc-data`` claims of this request
        (``flask.g.alb_claims``); ``None`` without an ``alb`` verifier."""
        return cast("Claims | None", g.get("alb_claims"))

    @property
    def current_claims(self) -> Claims | None:
        """The verified claims of this request (``flask.g.cognito_claims``); ``None``
        when anonymous or outside a protected view."""
        return cast("Claims | None", g.get("cognito_claims"))

    def authenticate(
        self,
        *,
        groups: Groups = None,
        all_groups: Groups = None,
        scopes: Groups = None,
        all_scopes: Groups = None,
        optional: bool = False,
        max_auth_age: float | None = None,
    ) -> Claims | None:
        """Verify the current request's token, store and return its claims.

        Raises:
            CognitoAuthError: the request is refused (401, 403 or 503).
        """
        g.cognito_claims = None
        g.alb_claims = None
        # Outside the try: a missing init_app is a bug to log with its traceback,
        # not a refusal to answer.
        authenticator = self._authenticator()
        try:
            # Flask runs an async view in its own event loop, so a blocking key fetch
            # here holds up this request only; the sync path works for both. An
            # optional route still refuses a bad token: a client that sent one
            # expects to be authenticated and must learn that it is not.
            found = authenticator.authenticate(
                request.method,
                request.headers.getlist,
                optional=optional,
                groups=groups,
                all_groups=all_groups,
                scopes=scopes,
                all_scopes=all_scopes,
                max_auth_age=max_auth_age,
            )
        except CognitoVerifyError as exc:
            raise CognitoAuthError.from_error(exc) from None
        g.cognito_claims, g.alb_claims = found
        return found.claims

    @overload
    def required(self, view: F) -> F: ...

    @overload
    def required(
        self,
        view: None = None,
        *,
        groups: Groups = None,
        all_groups: Groups = None,
        scopes: Groups = None,
        all_scopes: Groups = None,
        optional: bool = False,
        max_auth_age: float | None = None,
    ) -> Callable[[F], F]: ...

    def required(
        self,
        view: F | None = None,
        *,
        groups: Groups = None,
        all_groups: Groups = None,
        scopes: Groups = None,
        all_scopes: Groups = None,
        optional: bool = False,
        max_auth_age: float | None = None,
    ) -> F | Callable[[F], F]:
        """Decorate a view (sync or async) so it runs only for an accepted token.

        ``groups`` / ``scopes``: at least one of them; ``all_groups`` / ``all_scopes``:
        every one of them, on top of the verifier's own requirements. With
        ``optional=True`` a request without a token reaches the view with
        ``g.cognito_claims = None``; a bad token is still refused. Usable bare
        (``@auth.required``) or called (``@auth.required(groups="admin")``).
        ``max_auth_age``: seconds since the user signed in (step-up); older sign-ins
        get 401 with ``error="insufficient_user_authentication"`` and ``max_age``.
        """
        options: dict[str, Any] = {
            "groups": groups,
            "all_groups": all_groups,
            "scopes": scopes,
            "all_scopes": all_scopes,
            "optional": optional,
            "max_auth_age": max_auth_age,
        }
        # Bad requirement values are a programming error: fail at decoration time.
        CognitoVerifier._extra(groups, all_groups, scopes, all_scopes, max_auth_age)
        if not isinstance(optional, bool):
            raise TypeError(f"optional must be True or False, got {optional!r}")

        def decorate(fn: F) -> F:
            self._guarded[fn] = options
            if inspect.iscoroutinefunction(fn):

                @functools.wraps(fn)
                async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                    self.authenticate(**options)
                    return await fn(*args, **kwargs)

                return cast(F, async_wrapper)

            @functools.wraps(fn)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                self.authenticate(**options)
                return fn(*args, **kwargs)

            return cast(F, wrapper)

        if view is not None:
            return decorate(view)
        return decorate


def verifier_options_known(config: Mapping[str, Any]) -> None:
    """Refuse unknown ``COGNITO_*`` keys of a Flask config (with a "did you mean").

    Raises:
        ConfigurationError: a ``COGNITO_*`` key is not a ``CognitoVerifier`` parameter.
    """
    problems = unknown_keys(config, prefix="COGNITO_", own=_own_keys(config))
    if problems:
        raise ConfigurationError(f"{_WHERE}: {'; '.join(problems)}")


def _teach_json(app: Flask) -> None:
    provider = app.json
    previous = getattr(provider, "default", None)
    if previous is None:  # a provider without a ``default`` hook: documented, not patched
        return

    def default(value: Any) -> Any:
        found = json_default(value)
        return previous(value) if found is NotImplemented else found

    provider.default = default  # type: ignore[attr-defined]
