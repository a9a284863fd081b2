"""The peers, each set up and called the way its documentation shows.

Every factory takes the same ``Setup`` (pool, app client, the JWKS and a loopback
URL serving it) and returns a ``Contender``: a function verifying one ID token and
returning its claims, sync or async. A peer that cannot be imported or cannot run
offline raises ``Unavailable`` with the reason, which the report prints instead
of a number. How each one gets the keys is in ``Contender.keys``.
"""

from __future__ import annotations

import importlib.metadata
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any


class Unavailable(Exception):
    """The peer cannot be measured here; the message says why."""


@dataclass(frozen=True)
class Setup:
    user_pool_id: str
    region: str
    client_id: str
    issuer: str
    jwks: dict[str, Any]
    jwks_url: str


@dataclass
class Contender:
    name: str
    package: str
    call: Callable[[str], Any] | Callable[[str], Awaitable[Any]]
    is_async: bool = False
    keys: str = ""
    note: str = ""

    @property
    def version(self) -> str:
        try:
            return importlib.metadata.version(self.package)
        except importlib.metadata.PackageNotFoundError:
            return "?"


def _check_use(claims: dict[str, Any]) -> dict[str, Any]:
    if claims.get("token_use") != "id":
        raise ValueError("token_use is not id")
    return claims


def pyjwt(s: Setup) -> Contender:
    try:
        import jwt
    except ImportError as exc:
        raise Unavailable(f"pyjwt is not installed ({exc})") from None
    client = jwt.PyJWKClient(s.jwks_url)

    def call(token: str) -> dict[str, Any]:
        key = client.get_signing_key_from_jwt(token)
        claims = jwt.decode(
            token,
            key.key,
            algorithms=["RS256"],
            audience=s.client_id,
            issuer=s.issuer,
            options={"require": ["exp", "iat", "iss", "aud", "sub"]},
        )
        return _check_use(claims)

    return Contender(
        "pyjwt", "PyJWT", call, keys="PyJWKClient on the loopback JWKS URL (its key cache on)"
    )


def python_jose(s: Setup) -> Contender:
    try:
        from jose import jwt
    except ImportError as exc:
        raise Unavailable(f"python-jose is not installed ({exc})") from None

    def call(token: str) -> dict[str, Any]:
        claims = jwt.decode(
            token, s.jwks, algorithms=["RS256"], audience=s.client_id, issuer=s.issuer
        )
        return _check_use(claims)

    return Contender(
        "python-jose", "python-jose", call, keys="the JWKS dict passed as key (fetched once)"
    )


def joserfc(s: Setup) -> Contender:
    try:
        from joserfc import jwt
        from joserfc.jwk import KeySet
    except ImportError as exc:
        raise Unavailable(f"joserfc is not installed ({exc})") from None
    keys = KeySet.import_key_set(s.jwks)
    registry = jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": s.issuer},
        aud={"essential": True, "value": s.client_id},
        exp={"essential": True},
        iat={"essential": True},
        token_use={"essential": True, "value": "id"},
    )

    def call(token: str) -> dict[str, Any]:
        decoded = jwt.decode(token, keys, algorithms=["RS256"])
        registry.validate(decoded.claims)
        return decoded.claims

    return Contender("joserfc", "joserfc", call, keys="KeySet.import_key_set(JWKS), once")


def cognitojwt(s: Setup) -> Contender:
    # Its documented override for the key location; otherwise it calls AWS.
    os.environ["AWS_COGNITO_JWKS_PATH"] = s.jwks_url
    try:
        import cognitojwt
        from cognitojwt import decode
    except ImportError as exc:
        raise Unavailable(f"cognitojwt (sync, needs requests) is not importable ({exc})") from None
    del cognitojwt

    def call(token: str) -> dict[str, Any]:
        return _check_use(decode(token, s.region, s.user_pool_id, app_client_id=s.client_id))

    return Contender(
        "cognitojwt",
        "cognitojwt",
        call,
        keys="AWS_COGNITO_JWKS_PATH = loopback URL (fetched once, lru_cache)",
        note="checks signature, exp and aud only: no iss, no iat",
    )


def fastapi_cognito(s: Setup) -> Contender:
    try:
        from fastapi_cognito.cognito_jwt.decode import decode_cognito_jwt
    except ImportError as exc:
        raise Unavailable(f"fastapi-cognito is not importable ({exc})") from None

    async def call(token: str) -> dict[str, Any]:
        claims = await decode_cognito_jwt(
            token=token,
            region=s.region,
            userpool_id=s.user_pool_id,
            app_client_id=s.client_id,
            jwks_url=s.jwks_url,
        )
        return _check_use(dict(claims))

    return Contender(
        "fastapi-cognito",
        "fastapi-cognito",
        call,
        is_async=True,
        keys="jwks_url setting = loopback URL (fetched once, alru_cache)",
        note="decode_cognito_jwt, what its CognitoAuth dependency calls; no iss check",
    )


def fastapi_cloudauth(s: Setup) -> Contender:
    try:
        from fastapi.security import HTTPAuthorizationCredentials
        from fastapi_cloudauth import cognito as cloudauth
    except ImportError as exc:
        raise Unavailable(f"fastapi-cloudauth is not importable ({exc})") from None
    # Its constructor fetches the JWKS from the AWS URL it builds; the same object is
    # built here with the loopback URL in its place, nothing else changed.
    real_jwks = cloudauth.JWKS
    cloudauth.JWKS = lambda url: real_jwks(url=s.jwks_url)  # type: ignore[assignment,misc]
    try:
        auth = cloudauth.CognitoCurrentUser(s.region, s.user_pool_id, s.client_id)
    finally:
        cloudauth.JWKS = real_jwks  # type: ignore[misc]

    async def call(token: str) -> Any:
        user = await auth(HTTPAuthorizationCredentials(scheme="Bearer", credentials=token))
        if user is None:
            raise ValueError("refused")
        return user

    return Contender(
        "fastapi-cloudauth",
        "fastapi-cloudauth",
        call,
        is_async=True,
        keys="CognitoCurrentUser built with its JWKS pointed at the loopback URL",
        note="the CognitoCurrentUser dependency, called as FastAPI would",
    )


def pycognito(s: Setup) -> Contender:
    import json

    # Its documented way to supply keys without a request to AWS.
    os.environ["COGNITO_JWKS"] = json.dumps(s.jwks)
    os.environ.setdefault("AWS_DEFAULT_REGION", s.region)
    try:
        from pycognito import Cognito
    except ImportError as exc:
        raise Unavailable(f"pycognito is not importable ({exc})") from None
    user = Cognito(s.user_pool_id, s.client_id, user_pool_region=s.region)

    def call(token: str) -> dict[str, Any]:
        user.id_token = token
        return dict(user.verify_token(token, "id_token", "id"))

    return Contender(
        "pycognito",
        "pycognito",
        call,
        keys="COGNITO_JWKS environment variable (the JWKS JSON)",
        note="Cognito(...).verify_token(token, 'id_token', 'id'); it does not check iat",
    )


FACTORIES = [pyjwt, python_jose, joserfc, cognitojwt, fastapi_cognito, fastapi_cloudauth, pycognito]
