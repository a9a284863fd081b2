"""The REST, HTTP API and AppSync Lambda authorizers, and claims_from_event, on the
public AWS sample events (../shared/lambda-events) with LocalUserPool tokens."""

from __future__ import annotations

import calendar
import copy
import json
import math
import re
from typing import Any

import pytest
from _adapter_matrix import bearer, make_verifier, unavailable_verifier
from _lambda_samples import APPSYNC, HTTP_AUTHORIZER, PROXY, REST_REQUEST, REST_TOKEN, load
from _lambda_samples import with_authorization as with_auth
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cognito_verify import (
    ConfigurationError,
    InvalidClaimError,
    InvalidTokenUseError,
    JWKSError,
    MissingTokenError,
)
from cognito_verify._token import CLAIM_TYPES
from cognito_verify.integrations.aws_lambda import (
    LambdaAuth,
    Unauthorized,
    claims_from_event,
    scalar_context,
)
from cognito_verify.testing import LocalUserPool

# A statement resource: arn:<partition>:execute-api:<region>:<account>:<api>/<stage>/<verb>/<path>
ARN = re.compile(r"arn:aws[a-z-]*:execute-api:[a-z0-9-]+:[0-9]+:[A-Za-z0-9]+/[^/]+/.+")


def check_policy(answer: dict[str, Any], effect: str, principal: str) -> list[str]:
    """An API Gateway authorizer IAM answer, checked field by field; its resources."""
    assert set(answer) == {"principalId", "policyDocument", "context"}
    assert answer["principalId"] == principal
    document = answer["policyDocument"]
    assert set(document) == {"Version", "Statement"}
    assert document["Version"] == "2012-10-17"
    statements = document["Statement"]
    assert isinstance(statements, list) and statements
    resources = []
    for statement in statements:
        assert set(statement) == {"Action", "Effect", "Resource"}
        assert statement["Action"] == "execute-api:Invoke"
        assert statement["Effect"] == effect
        assert ARN.fullmatch(statement["Resource"]), statement["Resource"]
        resources.append(statement["Resource"])
    check_scalars(answer["context"])
    json.dumps(answer)  # plain JSON all the way down
    return resources


def check_scalars(context: Any) -> None:
    assert isinstance(context, dict)
    for key, value in context.items():
        assert isinstance(key, str)
        assert type(value) in (str, int, float, bool), (key, value)
        if isinstance(value, float):
            assert math.isfinite(value)


