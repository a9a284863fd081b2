"""HTTP semantics shared by every adapter: finding the token, and answering refusals.

No framework is imported here; adapters turn ``Refusal`` into their own response type.
Every rule of the HTTP contract lives here, so the adapters cannot drift apart:

* the token: ``Authorization: Bearer <token>`` (scheme case-insensitive), exactly one
  such header, with a precise message for common copy-paste mistakes;
* the refusal: status, ``WWW-Authenticate`` challenge (RFC 6750 s3, naming the
  missing scope), ``Retry-After`` and ``Cache-Control: no-store`` on every refusal;
  a misconfiguration is logged with its message and answered 500 without details;
* path exclusions (``ExcludedPaths``): one matching rule for every middleware;
* JSON: ``json_default`` turns ``Claims`` and its sets into JSON types.
* where the token is read from: ``TokenSource`` (bearer, a header, a cookie with
  its CSRF rule); the whole check of a request (token sources, the load balancer's
  ``x-amzn-oidc-data``, both verifiers) is one ``Authenticator``.
"""

from __future__ import annotations

import json
import logging
import posixpath
import re
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from ..claims import Claims
from ..errors import (
    CognitoVerifyError,
    ConfigurationError,
    CrossSiteRequestError,
    ForbiddenError,
    InsufficientUserAuthenticationError,
    InvalidClaimError,
    InvalidTokenError,
    JWKSError,
    MalformedTokenError,
    MissingScopeError,
    MissingTokenError,
    RevocationCheckError,
)

if TYPE_CHECKING:  # the verifiers import httpx; this module stays importable without cost
    from ..alb import AlbVerifier
    from ..verifier import CognitoVerifier

# Short, fixed texts: the client learns the class of failure, never the exception
# message (which can name the configured issuers and app clients) nor the token.
_DESCRIPTIONS = {
    401: "The request is not authenticated.",
    403: "The caller is not allowed to do this.",
    503: "Authentication is temporarily unavailable.",
    500: "Authentication is misconfigured.",
}

_log = logging.getLogger("cognito_verify")

# RFC 6749 s3.3 scope-token characters: anything else (a quote, a backslash, a space)
# could break out of the quoted challenge parameter, so such a scope is not named.
_SCOPE_CHARS = frozenset(chr(c) for c in range(0x21, 0x7F)) - {'"', "\\"}


def bearer_token(authorization: str | None) -> str:
    """The token from an ``Authorization: Bearer <token>`` header value.

    The scheme is case-insensitive (RFC 7235). Raises ``MissingTokenError`` when the
    header is absent, uses another scheme, or carries no token; ``MalformedTokenError``
    when the value cannot be one token (``Bearer Bearer ...``, quotes, spaces, two
    headers joined with a comma), with a message naming the mistake.
    """
    if not authorization:
        raise MissingTokenError("the request has no Authorization header")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise MissingTokenError("the Authorization header does not use the Bearer scheme")
    token = token.strip()
    if not token:
        raise MissingTokenError("the Authorization header has no bearer token")
    if " " in token or "," in token or "\t" in token or token[0] in "\"'":
        raise MalformedTokenError(_copy_paste_hint(token))
    return token


def _copy_paste_hint(token: str) -> str:
    # Only on the failure path: names the mistake, never any part of the token.
    if token[:7].lower() == "bearer ":
        return "the Authorization header says 'Bearer' twice: send 'Bearer <token>'"
    if token[0] in "\"'":
        return "the bearer token is wrapped in quotes: send it without them"
    if "," in token:
        # Servers join repeated headers with ", ": two Authorization headers look so.
        return "the Authorization header holds several values (two headers joined?)"
    return "the bearer token contains whitespace: send it as one word"


def single_header(values: Iterable[str]) -> str | None:
    """The one ``Authorization`` header of a request, or None when there is none.

    Raises ``MalformedTokenError`` for two or more: a proxy may have checked one while
    the app reads the other, so the request is refused rather than guessed.
    """
    found = list(values)
    if len(found) > 1:
        raise MalformedTokenError("the request has more than one Authorization header")
    return found[0] if found else None


