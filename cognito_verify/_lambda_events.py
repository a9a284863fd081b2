"""Realistic AWS Lambda events carrying a token, for tests (``LocalUserPool.lambda_event``).

The field layout follows AWS's documented payloads and the public sample events of
aws-lambda-powertools (MIT-0): API Gateway REST (payload 1.0), HTTP API (2.0), ALB
(single- and multi-value headers), Function URL, the REST ``TOKEN``/``REQUEST`` and
HTTP API authorizer events, and AppSync's ``AWS_LAMBDA`` authorizer event.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
import uuid
from collections.abc import Mapping
from typing import Any

SHAPES = (
    "rest",
    "http",
    "alb",
    "alb_multi",
    "function_url",
    "rest_token_authorizer",
    "rest_request_authorizer",
    "http_authorizer",
    "appsync_authorizer",
)


def _payload(token: str) -> dict[str, Any]:
    """The payload of ``token`` without any check: only for building test events."""
    try:
        segment = token.split(".")[1]
        data = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (IndexError, ValueError, binascii.Error) as exc:
        raise ValueError("authorizer=True needs a JWT whose payload can be decoded") from exc
    if not isinstance(data, dict):
        raise ValueError("authorizer=True needs a JWT whose payload is a JSON object")
    return data


def _text(value: Any, array: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        items = [_text(v, array) for v in value]
        return f"[{' '.join(items)}]" if array == "brackets" else ",".join(items)
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _rest_date(seconds: Any) -> str:
    # How the REST API Cognito authorizer writes exp and iat.
    return time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime(int(seconds)))


def rest_authorizer_claims(payload: Mapping[str, Any]) -> dict[str, str]:
    """``payload`` as a REST API Cognito user pool authorizer writes it: all strings."""
    return {
        k: _rest_date(v) if k in ("exp", "iat") else _text(v, "commas") for k, v in payload.items()
    }


def jwt_authorizer(payload: Mapping[str, Any]) -> dict[str, Any]:
    """``payload`` as an HTTP API JWT authorizer writes it: string claims, a scope list."""
    scope = payload.get("scope")
    return {
        "claims": {k: _text(v, "brackets") for k, v in payload.items()},
        "scopes": scope.split() if isinstance(scope, str) else None,
    }


def _epoch_ms() -> int:
    return int(time.time() * 1000)


def _request_time() -> str:
    return time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime())


def event(
    shape: str,
    token: str | None = None,
    *,
    method: str = "GET",
    path: str = "/",
    headers: Mapping[str, str] | None = None,
    body: str | None = None,
    cookies: Mapping[str, str] | None = None,
    scheme: str | None = "Bearer",
    authorizer: bool = False,
    region: str = "eu-west-1",
    account: str = "123456789012",
    api_id: str = "a1b2c3d4e5",
    stage: str = "prod",
) -> dict[str, Any]:
    """A Lambda event of ``shape`` (one of ``SHAPES``) carrying ``token``.

    The token goes where that integration puts the ``Authorization`` header, as
    ``"{scheme} {token}"`` (``scheme=None``: the bare token); ``token=None`` leaves it
    out. ``cookies`` go in payload 2.0's ``cookies`` list, else in a ``Cookie`` header.
    ``authorizer=True`` (``rest`` and ``http`` only) adds the claims section an API
    Gateway Cognito / JWT authorizer writes for this token.

    Raises:
        ValueError: unknown shape, or ``authorizer=True`` with a shape or token that
            cannot have one.
    """
    if shape not in SHAPES:
        raise ValueError(f"unknown event shape {shape!r}; one of {', '.join(SHAPES)}")
    if authorizer and shape not in ("rest", "http"):
        raise ValueError("authorizer=True is for the rest and http shapes only")
    value = None if token is None else (f"{scheme} {token}" if scheme else token)
    method = method.upper()
    request_id = str(uuid.uuid4())
    domain = f"{api_id}.execute-api.{region}.amazonaws.com"
    extra = dict(headers or {})
    pairs = [f"{k}={v}" for k, v in (cookies or {}).items()]
    if pairs and shape not in ("http", "function_url", "http_authorizer"):
        extra["Cookie"] = "; ".join(pairs)
    arn = f"arn:aws:execute-api:{region}:{account}:{api_id}"

    if shape in ("rest", "rest_request_authorizer"):
        sent = {
            "Accept": "*/*",
            "Host": domain,
            "User-Agent": "cognito-verify-test",
            "X-Amzn-Trace-Id": f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]}",
            "X-Forwarded-For": "203.0.113.10",
            "X-Forwarded-Port": "443",
            "X-Forwarded-Proto": "https",
            **extra,
        }
        if value is not None:
            sent["Authorization"] = value
        context: dict[str, Any] = {
            "accountId": account,
            "apiId": api_id,
            "domainName": domain,
            "domainPrefix": api_id,
            "extendedRequestId": request_id[:16],
            "httpMethod": method,
            "identity": {"sourceIp": "203.0.113.10", "userAgent": "cognito-verify-test"},
            "path": f"/{stage}{path}",
            "protocol": "HTTP/1.1",
            "requestId": request_id,
            "requestTime": _request_time(),
            "requestTimeEpoch": _epoch_ms(),
            "resourceId": "abc123",
            "resourcePath": path,
            "stage": stage,
        }
        result: dict[str, Any] = {
            "resource": path,
            "path": path,
            "httpMethod": method,
            "headers": sent,
            "multiValueHeaders": {k: [v] for k, v in sent.items()},
            "queryStringParameters": None,
            "multiValueQueryStringParameters": None,
            "pathParameters": None,
            "stageVariables": None,
            "requestContext": context,
        }
        if shape == "rest_request_authorizer":
            result = {
                "type": "REQUEST",
                "methodArn": f"{arn}/{stage}/{method}{path}",
                **result,
            }
            return result
        result["version"] = "1.0"
        if authorizer and token is not None:
            context["authorizer"] = {"claims": rest_authorizer_claims(_payload(token))}
        result["body"] = body
        result["isBase64Encoded"] = False
        return result

    if shape == "rest_token_authorizer":
        return {
            "type": "TOKEN",
            "methodArn": f"{arn}/{stage}/{method}{path}",
            "authorizationToken": value,
        }

    if shape in ("http", "function_url", "http_authorizer"):
        if shape == "function_url":
            domain = f"{api_id}.lambda-url.{region}.on.aws"
        sent = {
            "accept": "*/*",
            "content-length": str(len(body or "")),
            "host": domain,
            "user-agent": "cognito-verify-test",
            "x-amzn-trace-id": f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]}",
            "x-forwarded-for": "203.0.113.10",
            "x-forwarded-port": "443",
            "x-forwarded-proto": "https",
            **{k.lower(): v for k, v in extra.items()},
        }
        if value is not None:
            sent["authorization"] = value
        route = "$default" if shape == "function_url" else f"{method} {path}"
        http_context: dict[str, Any] = {
            "accountId": "anonymous" if shape == "function_url" else account,
            "apiId": api_id,
            "domainName": domain,
            "domainPrefix": api_id,
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.10",
                "userAgent": "cognito-verify-test",
            },
            "requestId": request_id,
            "routeKey": route,
            "stage": "$default",
            "time": _request_time(),
            "timeEpoch": _epoch_ms(),
        }
        result = {
            "version": "2.0",
            "routeKey": route,
            "rawPath": path,
            "rawQueryString": "",
            **({"cookies": pairs} if pairs else {}),
            "headers": sent,
            "requestContext": http_context,
        }
        if shape == "http_authorizer":
            return {
                "version": "2.0",
                "type": "REQUEST",
                "routeArn": f"{arn}/$default/{method}{path}",
                "identitySource": [value] if value is not None else [],
                **result,
            }
        if authorizer and token is not None:
            http_context["authorizer"] = {"jwt": jwt_authorizer(_payload(token))}
        result["isBase64Encoded"] = False
        if body is not None:
            result["body"] = body
        return result

    if shape in ("alb", "alb_multi"):
        sent = {
            "accept": "*/*",
            "host": f"internal-web-1234567890.{region}.elb.amazonaws.com",
            "user-agent": "cognito-verify-test",
            "x-amzn-trace-id": f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]}",
            "x-forwarded-for": "203.0.113.10",
            "x-forwarded-port": "443",
            "x-forwarded-proto": "https",
            **{k.lower(): v for k, v in extra.items()},
        }
        if value is not None:
            sent["authorization"] = value
        result = {
            "requestContext": {
                "elb": {
                    "targetGroupArn": (
                        f"arn:aws:elasticloadbalancing:{region}:{account}:"
                        "targetgroup/web/0123456789abcdef"
                    )
                }
            },
            "httpMethod": method,
            "path": path,
            "body": body or "",
            "isBase64Encoded": False,
        }
        if shape == "alb":
            result["queryStringParameters"] = {}
            result["headers"] = sent
        else:
            result["multiValueQueryStringParameters"] = {}
            result["multiValueHeaders"] = {k: [v] for k, v in sent.items()}
        return result

    # appsync_authorizer
    return {
        "authorizationToken": value,
        "requestContext": {
            "apiId": api_id,
            "accountId": account,
            "requestId": request_id,
            "queryString": "query ListOrders {\n  listOrders {\n    id\n  }\n}\n",
            "operationName": "ListOrders",
            "variables": {},
        },
    }
