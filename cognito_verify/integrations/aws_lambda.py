"""AWS Lambda: protect proxy handlers and write Lambda authorizers with Cognito tokens.

    from cognito_verify import CognitoVerifier
    from cognito_verify.integrations.aws_lambda import LambdaAuth, claims_from_event

    verifier = CognitoVerifier("eu-west-1_AbCdEf123", client_id="...", token_use="access")
    auth = LambdaAuth(verifier)                        # module scope: reused while warm

    @auth.required(scopes="orders-api/orders.read")
    def handler(event, context):
        return {"statusCode": 200, "body": auth.current_claims.username}

    rest_authorizer = auth.rest_authorizer()           # API Gateway REST TOKEN / REQUEST
    http_authorizer = auth.http_authorizer()           # HTTP API, payload 2.0
    appsync_authorizer = auth.appsync_authorizer()     # AppSync AWS_LAMBDA authorization

Proxy events of every shape are recognised from the event itself: API Gateway REST
(payload 1.0), HTTP API (payload 2.0), Application Load Balancer (single- or
multi-value headers) and Lambda Function URLs; refusals are answered in that event's
own response format. Only the standard library and this package are imported, so
nothing here adds to a cold start beyond the verifier itself. See docs/aws-lambda.md.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import json
import math
import re
import threading
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast, overload

from .. import _token
from ..claims import Claims
from ..errors import (
    CognitoVerifyError,
    ConfigurationError,
    CrossSiteRequestError,
    ForbiddenError,
    InvalidClaimError,
    InvalidTokenError,
    InvalidTokenUseError,
    MalformedTokenError,
    MissingTokenError,
)
from ..verifier import CognitoVerifier
from ._http import (
    Authenticator,
    Credentials,
    HeaderValues,
    TokenSource,
    bearer_token,
    find_token,
    optional_flag,
    refusal,
    requirements,
)

if TYPE_CHECKING:
    import asyncio

    from ..alb import AlbVerifier

__all__ = [
    "LambdaAuth",
    "Unauthorized",
    "claims_from_event",
    "event_shape",
    "scalar_context",
]

Event = Mapping[str, Any]
Handler = Callable[[Any, Any], Any]
F = TypeVar("F", bound=Callable[..., Any])
Groups = str | Sequence[str] | None
Shape = Literal["rest", "http", "alb", "function_url"]
ContextHook = Callable[[Claims], Mapping[str, Any]]
Scalar = str | int | float | bool


class Unauthorized(InvalidTokenError):
    """Raised by the API Gateway authorizers for a missing or bad token.

    Its message is exactly ``Unauthorized``: the one error message API Gateway turns
    into a 401 answer (any other error becomes a 500). ``error`` is the library error
    behind it, for logs and metrics (its code is this error's ``code`` too).
    """

    def __init__(self, error: InvalidTokenError) -> None:
        super().__init__("Unauthorized", code=error.code)
        self.error = error


# --- reading events ------------------------------------------------------------------


def event_shape(event: Event) -> Shape:
    """Which proxy integration sent ``event``.

    ``"alb"`` (``requestContext.elb``), ``"function_url"`` (payload 2.0 from a
    ``*.lambda-url.*.on.aws`` domain), ``"http"`` (payload ``version`` ``"2.0"``), else
    ``"rest"`` (payload 1.0, also used by HTTP APIs set to 1.0). AWS documents the
    formats in the API Gateway and ELB developer guides ("Lambda proxy integrations",
    "Lambda functions as targets").
    """
    context = event.get("requestContext")
    context = context if isinstance(context, Mapping) else {}
    if isinstance(context.get("elb"), Mapping):
        return "alb"
    if event.get("version") == "2.0":
        domain = context.get("domainName")
        if isinstance(domain, str) and ".lambda-url." in domain:
            return "function_url"
        return "http"
    return "rest"


def _raw_values(event: Event, name: str) -> list[str]:
    """Every value of header ``name`` (any case) in a proxy or authorizer event."""
    wanted = name.lower()
    multi = event.get("multiValueHeaders")
    single = event.get("headers")
    many: list[str] = []
    if isinstance(multi, Mapping):
        for key, values in multi.items():
            if isinstance(key, str) and key.lower() == wanted:
                items = values if isinstance(values, list) else [values]
                many.extend(v for v in items if isinstance(v, str))
    one: list[str] = []
    if isinstance(single, Mapping):
        for key, value in single.items():
            if isinstance(key, str) and key.lower() == wanted and isinstance(value, str):
                one.append(value)
    if not many:
        return one
    # API Gateway copies the last value of each header into `headers`; a value found
    # only there means the two maps disagree, and guessing which one a proxy in front
    # checked is how a token gets smuggled past it.
    if any(value not in many for value in one):
        raise MalformedTokenError(f"the event's headers and multiValueHeaders disagree on {name}")
    return many


def _header_values(event: Event, name: str) -> list[str]:
    """Every value of header ``name``, repeated headers joined by commas split apart."""
    # Payload 2.0 (HTTP API, Function URL) joins repeated headers with a comma, and a
    # comma never belongs in a token: split, so two headers count as two.
    return [part for value in _raw_values(event, name) for part in value.split(",")]


def _headers(event: Event) -> HeaderValues:
    """The event's headers as the token sources read them (``cookie`` from payload
    2.0's ``cookies`` list too)."""

    def values(name: str) -> list[str]:
        if name == "cookie":
            found = _raw_values(event, "cookie")
            cookies = event.get("cookies")
            if isinstance(cookies, list):
                found += [c for c in cookies if isinstance(c, str)]
            return found
        return _header_values(event, name)

    return values


def _method(event: Event) -> str:
    """The request method; ``UNKNOWN`` (an unsafe method for the cookie rule) if absent."""
    method = event.get("httpMethod")
    if not isinstance(method, str):
        context = event.get("requestContext")
        http = context.get("http") if isinstance(context, Mapping) else None
        method = http.get("method") if isinstance(http, Mapping) else None
    return method.upper() if isinstance(method, str) and method else "UNKNOWN"


def _response(event: Event, exc: CognitoVerifyError) -> dict[str, Any]:
    """The refusal of ``exc`` in the response format of ``event``'s integration."""
    answer = refusal(exc)
    headers = {
        "Content-Type": "application/json",
        "Cache-Control": "no-store",
        **answer.headers,
    }
    response: dict[str, Any] = {
        "statusCode": answer.status,
        "body": answer.json.decode("utf-8"),
        "isBase64Encoded": False,
    }
    if event_shape(event) == "alb":
        # The ALB needs the status line text, and reads only multiValueHeaders when
        # the target group has multi-value headers on (the event then has no headers).
        response["statusDescription"] = f"{answer.status} {HTTPStatus(answer.status).phrase}"
        if isinstance(event.get("multiValueHeaders"), Mapping) and "headers" not in event:
            response["multiValueHeaders"] = {k: [v] for k, v in headers.items()}
            return response
    response["headers"] = headers
    return response


# --- authorizer helpers --------------------------------------------------------------

_EXECUTE_API_ARN = re.compile(
    r"arn:(?P<partition>aws[a-z-]*):execute-api:(?P<region>[a-z0-9-]+):(?P<account>[0-9]+):"
    r"(?P<api>[A-Za-z0-9]+)/(?P<stage>[^/]+)/.*",
    re.DOTALL,
)


def _policy_resource(arn: object, resource: Literal["stage", "method"]) -> str:
    if not isinstance(arn, str) or (match := _EXECUTE_API_ARN.fullmatch(arn)) is None:
        raise ConfigurationError(
            "the authorizer event has no valid methodArn/routeArn "
            "(arn:aws:execute-api:<region>:<account>:<api id>/<stage>/...): is this "
            "function configured as an API Gateway Lambda authorizer?"
        )
    if resource == "method":
        return arn
    return (
        f"arn:{match['partition']}:execute-api:{match['region']}:{match['account']}:"
        f"{match['api']}/{match['stage']}/*"
    )


def _policy(principal: str, effect: str, resource: str) -> dict[str, Any]:
    return {
        "principalId": principal,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}],
        },
    }