#: Browsers cannot set headers on a WebSocket handshake; they can offer subprotocols.
#: A client sends ``Sec-WebSocket-Protocol: bearer.<token>, <real protocol>``.
WEBSOCKET_TOKEN_PREFIX = "bearer."


def websocket_bearer(authorization: str | None, subprotocols: Iterable[str] = ()) -> str:
    """The token of a WebSocket handshake: the ``Authorization`` header, else a
    ``bearer.<token>`` subprotocol.

    A query parameter is deliberately not supported: servers and proxies log URLs,
    and a token in an access log is a stolen session. Raises ``MissingTokenError``.
    """
    if authorization:
        return bearer_token(authorization)
    for protocol in subprotocols:
        if protocol[: len(WEBSOCKET_TOKEN_PREFIX)].lower() == WEBSOCKET_TOKEN_PREFIX:
            token = protocol[len(WEBSOCKET_TOKEN_PREFIX) :].strip()
            if token:
                return token
    raise MissingTokenError("the WebSocket handshake has no bearer token")


@dataclass(frozen=True)
class Refusal:
    """What to answer for a refused request: status, headers and a small JSON body."""

    status: int
    headers: dict[str, str]
    code: str

    @property
    def body(self) -> dict[str, str]:
        return {"error": self.code, "message": _DESCRIPTIONS.get(self.status, "")}

    @property
    def json(self) -> bytes:
        return json.dumps(self.body).encode("utf-8")


#: On every refusal: the answer depends on the Authorization header, so no shared
#: cache may store it and hand it to another caller (RFC 6750 s5.3 / RFC 9111).
NO_STORE = {"Cache-Control": "no-store"}


def scope_challenge(scopes: Iterable[str]) -> str:
    """``Bearer error="insufficient_scope", scope="a b"`` (RFC 6750 s3): the scopes
    that would have been accepted, space-separated; without ``scope`` when none can be
    named safely."""
    named = " ".join(s for s in scopes if s and _SCOPE_CHARS.issuperset(s))
    base = 'Bearer error="insufficient_scope"'
    return f'{base}, scope="{named}"' if named else base


def refusal(exc: CognitoVerifyError) -> Refusal:
    """Map an error of this library to its HTTP answer (see docs/errors.md).

    Every refusal carries ``Cache-Control: no-store``. A status 500 (a configuration
    error reached while answering a request) is logged at ERROR on the
    ``cognito_verify`` logger with its message; the client learns only the code.
    """
    if isinstance(exc, MissingTokenError):
        # RFC 6750 s3.1: a request with no credentials gets no error code.
        return Refusal(401, {"WWW-Authenticate": "Bearer", **NO_STORE}, exc.code)
    if isinstance(exc, InsufficientUserAuthenticationError):
        # RFC 9470 s3: the step-up challenge; the client signs the user in again
        # (e.g. with the hosted UI's max_age / prompt=login) and retries.
        challenge = (
            'Bearer error="insufficient_user_authentication", '
            'error_description="A more recent authentication is required"'
        )
        if exc.max_age is not None:
            challenge += f", max_age={int(exc.max_age)}"
        return Refusal(401, {"WWW-Authenticate": challenge, **NO_STORE}, exc.code)
    if isinstance(exc, InvalidTokenError):
        return Refusal(
            401, {"WWW-Authenticate": 'Bearer error="invalid_token"', **NO_STORE}, exc.code
        )
    if isinstance(exc, MissingScopeError):
        challenge = scope_challenge(getattr(exc, "scopes", ()))
        return Refusal(403, {"WWW-Authenticate": challenge, **NO_STORE}, exc.code)
    if isinstance(exc, ForbiddenError):
        return Refusal(403, dict(NO_STORE), exc.code)
    if isinstance(exc, JWKSError | RevocationCheckError):
        return Refusal(503, {"Retry-After": "5", **NO_STORE}, exc.code)
    _log.error("cognito_verify cannot answer the request (500): %s", exc.message)
    return Refusal(500, dict(NO_STORE), exc.code)


