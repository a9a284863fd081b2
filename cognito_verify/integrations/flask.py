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

from ..claims import Claims
from ..errors import CognitoVerifyError, ConfigurationError, MissingTokenError
from ..verifier import CognitoVerifier
from ._http import Refusal, bearer_token, refusal

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
_REQUIRED_KEYS = ("user_pool_id", "client_id", "token_use")
_PARAMETERS = tuple(
    name for name in inspect.signature(CognitoVerifier.__init__).parameters if name != "self"
)


class CognitoAuthError(HTTPException):
    """A refused request. Flask renders it as the short JSON body of ``refusal``.

    ``error`` is the library error behind it (for logging and metrics; never send its
    message to the client) and ``refusal`` the status, headers and body to answer.
    Register ``@app.errorhandler(CognitoAuthError)`` to answer differently.
    """

    def __init__(self, error: CognitoVerifyError) -> None:
        self.error = error
        self.refusal: Refusal = refusal(error)
        # The description is the fixed text, not str(error): exception messages can
        # name configured issuers and clients, which a caller has no need to learn.
        super().__init__(description=self.refusal.body["message"])

    @classmethod
    def from_error(cls, error: CognitoVerifyError) -> CognitoAuthError:
        """The subclass matching the error's HTTP status (401, 403, 503 or 500)."""
        status = refusal(error).status
        for sub in (CognitoUnauthorized, CognitoForbidden, CognitoUnavailable):
            if sub.code == status:
                return sub(error)
        return CognitoMisconfigured(error)

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
    capitals (``COGNITO_JWKS_URL``, ``COGNITO_LEEWAY``, ...). ``COGNITO_USER_POOL_ID``,
    ``COGNITO_CLIENT_ID`` and ``COGNITO_TOKEN_USE`` are required; the last two may be
    ``None`` on purpose. Other ``COGNITO_*`` keys are ignored.

    Raises:
        ConfigurationError: a required key is missing or a value is invalid.
    """
    missing = [
        f"COGNITO_{n.upper()}" for n in _REQUIRED_KEYS if f"COGNITO_{n.upper()}" not in config
    ]
    # No silent defaults: accepting any client or either token type must be said.
    if missing:
        raise ConfigurationError(
            f"{', '.join(missing)} must be set in app.config (CLIENT_ID and TOKEN_USE "
            "may be None to accept any app client / both token types), or pass "
            "CognitoAuth(verifier=CognitoVerifier(...))"
        )
    options = {
        n: config[f"COGNITO_{n.upper()}"] for n in _PARAMETERS if f"COGNITO_{n.upper()}" in config
    }
    try:
        return CognitoVerifier(**options)
    except TypeError as exc:
        raise ConfigurationError(f"invalid COGNITO_* configuration: {exc}") from None


class CognitoAuth:
    """Protects Flask views with Cognito tokens.

    Args:
        verifier: the ``CognitoVerifier`` to use for every app; when ``None``, each app
            passed to ``init_app`` gets one built from its ``COGNITO_*`` config (see
            ``verifier_from_config``).
        app: an app to initialise now; or call ``init_app`` later (app factories).
    """

    def __init__(self, verifier: CognitoVerifier | None = None, app: Flask | None = None) -> None:
        self._verifier = verifier
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask, *, verifier: CognitoVerifier | None = None) -> None:
        """Register on ``app``: its verifier is ``verifier``, else the one given to
        ``CognitoAuth``, else one built from ``app.config`` now (no IO), so a bad
        config fails at start-up. Call again with ``verifier=`` to swap it in tests."""
        app.extensions[_EXTENSION] = verifier or self._verifier or verifier_from_config(app.config)

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
        """Verify the current request's bearer token, store and return its claims.

        Raises:
            CognitoAuthError: the request is refused (401, 403 or 503).
        """
        g.cognito_claims = None
        # Outside the try: a missing init_app is a bug to log with its traceback,
        # not a refusal to answer.
        verifier = self.verifier
        try:
            token = bearer_token(request.headers.get("Authorization"))
        except MissingTokenError as exc:
            if optional:
                return None
            raise CognitoAuthError.from_error(exc) from None
        try:
            # Flask runs an async view in its own event loop, so a blocking key fetch
            # here holds up this request only; the sync path works for both.
            claims = verifier.verify(
                token,
                groups=groups,
                all_groups=all_groups,
                scopes=scopes,
                all_scopes=all_scopes,
                max_auth_age=max_auth_age,
            )
        except CognitoVerifyError as exc:
            # An optional route still refuses a bad token: a client that sent one
            # expects to be authenticated and must learn that it is not.
            raise CognitoAuthError.from_error(exc) from None
        g.cognito_claims = claims
        return claims

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

        def decorate(fn: F) -> F:
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