def iam_matches(pattern: str, arn: str) -> bool:
    """IAM's resource match: ``*`` is any run of characters, ``?`` one character."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, arn) is not None


def token_event(name: str, value: str | None) -> dict[str, Any]:
    event = load(name)
    event["authorizationToken"] = value
    return event


def request_event(name: str, value: str | None) -> dict[str, Any]:
    return with_auth(load(name), value)


REST_EVENTS = [("token", n) for n in REST_TOKEN] + [("request", n) for n in REST_REQUEST]


def rest_event(kind: str, name: str, value: str | None) -> dict[str, Any]:
    return token_event(name, value) if kind == "token" else request_event(name, value)


BAD = {
    "missing": lambda p, c: None,
    "basic": lambda p, c: "Basic YTpi",
    "malformed": lambda p, c: "Bearer not-a-jwt",
    "expired": lambda p, c: (bearer(p.access_token()), c.advance(3601))[0],
    "other_client": lambda p, c: bearer(p.access_token(client_id="client-b")),
    "id_token": lambda p, c: bearer(p.id_token()),
    "sample_token": lambda p, c: "Bearer foo",
}
CODES = {
    "missing": "missing_token",
    "basic": "missing_token",
    "malformed": "malformed_token",
    "expired": "token_expired",
    "other_client": "invalid_client",
    "id_token": "invalid_token_use",
    "sample_token": "malformed_token",
}

# --- REST API ------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "name"), REST_EVENTS)
def test_rest_allow(kind: str, name: str, pool: LocalUserPool, clock: Any) -> None:
    auth = LambdaAuth(make_verifier(pool, clock))
    token = pool.access_token(groups=["admin", "ops"], claims={"custom:tier": "gold"})
    event = rest_event(kind, name, bearer(token))
    answer = auth.rest_authorizer(groups="admin")(event, None)
    claims = make_verifier(pool, clock).verify(token)
    [resource] = check_policy(answer, "Allow", claims.sub)
    api_stage = event["methodArn"].split("/")[0:2]
    assert resource == "/".join(api_stage) + "/*"
    assert iam_matches(resource, event["methodArn"])
    context = answer["context"]
    assert context["cognito:groups"] == "admin ops"
    assert context["scope"] == "aws.cognito.signin.user.admin"
    assert context["username"] == "alice" and context["exp"] == claims["exp"]
    assert context["custom:tier"] == "gold"


@pytest.mark.parametrize(("kind", "name"), REST_EVENTS)
@pytest.mark.parametrize("bad", list(BAD))
def test_rest_bad_token_is_exactly_unauthorized(
    bad: str, kind: str, name: str, pool: LocalUserPool, clock: Any
) -> None:
    auth = LambdaAuth(make_verifier(pool, clock))
    event = rest_event(kind, name, BAD[bad](pool, clock))
    with pytest.raises(Unauthorized) as raised:
        auth.rest_authorizer()(event, None)
    # API Gateway answers 401 only for this exact message (any other: 500).
    assert str(raised.value) == "Unauthorized"
    assert raised.value.code == CODES[bad]
    assert raised.value.error.code == CODES[bad]


@pytest.mark.parametrize(("kind", "name"), REST_EVENTS)
@pytest.mark.parametrize(
    ("requirement", "code"),
    [({"groups": "admin"}, "missing_group"), ({"scopes": "orders/write"}, "insufficient_scope")],
)
def test_rest_missing_group_or_scope_is_an_explicit_deny(
    requirement: dict[str, str], code: str, kind: str, name: str, pool: LocalUserPool, clock: Any
) -> None:
    auth = LambdaAuth(make_verifier(pool, clock))
    token = pool.access_token()
    answer = auth.rest_authorizer(**requirement)(rest_event(kind, name, bearer(token)), None)
    sub = make_verifier(pool, clock).verify(token).sub
    check_policy(answer, "Deny", sub)
    assert answer["context"]["error"] == code


def test_rest_verifier_level_requirement_denies_too(pool: LocalUserPool, clock: Any) -> None:
    verifier = pool.verifier(token_use="access", client_id="client-a", clock=clock, groups="staff")
    token = pool.access_token()
    answer = LambdaAuth(verifier).rest_authorizer()(token_event(REST_TOKEN[1], bearer(token)), None)
    check_policy(answer, "Deny", make_verifier(pool, clock).verify(token).sub)
    assert answer["context"]["error"] == "missing_group"


@pytest.mark.parametrize(("kind", "name"), REST_EVENTS)
def test_rest_jwks_down_is_not_a_cacheable_answer(
    kind: str, name: str, pool: LocalUserPool, clock: Any
) -> None:
    auth = LambdaAuth(unavailable_verifier(pool, clock))
    with pytest.raises(JWKSError) as raised:
        auth.rest_authorizer()(rest_event(kind, name, bearer(pool.access_token())), None)
    assert not isinstance(raised.value, Unauthorized)
    assert str(raised.value) != "Unauthorized"  # API Gateway: 500, nothing cached


def test_cached_policy_covers_every_route_of_the_stage(pool: LocalUserPool, clock: Any) -> None:
    auth = LambdaAuth(make_verifier(pool, clock))
    event = token_event(REST_TOKEN[1], bearer(pool.access_token()))
    answer = auth.rest_authorizer()(event, None)
    [resource] = check_policy(answer, "Allow", answer["principalId"])
    base = "arn:aws:execute-api:eu-west-1:123456789012"
    # The policy API Gateway caches for this token must serve the token's next calls...
    for other in ("prod/GET/orders", "prod/DELETE/orders/7", "prod/POST/"):
        assert iam_matches(resource, f"{base}:puhdx84jy9/{other}")
    # ...and nothing outside this API and stage.
    for foreign in ("puhdx84jy9/dev/GET/orders", "otherapi12/prod/GET/orders"):
        assert not iam_matches(resource, f"{base}:{foreign}")
    other_account = "arn:aws:execute-api:eu-west-1:999999999999:puhdx84jy9/prod/GET/x"
    assert not iam_matches(resource, other_account)
    # resource="method" names only the method called (for caching off).
    exact = auth.rest_authorizer(resource="method")(event, None)
    assert exact["policyDocument"]["Statement"][0]["Resource"] == event["methodArn"]


def test_rest_partitions_are_kept(pool: LocalUserPool, clock: Any) -> None:
    auth = LambdaAuth(make_verifier(pool, clock))
    event = token_event(REST_TOKEN[1], bearer(pool.access_token()))
    event["methodArn"] = "arn:aws-cn:execute-api:cn-north-1:123456789012:abc123/v1/GET/x"
    answer = auth.rest_authorizer()(event, None)
    assert answer["policyDocument"]["Statement"][0]["Resource"] == (
        "arn:aws-cn:execute-api:cn-north-1:123456789012:abc123/v1/*"
    )


@pytest.mark.parametrize(
    "change",
    [
        {"type": "OTHER"},
        {"type": None},
        {"methodArn": None},
        {"methodArn": "arn:aws:lambda:eu-west-1:123456789012:function:f"},
        {"methodArn": "*"},
    ],
)
def test_rest_event_that_is_not_an_authorizer_event(
    change: dict[str, Any], pool: LocalUserPool, clock: Any
) -> None:
    auth = LambdaAuth(make_verifier(pool, clock))
    event = token_event(REST_TOKEN[1], bearer(pool.access_token())) | change
    with pytest.raises(ConfigurationError):
        auth.rest_authorizer()(event, None)
    with pytest.raises(ConfigurationError):
        auth.rest_authorizer()(["not", "an", "event"], None)


def test_rest_request_duplicate_headers_are_unauthorized(pool: LocalUserPool, clock: Any) -> None:
    auth = LambdaAuth(make_verifier(pool, clock))
    good = bearer(pool.access_token())
    event = request_event(REST_REQUEST[1], good)
    event["multiValueHeaders"]["Authorization"].append(good)
    with pytest.raises(Unauthorized) as raised:
        auth.rest_authorizer()(event, None)
    assert raised.value.code == "malformed_token"


def test_rest_custom_context(pool: LocalUserPool, clock: Any) -> None:
    auth = LambdaAuth(make_verifier(pool, clock))
    handler = auth.rest_authorizer(
        context=lambda c: {"user": c.username, "groups": sorted(c.groups), "none": None}
    )
    answer = handler(token_event(REST_TOKEN[0], bearer(pool.access_token(groups=["a"]))), None)
    assert answer["context"] == {"user": "alice", "groups": '["a"]'}
    plain = auth.rest_authorizer()(token_event(REST_TOKEN[0], bearer(pool.access_token())), None)
    assert "cognito:groups" not in plain["context"]  # no groups: no key


# --- HTTP API ------------------------------------------------------------------------


@pytest.mark.parametrize("name", HTTP_AUTHORIZER)
def test_http_simple_response(name: str, pool: LocalUserPool, clock: Any) -> None:
    auth = LambdaAuth(make_verifier(pool, clock))
    token = pool.access_token(groups=["admin"])
    answer = auth.http_authorizer(groups="admin")(request_event(name, bearer(token)), None)
    assert set(answer) == {"isAuthorized", "context"}
    assert answer["isAuthorized"] is True
    check_scalars(answer["context"])
    assert answer["context"]["sub"] == make_verifier(pool, clock).verify(token).sub
    denied = auth.http_authorizer(groups="ops")(request_event(name, bearer(token)), None)
    assert denied["isAuthorized"] is False
    assert denied["context"]["error"] == "missing_group"


@pytest.mark.parametrize("name", HTTP_AUTHORIZER)
@pytest.mark.parametrize("bad", list(BAD))
def test_http_bad_token_is_unauthorized(
    bad: str, name: str, pool: LocalUserPool, clock: Any
) -> None:
    auth = LambdaAuth(make_verifier(pool, clock))
    for simple in (True, False):
        event = request_event(name, BAD[bad](pool, clock) if simple else None)
        with pytest.raises(Unauthorized, match="^Unauthorized$"):
            auth.http_authorizer(simple_response=simple)(event, None)


@pytest.mark.parametrize("name", HTTP_AUTHORIZER)
def test_http_iam_form(name: str, pool: LocalUserPool, clock: Any) -> None:
    auth = LambdaAuth(make_verifier(pool, clock))
    token = pool.access_token()
    event = request_event(name, bearer(token))
    sub = make_verifier(pool, clock).verify(token).sub
    [resource] = check_policy(
        auth.http_authorizer(simple_response=False)(event, None), "Allow", sub
    )
    assert resource == "/".join(event["routeArn"].split("/")[:2]) + "/*"
    assert iam_matches(resource, event["routeArn"])
    deny = auth.http_authorizer(simple_response=False, scopes="orders/write")(event, None)
    check_policy(deny, "Deny", sub)


@pytest.mark.parametrize("name", HTTP_AUTHORIZER)
def test_http_jwks_down_raises(name: str, pool: LocalUserPool, clock: Any) -> None:
    auth = LambdaAuth(unavailable_verifier(pool, clock))
    with pytest.raises(JWKSError):
        auth.http_authorizer()(request_event(name, bearer(pool.access_token())), None)


def test_http_comma_joined_headers_are_refused(pool: LocalUserPool, clock: Any) -> None:
    auth = LambdaAuth(make_verifier(pool, clock))
    good = bearer(pool.access_token())
    with pytest.raises(Unauthorized) as raised:
        auth.http_authorizer()(request_event(HTTP_AUTHORIZER[1], f"{good},{good}"), None)
    assert raised.value.code == "malformed_token"


# --- AppSync -------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["", "Bearer "])
def test_appsync_allow(scheme: str, pool: LocalUserPool, clock: Any) -> None:
    auth = LambdaAuth(make_verifier(pool, clock))
    token = pool.access_token(groups=["admin"], claims={"custom:ids": [1, 2], "flag": True})
    answer = auth.appsync_authorizer()(token_event(APPSYNC, scheme + token), None)
    assert set(answer) == {"isAuthorized", "resolverContext", "ttlOverride"}
    assert answer["isAuthorized"] is True
    context = answer["resolverContext"]
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in context.items())
    assert context["cognito:groups"] == "admin" and context["custom:ids"] == "[1,2]"
    assert context["flag"] == "true" and context["username"] == "alice"
    assert answer["ttlOverride"] == 300


def test_appsync_ttl_never_outlives_the_token(pool: LocalUserPool, clock: Any) -> None:
    auth = LambdaAuth(make_verifier(pool, clock))
    handler = auth.appsync_authorizer(result_ttl=3600)
    token = pool.access_token(lifetime=600)
    assert handler(token_event(APPSYNC, token), None)["ttlOverride"] == 600
    clock.advance(480.5)
    assert handler(token_event(APPSYNC, token), None)["ttlOverride"] == 119
    assert (
        auth.appsync_authorizer(result_ttl=60)(token_event(APPSYNC, token), None)["ttlOverride"]
        == 60
    )
    assert (
        auth.appsync_authorizer(result_ttl=0)(token_event(APPSYNC, token), None)["ttlOverride"] == 0
    )


@pytest.mark.parametrize("bad", list(BAD))
def test_appsync_refusals(bad: str, pool: LocalUserPool, clock: Any) -> None:
    auth = LambdaAuth(make_verifier(pool, clock))
    answer = auth.appsync_authorizer()(token_event(APPSYNC, BAD[bad](pool, clock)), None)
    assert answer == {"isAuthorized": False, "ttlOverride": 0}


def test_appsync_sample_token_and_forbidden(pool: LocalUserPool, clock: Any) -> None:
    auth = LambdaAuth(make_verifier(pool, clock))
    sample = load(APPSYNC)  # its authorizationToken is a UUID, not a JWT
    assert auth.appsync_authorizer()(sample, None) == {"isAuthorized": False, "ttlOverride": 0}
    event = token_event(APPSYNC, pool.access_token())
    assert auth.appsync_authorizer(scopes="orders/write")(event, None) == {
        "isAuthorized": False,
        "ttlOverride": 0,
    }


def test_appsync_denied_fields_and_errors(pool: LocalUserPool, clock: Any) -> None:
    auth = LambdaAuth(make_verifier(pool, clock))
    handler = auth.appsync_authorizer(
        denied_fields=lambda claims, event: (
            [] if "admin" in claims.groups else ["Mutation.deleteTask"]
        )
    )
    answer = handler(token_event(APPSYNC, pool.access_token()), None)
    assert answer["deniedFields"] == ["Mutation.deleteTask"]
    for ttl in (-1, 3601, 1.5, True):
        with pytest.raises(ConfigurationError):
            auth.appsync_authorizer(result_ttl=ttl)  # type: ignore[arg-type]
    down = LambdaAuth(unavailable_verifier(pool, clock)).appsync_authorizer()
    with pytest.raises(JWKSError):
        down(token_event(APPSYNC, pool.access_token()), None)


# --- scalar contexts for any claims ----------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
# What a token can carry: JSON has no infinities, and the claims the checks read stay.
FINITE_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
# Claims whose type the verifier checks (docs/claims.md): a custom value there is refused.
RESERVED = set(CLAIM_TYPES)


@given(st.dictionaries(st.text(min_size=1), JSON, max_size=8))
@settings(max_examples=200, deadline=None)
def test_scalar_context_for_any_claims(values: dict[str, Any]) -> None:
    context = scalar_context(values)
    check_scalars(context)
    for key, value in values.items():
        if value is None:
            assert key not in context
        elif key in ("cognito:groups", "cognito:roles") and all(isinstance(v, str) for v in value):
            assert context[key] == " ".join(value)
        elif isinstance(value, list | dict):
            assert json.loads(str(context[key])) == value  # lossless


@given(
    custom=st.dictionaries(
        st.text(min_size=1).filter(lambda k: k not in RESERVED | {"cognito:groups"}),
        FINITE_JSON,
        max_size=6,
    )
)
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_authorizer_contexts_are_scalar_for_any_custom_claims(
    custom: dict[str, Any], pool: LocalUserPool, clock: Any
) -> None:
    auth = LambdaAuth(make_verifier(pool, clock))
    token = pool.access_token(groups=["a,b", "ü/ops", "[x]"], claims=custom)
    rest = auth.rest_authorizer()(token_event(REST_TOKEN[0], bearer(token)), None)
    check_scalars(rest["context"])
    http = auth.http_authorizer()(request_event(HTTP_AUTHORIZER[0], bearer(token)), None)
    check_scalars(http["context"])
    appsync = auth.appsync_authorizer()(token_event(APPSYNC, token), None)
    assert all(type(v) is str for v in appsync["resolverContext"].values())


# --- claims_from_event -----------------------------------------------------------------


def test_claims_from_the_rest_cognito_authorizer_sample() -> None:
    claims = claims_from_event(load(PROXY["rest_cognito"]))
    assert claims.token_use == "id" and claims.username == "aamorosi"
    assert claims["exp"] == calendar.timegm((2024, 6, 18, 15, 0, 4))
    assert claims["iat"] == calendar.timegm((2024, 6, 17, 15, 0, 4))
    assert claims["auth_time"] == 1718636404
    assert claims.groups == frozenset() and claims.client_id == "3nkoep4151b7umeggnottc30u9"
    with pytest.raises(InvalidTokenUseError):
        claims_from_event(load(PROXY["rest_cognito"]), token_use="access")


def test_claims_from_the_http_jwt_authorizer_sample() -> None:
    claims = claims_from_event(load(PROXY["http_jwt"]), token_use="id")
    assert claims["exp"] == 1718722804 and claims["iat"] == 1718636404
    assert claims.sub == "d2f50444-0041-7036-aea2-a955fca33d37"
    assert claims.scopes == frozenset()


def test_claims_from_the_http_sample_with_scopes(pool: LocalUserPool) -> None:
    event = load(PROXY["http"])  # its claims are placeholders: no sub
    with pytest.raises(InvalidClaimError):
        claims_from_event(event)
    event["requestContext"]["authorizer"]["jwt"]["claims"] |= {
        "sub": "abc",
        "token_use": "access",
        "cognito:groups": "[admin editors]",
        "exp": "1718722804",
        "version": "2",
    }
    claims = claims_from_event(event, token_use="access")
    assert claims.scopes == frozenset({"scope1", "scope2"})  # from jwt.scopes
    assert claims.groups == frozenset({"admin", "editors"})
    assert claims["version"] == 2 and claims["claim1"] == "value1"


@pytest.mark.parametrize("shape", ["rest", "alb", "alb_multi", "function_url", "http_jwt"])
def test_claims_from_event_without_an_authorizer(shape: str) -> None:
    event = load(PROXY[shape])
    if shape == "http_jwt":
        del event["requestContext"]["authorizer"]
    with pytest.raises(MissingTokenError, match="authorizer"):
        claims_from_event(event)
    with pytest.raises(MissingTokenError):
        claims_from_event({})


@pytest.mark.parametrize("shape", ["rest", "http"])
@pytest.mark.parametrize("use", ["id", "access"])
def test_claims_from_event_round_trip(
    shape: str, use: str, pool: LocalUserPool, clock: Any
) -> None:
    """What API Gateway writes for a token reads back as that token's verified claims."""
    groups = ["admin", "editors"]
    token = (
        pool.id_token(groups=groups)
        if use == "id"
        else pool.access_token(groups=groups, scopes=["openid", "orders/read"])
    )
    verified = pool.verifier(token_use=use, clock=clock).verify(token)  # type: ignore[arg-type]
    claims = claims_from_event(pool.lambda_event(shape, token, authorizer=True), token_use=use)  # type: ignore[arg-type]
    assert claims.to_dict() == verified.to_dict()
    assert claims.groups == verified.groups and claims.scopes == verified.scopes


def test_claims_from_event_bad_numbers() -> None:
    event = copy.deepcopy(load(PROXY["rest_cognito"]))
    for bad in ("soon", "Tue Feb 30 15:00:04 UTC 2024", "", "1e9"):
        event["requestContext"]["authorizer"]["claims"]["exp"] = bad
        with pytest.raises(InvalidClaimError, match="exp"):
            claims_from_event(event)


def test_claims_from_event_says_it_does_not_verify() -> None:
    assert claims_from_event.__doc__ is not None
    assert "does NOT verify" in claims_from_event.__doc__.splitlines()[0]