class ExcludedPaths:
    """The paths a middleware leaves alone (health checks): one rule for ASGI and WSGI.

    An entry ``"/health"`` matches that path, with or without a trailing slash; an
    entry ending in ``/`` (``"/static/"``) matches itself and every path below it.
    Only a request path in normal form can match: one with a dot segment (``.``,
    ``..``) or an empty one (``//``) is never excluded, whatever it normalises to.
    Routers differ on such paths (Starlette and werkzeug keep ``"/files/../health"``
    as it is and hand it to ``/files/{name:path}``), so judging it by either its raw
    or its collapsed form could let it reach a protected view without a token.

    Raises:
        TypeError: ``paths`` is one string rather than a list of paths.
        ValueError: an entry does not start with ``/``.
    """

    __slots__ = ("_exact", "_prefixes")

    def __init__(self, paths: Iterable[str]) -> None:
        if isinstance(paths, str | bytes):
            raise TypeError("exclude_paths must be a list of paths, not one string")
        entries = tuple(paths)
        for entry in entries:
            if not isinstance(entry, str) or not entry.startswith("/"):
                raise ValueError(f"exclude_paths entries must start with '/': {entry!r}")
        self._exact = frozenset(_normal(p) for p in entries if not p.endswith("/"))
        self._prefixes = tuple(_normal(p).rstrip("/") + "/" for p in entries if p.endswith("/"))

    def __bool__(self) -> bool:
        return bool(self._exact or self._prefixes)

    def __call__(self, path: str) -> bool:
        """True when ``path`` (the decoded request path) skips authentication."""
        if not self:
            return False
        path = path or "/"
        segments = path.split("/")
        # segments[0] is the empty text before the leading "/"; one trailing "/" is
        # allowed ("/health/" is "/health"), any other empty or dot segment is not.
        if segments[0] or any(s in ("", ".", "..") for s in segments[1:-1]):
            return False
        if segments[-1] in (".", ".."):
            return False
        path = path[:-1] if len(path) > 1 and path.endswith("/") else path
        return path in self._exact or (path.rstrip("/") + "/").startswith(self._prefixes)


def _normal(path: str) -> str:
    return posixpath.normpath("/" + path.lstrip("/"))


def json_default(value: Any) -> Any:
    """A JSON encoder's ``default`` hook for claims: ``Claims`` -> ``to_dict()``, the
    sets of ``groups`` / ``scopes`` -> sorted lists, nested read-only mappings ->
    dicts. Returns ``NotImplemented`` for anything else, so a caller can chain."""
    if isinstance(value, Claims):
        return value.to_dict()
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    if isinstance(value, Mapping):
        return dict(value)
    return NotImplemented


def optional_flag(optional: bool, require: bool | None) -> bool:
    """``optional=`` of a middleware, accepting the deprecated ``require=`` spelling.

    Raises:
        TypeError: both are given and disagree, or either is not a bool.
    """
    if not isinstance(optional, bool):
        raise TypeError(f"optional must be True or False, got {optional!r}")
    if require is None:
        return optional
    if not isinstance(require, bool):
        raise TypeError(f"require must be True or False, got {require!r}")
    warnings.warn(
        "require= is deprecated: write optional=True for require=False",
        DeprecationWarning,
        stacklevel=3,
    )
    if optional and require:
        raise TypeError("optional=True and require=True contradict each other")
    return not require


# --- where the token is read from -----------------------------------------------------

#: All values of one request header, by lower-case name (an adapter's view of a request).
HeaderValues = Callable[[str], Sequence[str]]

# RFC 9110 token characters: what a header or cookie name may be made of.
_TOKEN_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# RFC 9110 s9.2.1: methods a cross-site page may trigger without the user's intent
# having any effect. Everything else changes state and gets the cookie CSRF rule.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
DEFAULT_CSRF_HEADER = "x-requested-with"