def _scalar(value: Any) -> Scalar | None:
    if value is None:
        return None
    if isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    # Lists and objects (cognito:groups, identities, JSON-valued custom claims) become
    # compact JSON text: lossless, and json.loads gives them back.
    return json.dumps(_plain(value), separators=(",", ":"), ensure_ascii=False, default=str)


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    return value


_SPACE_LISTS = frozenset({"cognito:groups", "cognito:roles"})


def scalar_context(values: Mapping[str, Any]) -> dict[str, Scalar]:
    """``values`` with every value a string, number or boolean, as authorizer contexts need.

    API Gateway answers 500 when a Lambda authorizer's ``context`` holds a list or an
    object ("Output from Lambda authorizers", API Gateway developer guide). Strings,
    integers, finite floats and booleans are kept; ``None`` values are dropped;
    ``cognito:groups`` and ``cognito:roles`` become space-separated strings
    (``"admin editors"``, like ``scope``, which stays as the token has it); other lists
    and objects (``identities``, JSON custom claims) become compact JSON text
    (``'[{"providerName":"Google"}]'``), which ``json.loads`` reads back.
    """
    out: dict[str, Scalar] = {}
    for key, value in values.items():
        if key in _SPACE_LISTS and isinstance(value, list | tuple | frozenset | set):
            # Group names and role ARNs never hold whitespace (Cognito's name pattern),
            # so one space-separated string is lossless and reads like `scope`.
            if all(isinstance(v, str) for v in value):
                out[key] = " ".join(sorted(value) if isinstance(value, set | frozenset) else value)
                continue
        flat = _scalar(value)
        if flat is not None:
            out[str(key)] = flat
    return out


