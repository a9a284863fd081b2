"""The public AWS sample events in ../shared/lambda-events, with a token put where the
integration carries it (see that folder's README)."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

# CI places shared/ beside the clone; a missing folder must fail, not skip.
EVENTS = Path(__file__).resolve().parents[1].parent / "shared" / "lambda-events"

PROXY = {
    "rest": "powertools-python/apiGatewayProxyEvent.json",
    "rest_cognito": "powertools-typescript/apigw-rest/jwt-authorizer-auth.json",
    "http": "powertools-python/apiGatewayProxyV2Event.json",
    "http_jwt": "powertools-typescript/apigw-http/jwt-authorizer-auth.json",
    "alb": "powertools-python/albEvent.json",
    "alb_multi": "powertools-python/albMultiValueHeadersEvent.json",
    "function_url": "powertools-python/lambdaFunctionUrlEvent.json",
}
# The response format each sample's integration expects.
FORMAT = {
    "rest": "rest",
    "rest_cognito": "rest",
    "http": "http",
    "http_jwt": "http",
    "alb": "alb",
    "alb_multi": "alb_multi",
    "function_url": "http",
}
REST_TOKEN = [
    "powertools-python/apiGatewayAuthorizerTokenEvent.json",
    "powertools-typescript/apigw-rest/authorizer-token.json",
]
REST_REQUEST = [
    "powertools-python/apiGatewayAuthorizerRequestEvent.json",
    "powertools-typescript/apigw-rest/authorizer-request.json",
]
HTTP_AUTHORIZER = [
    "powertools-python/apiGatewayAuthorizerV2Event.json",
    "powertools-typescript/apigw-http/authorizer-request.json",
]
APPSYNC = "powertools-python/appSyncAuthorizerEvent.json"


@cache
def _load(name: str) -> str:
    path = EVENTS / name
    assert path.is_file(), f"shared sample event missing: {path}"
    return path.read_text(encoding="utf-8")


def load(name: str) -> dict[str, Any]:
    data = json.loads(_load(name))
    assert isinstance(data, dict)
    return data


def _drop_authorization(headers: Any) -> None:
    if isinstance(headers, dict):
        for key in [k for k in headers if k.lower() == "authorization"]:
            del headers[key]


def with_authorization(event: dict[str, Any], value: str | list[str] | None) -> dict[str, Any]:
    """A copy of ``event`` whose Authorization header is ``value`` (None: no header; a
    list: the header sent that many times), written where and how that event's
    integration writes headers."""
    event = copy.deepcopy(event)
    single, multi = event.get("headers"), event.get("multiValueHeaders")
    _drop_authorization(single)
    _drop_authorization(multi)
    if value is None:
        return event
    values = [value] if isinstance(value, str) else list(value)
    # Payload 2.0 and ALB lower-case header names; REST keeps the client's case.
    behind_alb = "elb" in (event.get("requestContext") or {})
    name = "Authorization" if "httpMethod" in event and not behind_alb else "authorization"
    if isinstance(multi, dict):
        multi[name] = values
    if isinstance(single, dict):
        # Payload 2.0 joins repeated headers with commas; REST 1.0 and a single-value
        # ALB keep only the last one in `headers` (AWS's documented behaviour).
        single[name] = ",".join(values) if event.get("version") == "2.0" else values[-1]
    if "identitySource" in event:
        event["identitySource"] = [",".join(values)]
    return event


def proxy(shape: str, value: str | None) -> dict[str, Any]:
    return with_authorization(load(PROXY[shape]), value)