@dataclass(frozen=True)
class TokenSource:
    """Where a request carries its Cognito token. Build one with a class method:

    * ``TokenSource.bearer()``: ``Authorization: Bearer <token>`` (the default);
    * ``TokenSource.header("x-amzn-oidc-accesstoken")``: the whole value of a header,
      no scheme (what an Application Load Balancer forwards);
    * ``TokenSource.cookie("access_token")``: a cookie, for same-site browser apps.

    A cookie is sent by the browser on requests other sites trigger, so a cookie token
    on an unsafe method (anything but GET, HEAD, OPTIONS, TRACE) or a WebSocket
    handshake is refused with ``CrossSiteRequestError`` (403) unless the request shows
    it comes from the app itself: ``Sec-Fetch-Site: same-origin``, an ``Origin`` in
    ``trusted_origins``, or the ``csrf_header`` (``X-Requested-With`` by default; a
    cross-site form cannot set a header, and a cross-site script needs a CORS preflight
    that the app would have to allow). ``csrf_protection=False`` turns this off for
    apps that have their own CSRF tokens. See docs/alb.md, "Cookies and CSRF".
    """

    kind: Literal["bearer", "header", "cookie"]
    name: str  # the header (lower case) or cookie name
    trusted_origins: frozenset[str] = frozenset()
    csrf_header: str | None = DEFAULT_CSRF_HEADER
    csrf_protection: bool = True

    @classmethod
    def bearer(cls) -> TokenSource:
        return cls("bearer", "authorization")

    @classmethod
    def header(cls, name: str) -> TokenSource:
        """The token is the whole value of header ``name`` (no ``Bearer`` prefix)."""
        name = _name(name, "header name")
        if name == "authorization":
            raise ConfigurationError(
                "the Authorization header carries a scheme: use TokenSource.bearer()"
            )
        if name == "cookie":
            raise ConfigurationError("use TokenSource.cookie(name) for a cookie")
        return cls("header", name)

    @classmethod
    def cookie(
        cls,
        name: str,
        *,
        trusted_origins: Iterable[str] = (),
        csrf_header: str | None = DEFAULT_CSRF_HEADER,
        csrf_protection: bool = True,
    ) -> TokenSource:
        """The token is the value of cookie ``name`` (see the class doc for CSRF)."""
        if isinstance(trusted_origins, str):
            raise ConfigurationError("trusted_origins must be a list of origins")
        origins = frozenset(_origin(origin) for origin in trusted_origins)
        header = _name(csrf_header, "csrf_header").lower() if csrf_header is not None else None
        if not isinstance(name, str) or not _TOKEN_NAME.fullmatch(name):
            raise ConfigurationError(f"cookie name {name!r} is not a valid cookie name")
        return cls("cookie", name, origins, header, bool(csrf_protection))

    def __repr__(self) -> str:
        if self.kind == "bearer":
            return "TokenSource.bearer()"
        return f"TokenSource.{self.kind}({self.name!r})"

    def read(self, headers: HeaderValues) -> str | None:
        """This source's token in a request, or None when the request has none.

        Raises ``MalformedTokenError`` for two headers or two cookies of the name (a
        proxy may have checked one while the app reads the other) and
        ``MissingTokenError`` for an ``Authorization`` header of another scheme.
        """
        if self.kind == "cookie":
            return _cookie(headers("cookie"), self.name)
        found = list(headers(self.name))
        if len(found) > 1:
            raise MalformedTokenError(f"the request has more than one {self.name} header")
        value = found[0] if found else None
        if value is None:
            return None
        if self.kind == "bearer":
            return bearer_token(value)
        value = value.strip()
        if not value:
            raise MissingTokenError(f"the {self.name} header is empty")
        return value

    def check_origin(self, method: str, headers: HeaderValues) -> None:
        """The cookie CSRF rule for a request whose token came from this source.

        Raises:
            CrossSiteRequestError: an unsafe method (or ``"WEBSOCKET"``) without any
                sign that the request comes from the app's own pages.
        """
        if self.kind != "cookie" or not self.csrf_protection or method.upper() in SAFE_METHODS:
            return
        if [v.strip().lower() for v in headers("sec-fetch-site")] == ["same-origin"]:
            return
        origins = headers("origin")
        if len(origins) == 1 and origins[0].strip() in self.trusted_origins:
            return
        if self.csrf_header is not None and headers(self.csrf_header):
            return
        raise CrossSiteRequestError(
            f"a {method.upper()} request authenticated by the {self.name!r} cookie carries no "
            "proof of coming from this site (Sec-Fetch-Site: same-origin, a trusted Origin, "
            f"or the {self.csrf_header or 'CSRF'} header)"
        )