def _string_context(values: Mapping[str, Any]) -> dict[str, str]:
    """AppSync's ``resolverContext``: string values only (booleans as ``true``/``false``)."""
    return {
        key: value if isinstance(value, str) else json.dumps(value)
        for key, value in scalar_context(values).items()
    }


# --- the event loop for async handlers --------------------------------------------------

_loops = threading.local()


def _run(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run ``coro`` to completion on this thread's own event loop, kept across calls.

    Lambda calls handlers synchronously and runs one invocation at a time per execution
    environment. One loop per thread, reused while the environment stays warm, keeps
    loop-bound objects built in an earlier invocation (an ``httpx.AsyncClient`` passed
    to the verifier, database pools) usable; ``asyncio.run`` would close the loop under
    them after every invocation.
    """
    import asyncio  # here: sync handlers never pay for importing asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        coro.close()
        raise RuntimeError(
            "an async handler wrapped by LambdaAuth.required is a plain function for the "
            "Lambda runtime; it cannot be called from inside a running event loop"
        )
    loop: asyncio.AbstractEventLoop | None = getattr(_loops, "loop", None)
    if loop is None or loop.is_closed():
        loop = asyncio.new_event_loop()
        _loops.loop = loop
    return loop.run_until_complete(coro)


# --- LambdaAuth ----------------------------------------------------------------------


class LambdaAuth:
    """Protects Lambda handlers and builds Lambda authorizers for one verifier.

    Build it at module scope, next to the verifier, so both live as long as the
    execution environment and keys are fetched once per cold start, not per call.

    Args:
        verifier: the ``CognitoVerifier`` that checks every token; may be None for
            proxy handlers behind an ALB when ``alb`` is given.
        alb: an ``AlbVerifier``: proxy handlers then also require and verify the load
            balancer's ``x-amzn-oidc-data`` header (and read the access token from
            ``x-amzn-oidc-accesstoken`` unless ``token_source`` says otherwise); both
            must name the same user. See docs/alb.md.
        token_source: where proxy and authorizer events carry the token: a
            ``TokenSource`` or a list tried in order (``TokenSource.bearer()``, the
            default; ``.header(name)``; ``.cookie(name)``, which payload 2.0 events
            carry in ``cookies``). See docs/aws-lambda.md for cookies and authorizers.

    Raises:
        TypeError: a verifier of the wrong type, or neither verifier.
        ConfigurationError: an invalid ``token_source``.
    """

    def __init__(
        self,
        verifier: CognitoVerifier | None = None,
        *,
        alb: AlbVerifier | None = None,
        token_source: TokenSource | Sequence[TokenSource] | None = None,
    ) -> None:
        self._authenticator = Authenticator(verifier, alb=alb, token_source=token_source)
        self.verifier = verifier
        self.alb = alb
        self._claims: contextvars.ContextVar[Credentials | None] = contextvars.ContextVar(
            "cognito_verify.lambda.credentials", default=None
        )

    def __repr__(self) -> str:
        return f"<LambdaAuth {self.verifier or self.alb!r}>"

    @property
    def current_claims(self) -> Claims | None:
        """The verified claims of the invocation being handled; ``None`` when it is
        anonymous (``optional=True``) or outside a handler wrapped by ``required``.
        (Behind an ALB with only an ``AlbVerifier``: the load balancer's claims.)

        Held in a context variable that is reset when the handler returns or raises,
        so claims never leak into the next invocation of a warm environment. Threads
        the handler starts do not see it (pass the claims to them).
        """
        found = self._claims.get()
        return found.claims if found is not None else None

    @property
    def current_alb_claims(self) -> Claims | None:
        """The verified ``x-amzn-oidc-data`` claims of this invocation (with ``alb``)."""
        found = self._claims.get()
        return found.alb_claims if found is not None else None

    # --- proxy handlers --------------------------------------------------------------

    def _credentials(self, event: object, options: Mapping[str, Any]) -> Credentials:
        if not isinstance(event, Mapping):
            raise MissingTokenError("the event is not an HTTP event (not a JSON object)")
        needs = dict(options)
        optional = bool(needs.pop("optional", False))
        return self._authenticator.authenticate(
            _method(event), _headers(event), optional=optional, **needs
        )

    async def _acredentials(self, event: object, options: Mapping[str, Any]) -> Credentials:
        if not isinstance(event, Mapping):
            raise MissingTokenError("the event is not an HTTP event (not a JSON object)")
        needs = dict(options)
        optional = bool(needs.pop("optional", False))
        return await self._authenticator.aauthenticate(
            _method(event), _headers(event), optional=optional, **needs
        )

    def authenticate(
        self,
        event: Event,
        *,
        groups: Groups = None,
        all_groups: Groups = None,
        scopes: Groups = None,
        all_scopes: Groups = None,
        max_auth_age: float | None = None,
        optional: bool = False,
    ) -> Claims | None:
        """Verify the token of a proxy ``event`` and return its claims.

        ``None`` when the event has no token and ``optional`` is true.

        Raises:
            InvalidTokenError: no token (unless ``optional``), or a bad one -> 401.
            ForbiddenError: a group or scope requirement is not met -> 403.
            JWKSError: the pool's keys cannot be fetched and none are cached -> 503.
        """
        options = requirements(groups, all_groups, scopes, all_scopes, max_auth_age)
        options["optional"] = optional_flag(optional, None)
        return self._credentials(event, options).claims

    async def aauthenticate(
        self,
        event: Event,
        *,
        groups: Groups = None,
        all_groups: Groups = None,
        scopes: Groups = None,
        all_scopes: Groups = None,
        max_auth_age: float | None = None,
        optional: bool = False,
    ) -> Claims | None:
        """Async twin of :meth:`authenticate` (keys are fetched with ``averify``)."""
        options = requirements(groups, all_groups, scopes, all_scopes, max_auth_age)
        options["optional"] = optional_flag(optional, None)
        return (await self._acredentials(event, options)).claims

    @overload
    def required(self, handler: F) -> F: ...

    @overload
    def required(
        self,
        handler: None = None,
        *,
        groups: Groups = None,
        all_groups: Groups = None,
        scopes: Groups = None,
        all_scopes: Groups = None,
        max_auth_age: float | None = None,
        optional: bool = False,
    ) -> Callable[[F], F]: ...

    def required(
        self,
        handler: F | None = None,
        *,
        groups: Groups = None,
        all_groups: Groups = None,
        scopes: Groups = None,
        all_scopes: Groups = None,
        max_auth_age: float | None = None,
        optional: bool = False,
    ) -> F | Callable[[F], F]:
        """Wrap a proxy handler ``(event, context)`` so it runs only for an accepted token.

        ``groups`` / ``scopes``: at least one of them; ``all_groups`` / ``all_scopes``:
        every one of them, on top of the verifier's own requirements; ``max_auth_age``:
        seconds since the user signed in (``auth_time``), older sign-ins are refused
        401 ``insufficient_user_authentication`` (RFC 9470 step-up). With
        ``optional=True`` an event without a token reaches the handler with
        ``current_claims`` ``None``; a bad token is still refused. Refusals are returned
        (not raised) as the event's own response format: status 401/403/503, a
        ``WWW-Authenticate`` header where RFC 6750 wants one, ``Cache-Control:
        no-store`` and a small JSON body (docs/errors.md); ALB answers add
        ``statusDescription`` and use ``multiValueHeaders`` when the event did.

        An ``async def`` handler is verified with ``averify`` and returned as a plain
        function that runs it on an event loop kept for the life of the execution
        environment (Lambda only calls plain functions). Usable bare
        (``@auth.required``) or called (``@auth.required(groups="admin")``).

        Raises:
            TypeError: a requirement value is not a string or a list of strings.
        """
        # Bad requirement values are a programming error: fail at import (decoration).
        options = requirements(groups, all_groups, scopes, all_scopes, max_auth_age)
        options["optional"] = optional_flag(optional, None)

        def decorate(fn: F) -> F:
            if inspect.iscoroutinefunction(fn):

                async def invoke(event: Any, context: Any) -> Any:
                    try:
                        found = await self._acredentials(event, options)
                    except CognitoVerifyError as exc:
                        return _response(event if isinstance(event, Mapping) else {}, exc)
                    reset = self._claims.set(found)
                    try:
                        return await fn(event, context)
                    finally:
                        self._claims.reset(reset)

                @functools.wraps(fn)
                def run_async(event: Any, context: Any) -> Any:
                    return _run(invoke(event, context))

                return cast(F, run_async)

            @functools.wraps(fn)
            def wrapper(event: Any, context: Any) -> Any:
                try:
                    found = self._credentials(event, options)
                except CognitoVerifyError as exc:
                    return _response(event if isinstance(event, Mapping) else {}, exc)
                reset = self._claims.set(found)
                try:
                    return fn(event, context)
                finally:
                    self._claims.reset(reset)

            return cast(F, wrapper)

        if handler is not None:
            return decorate(handler)
        return decorate

    # --- authorizers -----------------------------------------------------------------

    def _authorizer_verifier(self) -> CognitoVerifier:
        if self.verifier is None:
            raise ConfigurationError(
                "Lambda authorizers verify Cognito tokens: give LambdaAuth a CognitoVerifier"
            )
        return self.verifier

    def _request_token(self, event: Event) -> str:
        """The token of a REQUEST authorizer event, from the configured token sources."""
        return find_token(self._authenticator.sources, _headers(event), _method(event))[0]

    def _token_event_token(self, event: Event) -> str:
        """The token of a TOKEN event: the identity-source header's value, read as the
        first header source reads it (``Bearer <token>`` by default)."""
        value = event.get("authorizationToken")
        source = next((s for s in self._authenticator.sources if s.kind != "cookie"), None)
        if source is None:
            raise MissingTokenError("a TOKEN authorizer event carries a header, not a cookie")

        def view(wanted: str) -> list[str]:
            return [value] if isinstance(value, str) and wanted == source.name else []

        return find_token([source], view, "GET")[0]

    def _decide(
        self, token_of: Callable[[], str], requirements: Mapping[str, Any]
    ) -> tuple[Claims, ForbiddenError | None]:
        """The verified claims and, when a requirement is not met, the ``ForbiddenError``.

        Raises ``Unauthorized`` for a missing or bad token; ``JWKSError`` goes through,
        and so does ``CrossSiteRequestError`` (a cookie token without proof of origin),
        which must not be cached as a Deny of that cookie.
        """
        verifier = self._authorizer_verifier()
        try:
            token = token_of()
            return verifier.verify(token, **requirements), None
        except InvalidTokenError as exc:
            raise Unauthorized(exc) from exc
        except ForbiddenError as exc:
            if isinstance(exc, CrossSiteRequestError):
                raise
            # Authorization is the last step of verify: a ForbiddenError from it means
            # the signature and every claim check passed, so this payload is the
            # verified one (needed for the Deny's principalId and context).
            parsed = _token.parse(token, getattr(verifier, "_max_length", len(token)))
            return Claims(parsed.payload), exc

    def rest_authorizer(
        self,
        *,
        groups: Groups = None,
        all_groups: Groups = None,
        scopes: Groups = None,
        all_scopes: Groups = None,
        max_auth_age: float | None = None,
        resource: Literal["stage", "method"] = "stage",
        context: ContextHook | None = None,
    ) -> Handler:
        """An API Gateway REST API Lambda authorizer (``TOKEN`` or ``REQUEST`` type).

        Returns ``handler(event, context)`` answering an IAM policy: ``principalId`` is
        the token's ``sub``; ``Allow`` for an accepted token; an explicit ``Deny`` (403)
        when a group or scope requirement is not met; ``context`` holds the claims
        (or ``context(claims)``) flattened to scalars by :func:`scalar_context`, plus
        ``error`` (the error code) on a Deny, readable as
        ``$context.authorizer.error`` in gateway responses.

        A missing or bad token raises :class:`Unauthorized` (API Gateway answers 401).
        When the pool's keys cannot be fetched, ``JWKSError`` is raised unchanged:
        API Gateway answers 500 (gateway response ``AUTHORIZER_FAILURE``) and, unlike a
        returned Deny, caches nothing, so the caller is not locked out for the cache TTL.

        Args:
            resource: ``"stage"`` (default) allows or denies every method and path of
                the API stage in ``methodArn`` (``arn:...:<api>/<stage>/*``): API Gateway
                caches a policy per token and applies it to other methods of the API, so
                a policy naming only the first method would refuse the next one with
                403. This is exact because the decision depends only on the token and
                this authorizer's requirements, not on the route. ``"method"`` names
                only ``methodArn``: use it only with caching off (TTL 0) or with the
                method and path among the identity sources.
            context: builds the context from the claims instead of using every claim.

        Raises:
            Unauthorized: no token, or a token that is not acceptable.
            JWKSError: keys unavailable (500, not cached).
            ConfigurationError: the event is not a REST TOKEN/REQUEST authorizer event.
        """
        wanted = requirements(groups, all_groups, scopes, all_scopes, max_auth_age)
        self._authorizer_verifier()  # fail when the authorizer is built, not per event

        def handler(event: Any, _context: Any = None) -> dict[str, Any]:
            event = _mapping(event)
            kind = event.get("type")
            if kind == "TOKEN":

                def token_of() -> str:
                    return self._token_event_token(event)

            elif kind == "REQUEST":

                def token_of() -> str:
                    return self._request_token(event)

            else:
                raise ConfigurationError(
                    f"not a REST API authorizer event (type {kind!r}; TOKEN or REQUEST expected)"
                )
            arn = _policy_resource(event.get("methodArn"), resource)
            claims, denied = self._decide(token_of, wanted)
            values = scalar_context(context(claims) if context else claims)
            if denied is not None:
                answer = _policy(claims.sub, "Deny", arn)
                answer["context"] = {**values, "error": denied.code}
                return answer
            answer = _policy(claims.sub, "Allow", arn)
            answer["context"] = values
            return answer

        return handler

    def http_authorizer(
        self,
        *,
        groups: Groups = None,
        all_groups: Groups = None,
        scopes: Groups = None,
        all_scopes: Groups = None,
        max_auth_age: float | None = None,
        simple_response: bool = True,
        resource: Literal["stage", "method"] = "stage",
        context: ContextHook | None = None,
    ) -> Handler:
        """An HTTP API Lambda authorizer for payload format 2.0.

        Returns ``handler(event, context)``. With ``simple_response=True`` (the
        authorizer's "enable simple responses" setting) it answers
        ``{"isAuthorized": true, "context": {...}}``, or ``isAuthorized: false`` (403)
        when a group or scope requirement is not met; with ``simple_response=False`` it
        answers the IAM policy form, as :meth:`rest_authorizer` does, for ``routeArn``.
        The token is read from the ``Authorization`` header (identity source
        ``$request.header.Authorization``); repeated headers are refused.

        A missing or bad token raises :class:`Unauthorized` (401); ``JWKSError`` is
        raised unchanged (500, nothing cached). ``context`` as in :meth:`rest_authorizer`.

        Raises:
            Unauthorized: no token, or a token that is not acceptable.
            JWKSError: keys unavailable (500, not cached).
            ConfigurationError: IAM form and the event has no valid ``routeArn``.
        """
        wanted = requirements(groups, all_groups, scopes, all_scopes, max_auth_age)
        self._authorizer_verifier()  # fail when the authorizer is built, not per event

        def handler(event: Any, _context: Any = None) -> dict[str, Any]:
            event = _mapping(event)
            arn = None
            if not simple_response:
                arn = _policy_resource(event.get("routeArn") or event.get("methodArn"), resource)
            claims, denied = self._decide(lambda: self._request_token(event), wanted)
            values = scalar_context(context(claims) if context else claims)
            allowed = denied is None
            if denied is not None:
                values = {**values, "error": denied.code}
            if arn is None:
                return {"isAuthorized": allowed, "context": values}
            answer = _policy(claims.sub, "Allow" if allowed else "Deny", arn)
            answer["context"] = values
            return answer

        return handler

    def appsync_authorizer(
        self,
        *,
        groups: Groups = None,
        all_groups: Groups = None,
        scopes: Groups = None,
        all_scopes: Groups = None,
        max_auth_age: float | None = None,
        result_ttl: int = 300,
        context: ContextHook | None = None,
        denied_fields: Callable[[Claims, Event], Sequence[str]] | None = None,
    ) -> Handler:
        """An AppSync ``AWS_LAMBDA`` authorizer.

        Returns ``handler(event, context)`` answering ``isAuthorized``,
        ``resolverContext`` (the claims, or ``context(claims)``, with string values:
        lists and objects as JSON text, booleans as ``true``/``false``) and
        ``ttlOverride``: the seconds AppSync may cache this answer, ``result_ttl`` (set
        it to the API's ``authorizerResultTtlInSeconds``; 0 disables caching; AppSync
        allows at most 3600) but never past the token's ``exp``, nor past the moment
        the sign-in grows older than ``max_auth_age`` (this authorizer's or the
        verifier's, the stricter). ``deniedFields`` is
        ``denied_fields(claims, event)`` when given, else absent.

        The token is the ``Authorization`` header value AppSync passes as
        ``authorizationToken``, with or without a ``Bearer`` prefix. A missing or bad
        token, or an unmet group/scope requirement, answers ``isAuthorized: false``
        with ``ttlOverride`` 0. ``JWKSError`` is raised: AppSync refuses the request
        and caches nothing.

        Raises:
            JWKSError: keys unavailable.
            ConfigurationError: ``result_ttl`` is not an int in 0..3600.
        """
        wanted = requirements(groups, all_groups, scopes, all_scopes, max_auth_age)
        self._authorizer_verifier()  # fail when the authorizer is built, not per event
        if isinstance(result_ttl, bool) or not isinstance(result_ttl, int):
            raise ConfigurationError("result_ttl must be an int of seconds (0..3600)")
        if not 0 <= result_ttl <= 3600:
            raise ConfigurationError("result_ttl must be between 0 and 3600 seconds")
        clock: Callable[[], float] = getattr(self.verifier, "_clock", time.time)
        own = getattr(self.verifier, "_requirements", None)
        needs = _token.Requirements.build(groups, all_groups, scopes, all_scopes, max_auth_age)
        max_age = (own.merged(needs) if own is not None else needs).max_auth_age

        def token_of(event: Event) -> str:
            value = event.get("authorizationToken")
            if isinstance(value, str) and " " not in value.strip():
                value = f"Bearer {value}"  # AppSync clients usually send the bare token
            return bearer_token(value if isinstance(value, str) else None)

        def handler(event: Any, _context: Any = None) -> dict[str, Any]:
            event = _mapping(event)
            try:
                claims, denied = self._decide(lambda: token_of(event), wanted)
            except Unauthorized:
                return {"isAuthorized": False, "ttlOverride": 0}
            if denied is not None:
                return {"isAuthorized": False, "ttlOverride": 0}
            now = clock()
            remaining = math.floor(claims.expires_at - now)
            if max_age is not None:
                # A cached answer must not outlive the step-up rule it was decided
                # under: AppSync would reuse it after the sign-in grew too old.
                signed_in = _token.numeric_claim(claims._data, "auth_time", True)
                assert signed_in is not None  # verify refused a token without it
                remaining = min(remaining, math.floor(signed_in + max_age - now))
            answer: dict[str, Any] = {
                "isAuthorized": True,
                "resolverContext": _string_context(context(claims) if context else claims),
                "ttlOverride": max(0, min(result_ttl, remaining)),
            }
            if denied_fields is not None:
                answer["deniedFields"] = list(denied_fields(claims, event))
            return answer

        return handler


def _mapping(event: object) -> Event:
    if not isinstance(event, Mapping):
        raise ConfigurationError("the authorizer event is not a JSON object")
    return event


# --- claims verified upstream ----------------------------------------------------------

# Claims that API Gateway stringifies and that Cognito writes as other JSON types.
_NUMBERS = frozenset({"exp", "iat", "auth_time", "nbf", "version", "updated_at"})
_BOOLEANS = frozenset({"email_verified", "phone_number_verified"})
_LISTS = frozenset({"cognito:groups", "cognito:roles"})
_MONTHS = {m: i for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}
# How the REST API Cognito authorizer writes exp and iat: "Tue Jun 18 15:00:04 UTC 2024".
_DATE = re.compile(
    r"[A-Z][a-z]{2} (?P<mon>[A-Z][a-z]{2}) +(?P<day>\d{1,2}) "
    r"(?P<h>\d{2}):(?P<m>\d{2}):(?P<s>\d{2}) (?:UTC|GMT) (?P<year>\d{4})"
)


def _number(name: str, value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"-?[0-9]{1,18}", text):
            return int(text)
        if re.fullmatch(r"-?[0-9]{1,18}\.[0-9]{1,9}", text):
            return float(text)
        if (date := _DATE.fullmatch(text)) and date["mon"] in _MONTHS:
            import calendar
            import datetime

            try:
                moment = datetime.datetime(
                    int(date["year"]),
                    _MONTHS[date["mon"]],
                    int(date["day"]),
                    int(date["h"]),
                    int(date["m"]),
                    int(date["s"]),
                )
            except ValueError:
                pass
            else:
                return calendar.timegm(moment.timetuple())
    raise InvalidClaimError(f"the authorizer's claim {name} is not a number or a date")


def _list(value: Any) -> list[str]:
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    if not isinstance(value, str):
        return [str(value)]
    text = value.strip()
    # HTTP API (payload 2.0) writes arrays as "[a b c]"; the REST API's Cognito
    # authorizer joins several values with commas ("admin,editors").
    if text.startswith("[") and text.endswith("]"):
        return text[1:-1].split()
    return [part for part in text.split(",") if part]


def _typed(name: str, value: Any) -> Any:
    if name in _NUMBERS:
        return _number(name, value)
    if name in _BOOLEANS and isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if name in _LISTS:
        return _list(value)
    return value


def claims_from_event(event: Event, token_use: Literal["id", "access"] | None = None) -> Claims:
    """Read the claims an API Gateway authorizer put in ``event``; this does NOT verify them.

    Only safe in a handler that API Gateway invokes behind a Cognito user pool
    authorizer (REST API, payload 1.0: ``requestContext.authorizer.claims``) or a JWT
    authorizer (HTTP API, payload 2.0: ``requestContext.authorizer.jwt.claims`` and
    ``.scopes``): the authorizer checked the token, this only reads its result. A
    function reachable any other way (a Function URL, a direct invoke, an ALB) must
    use ``LambdaAuth.required`` instead.

    API Gateway writes every claim as a string; they are turned back into Cognito's
    types: ``exp``, ``iat``, ``auth_time``, ``nbf`` and ``version`` as integers (the
    REST authorizer's dates, ``"Tue Jun 18 15:00:04 UTC 2024"``, too),
    ``email_verified`` / ``phone_number_verified`` as booleans, ``cognito:groups`` as a
    list (from ``"[a b]"`` or ``"a,b"``, so group names with spaces or commas cannot
    round-trip) and ``scope`` from the JWT authorizer's ``scopes``. Other claims
    (``custom:*`` included) stay strings.

    Args:
        event: the proxy event.
        token_use: ``"id"`` or ``"access"`` to require that token type; the HTTP API
            JWT authorizer accepts both, as it checks only ``aud`` or ``client_id``.

    Raises:
        MissingTokenError: the event carries no authorizer claims.
        InvalidClaimError: a number claim cannot be read, or ``sub`` is missing.
        InvalidTokenUseError: ``token_use`` was given and the claims have another.
    """
    context = event.get("requestContext") if isinstance(event, Mapping) else None
    authorizer = context.get("authorizer") if isinstance(context, Mapping) else None
    raw: Any = None
    scopes: Any = None
    if isinstance(authorizer, Mapping):
        jwt = authorizer.get("jwt")
        if isinstance(jwt, Mapping) and isinstance(jwt.get("claims"), Mapping):
            raw, scopes = jwt["claims"], jwt.get("scopes")
        elif isinstance(authorizer.get("claims"), Mapping):
            raw = authorizer["claims"]
    if raw is None:
        raise MissingTokenError(
            "the event has no requestContext.authorizer.claims (REST API Cognito "
            "authorizer) nor requestContext.authorizer.jwt.claims (HTTP API JWT "
            "authorizer): claims_from_event is only for handlers behind one of them"
        )
    payload = {str(name): _typed(str(name), value) for name, value in raw.items()}
    if isinstance(scopes, list) and scopes:
        payload["scope"] = " ".join(str(s) for s in scopes)
    elif isinstance(payload.get("scope"), str) and payload["scope"].startswith("["):
        payload["scope"] = " ".join(_list(payload["scope"]))
    if not isinstance(payload.get("sub"), str):
        raise InvalidClaimError("the authorizer's claims have no sub")
    if token_use is not None and payload.get("token_use") != token_use:
        raise InvalidTokenUseError(
            f"token_use is {payload.get('token_use')!r}, {token_use!r} was required"
        )
    return Claims(payload)