def _origin(origin: object) -> str:
    """A configured origin as a browser serialises it in ``Origin`` (RFC 6454 s6.2):
    scheme and host in lower case, no default port."""
    if not isinstance(origin, str) or not re.fullmatch(r"https?://[^/?#\s]+", origin, re.I):
        raise ConfigurationError(f"trusted origin {origin!r} must be scheme://host[:port], no path")
    origin = origin.lower()
    for scheme, port in (("https://", ":443"), ("http://", ":80")):
        if origin.startswith(scheme) and origin.endswith(port):
            return origin.removesuffix(port)
    return origin


def _name(value: object, what: str) -> str:
    if not isinstance(value, str) or not _TOKEN_NAME.fullmatch(value):
        raise ConfigurationError(f"{what} {value!r} is not a valid HTTP header name")
    return value.lower()


def _cookie(values: Sequence[str], name: str) -> str | None:
    found: list[str] = []
    for header in values:
        for pair in header.split(";"):
            key, eq, value = pair.strip().partition("=")
            if eq and key.strip() == name:
                value = value.strip()
                if len(value) >= 2 and value[0] == value[-1] == '"':
                    value = value[1:-1]
                found.append(value)
    if len(found) > 1:
        # Two cookies of one name (a parent domain's and the app's): which one the
        # browser meant is ambiguous, and a sibling subdomain can plant one.
        raise MalformedTokenError(f"the request has more than one {name!r} cookie")
    return found[0] or None if found else None


def token_sources(value: object) -> tuple[TokenSource, ...]:
    """Normalise an adapter's ``token_source=`` (one source or a list of them)."""
    if value is None:
        return (TokenSource.bearer(),)
    items = (value,) if isinstance(value, TokenSource) else value
    if not isinstance(items, Sequence) or isinstance(items, str) or not items:
        raise ConfigurationError("token_source must be a TokenSource or a non-empty list of them")
    if not all(isinstance(s, TokenSource) for s in items):
        raise ConfigurationError(
            "token_source must be built with TokenSource.bearer(), .header(name) or .cookie(name)"
        )
    return tuple(items)


def find_token(
    sources: Sequence[TokenSource], headers: HeaderValues, method: str = "GET"
) -> tuple[str, TokenSource]:
    """The token of the first source (in the given order) the request carries.

    Raises:
        MissingTokenError: no source has a token.
        MalformedTokenError: a duplicated header or cookie.
        CrossSiteRequestError: a cookie token on an unsafe method without proof of origin.
    """
    first: MissingTokenError | None = None
    for source in sources:
        try:
            token = source.read(headers)
        except MissingTokenError as exc:
            # An Authorization header of another scheme (Basic, in front of a staging
            # site) or an empty header is no token here; the next source may hold one.
            first = first or exc
            continue
        if token is not None:
            source.check_origin(method, headers)
            return token, source
    if first is not None and len(sources) == 1:
        raise first
    where = ", ".join(repr(s) for s in sources)
    raise MissingTokenError(f"the request has no token (looked in {where})")


# --- the whole check of a request -----------------------------------------------------

#: The header of the load balancer's signed user claims.
ALB_DATA_HEADER = "x-amzn-oidc-data"
#: The header of the Cognito access token a load balancer forwards (no scheme).
ALB_ACCESS_TOKEN_HEADER = "x-amzn-oidc-accesstoken"
#: The load balancer's session cookie (its default name; AWS shards it as -0, -1, ...).
ALB_SESSION_COOKIE = "AWSELBAuthSessionCookie"


class Credentials(NamedTuple):
    """What an accepted request proved: ``claims`` (the Cognito token's, or the load
    balancer's when only an ``AlbVerifier`` is configured) and ``alb_claims``."""

    claims: Claims | None
    alb_claims: Claims | None


_ANONYMOUS = Credentials(None, None)


def requirements(
    groups: Any, all_groups: Any, scopes: Any, all_scopes: Any, max_auth_age: Any
) -> dict[str, Any]:
    """A route's requirements as the keywords of ``verify`` / ``authenticate``,
    checked now: a bad value is a programming error, found at decoration or import,
    never per request.

    Raises:
        TypeError: a group or scope is not a string or a list of strings, or
            ``max_auth_age`` is not a number of seconds.
    """
    from ..verifier import CognitoVerifier

    CognitoVerifier._extra(groups, all_groups, scopes, all_scopes, max_auth_age)
    return {
        "groups": groups,
        "all_groups": all_groups,
        "scopes": scopes,
        "all_scopes": all_scopes,
        "max_auth_age": max_auth_age,
    }


def _needs(
    groups: Any, all_groups: Any, scopes: Any, all_scopes: Any, max_auth_age: Any
) -> dict[str, Any]:
    given = {
        "groups": groups,
        "all_groups": all_groups,
        "scopes": scopes,
        "all_scopes": all_scopes,
        "max_auth_age": max_auth_age,
    }
    return {k: v for k, v in given.items() if v is not None}


class Authenticator:
    """Finds and verifies a request's credentials; each adapter only adapts its
    request type to ``(method, headers)`` and the answer to its framework.

    Args:
        verifier: the ``CognitoVerifier`` for the token found by ``token_source``;
            may be None when ``alb`` is given.
        alb: an ``AlbVerifier``: ``x-amzn-oidc-data`` is then required and verified
            too, and with a ``verifier`` both must name the same user (``sub``).
        token_source: one ``TokenSource`` or a list, tried in order. Default:
            ``Authorization: Bearer``, or ``x-amzn-oidc-accesstoken`` when ``alb`` is given.
    """

    def __init__(
        self,
        verifier: CognitoVerifier | None,
        *,
        alb: AlbVerifier | None = None,
        token_source: object = None,
    ) -> None:
        from ..verifier import CognitoVerifier

        if verifier is not None and not isinstance(verifier, CognitoVerifier):
            raise TypeError("verifier must be a CognitoVerifier")
        if alb is not None:
            from ..alb import AlbVerifier  # only then: a Lambda cold start pays nothing

            if not isinstance(alb, AlbVerifier):
                raise TypeError("alb must be an AlbVerifier")
        if verifier is None and alb is None:
            raise TypeError("a CognitoVerifier, an AlbVerifier, or both are needed")
        if token_source is None and alb is not None:
            token_source = TokenSource.header(ALB_ACCESS_TOKEN_HEADER)
        self.verifier = verifier
        self.alb = alb
        self.sources = token_sources(token_source)
        # The load balancer's headers ride on its session cookie: the cookie rule.
        self._alb_session: TokenSource | None = None
        if alb is not None and alb.csrf_protection:
            self._alb_session = TokenSource.cookie(
                ALB_SESSION_COOKIE,
                trusted_origins=alb.trusted_origins,
                csrf_header=alb.csrf_header,
            )

    def needs_app_csrf(self, headers: HeaderValues) -> bool:
        """True when the request carries a credential the browser attaches by itself
        (a cookie source's cookie, or a load balancer's headers) whose cross-site rule
        is turned off (``csrf_protection=False``): the app's own CSRF check must run.

        Raises:
            MalformedTokenError: two cookies of a source's name, or two headers.
        """
        if (
            self.alb is not None
            and self._alb_session is None
            and single_header(headers(ALB_DATA_HEADER)) is not None
        ):
            return True
        return any(
            s.kind == "cookie" and not s.csrf_protection and s.read(headers) is not None
            for s in self.sources
        )

    def validate(self, requirements: dict[str, Any]) -> None:
        """Fail now (a programming error) for bad group/scope requirements."""
        from ..verifier import CognitoVerifier

        CognitoVerifier._extra(**requirements)

    def _tokens(
        self, method: str, headers: HeaderValues, optional: bool
    ) -> tuple[str | None, str | None] | None:
        """(cognito token, alb data token), or None for an allowed anonymous request."""
        data = None
        if self.alb is not None:
            data = single_header(headers(ALB_DATA_HEADER))
            if data is not None and self._alb_session is not None:
                self._alb_session.check_origin(method, headers)
        token = None
        if self.verifier is not None:
            try:
                token = find_token(self.sources, headers, method)[0]
            except MissingTokenError:
                if not optional or data is not None:
                    raise
        if self.alb is not None and data is None:
            if optional and token is None:
                return None
            raise MissingTokenError(f"the request has no {ALB_DATA_HEADER} header")
        if token is None and data is None:
            return None
        return token, data

    def _combine(self, claims: Claims | None, alb_claims: Claims | None, needs: Any) -> Credentials:
        if (
            claims is not None
            and alb_claims is not None
            and claims.get("sub") != alb_claims.get("sub")
        ):
            # Both are genuine, but of two different users: never mix them.
            raise InvalidClaimError(
                "the access token and the load balancer's claims name different users"
            )
        if claims is None:
            claims = alb_claims
            if needs and claims is not None:
                from .._token import Requirements, authorize

                if "max_auth_age" in needs:
                    # Never silently skipped: the load balancer's claims carry no
                    # auth_time, only the Cognito access token can prove a fresh sign-in.
                    raise ConfigurationError(
                        "max_auth_age needs a CognitoVerifier next to the AlbVerifier"
                    )
                authorize(claims.groups, claims.scopes, Requirements.build(**needs))
        return Credentials(claims, alb_claims)

    def authenticate(
        self,
        method: str,
        headers: HeaderValues,
        *,
        optional: bool = False,
        groups: Any = None,
        all_groups: Any = None,
        scopes: Any = None,
        all_scopes: Any = None,
        max_auth_age: Any = None,
    ) -> Credentials:
        """Verify the request (sync). ``needs``: groups / all_groups / scopes / all_scopes.

        Raises:
            CognitoVerifyError: the refusal to answer (see ``refusal``).
        """
        found = self._tokens(method, headers, optional)
        if found is None:
            return _ANONYMOUS
        token, data = found
        needs = _needs(groups, all_groups, scopes, all_scopes, max_auth_age)
        alb_claims = self.alb.verify(data) if self.alb is not None and data is not None else None
        claims = None
        if self.verifier is not None and token is not None:
            claims = self.verifier.verify(token, **needs)
        return self._combine(claims, alb_claims, needs)

    async def aauthenticate(
        self,
        method: str,
        headers: HeaderValues,
        *,
        optional: bool = False,
        groups: Any = None,
        all_groups: Any = None,
        scopes: Any = None,
        all_scopes: Any = None,
        max_auth_age: Any = None,
    ) -> Credentials:
        """Async twin of :meth:`authenticate`."""
        found = self._tokens(method, headers, optional)
        if found is None:
            return _ANONYMOUS
        token, data = found
        needs = _needs(groups, all_groups, scopes, all_scopes, max_auth_age)
        alb_claims = None
        if self.alb is not None and data is not None:
            alb_claims = await self.alb.averify(data)
        claims = None
        if self.verifier is not None and token is not None:
            claims = await self.verifier.averify(token, **needs)
        return self._combine(claims, alb_claims, needs)
