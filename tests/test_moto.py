"""End to end against moto's Cognito emulator, on 127.0.0.1, JWKS fetched over HTTP.

The classic lab flow: a pool with a password policy, an app client without secret,
sign-up, admin confirmation, a group, then USER_PASSWORD_AUTH. moto's tokens carry
the real AWS issuer form, so only the JWKS URL points at the emulator.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from cognito_verify import (
    Claims,
    CognitoVerifier,
    InvalidClientError,
    InvalidIssuerError,
    InvalidTokenUseError,
    MalformedTokenError,
    MissingGroupError,
)

Verify = Callable[..., Claims]
REGION = "eu-west-1"
# Dummy credentials passed to boto3 directly: nothing reads the environment or ~/.aws,
# and every call goes to the local endpoint.
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@dataclass(frozen=True)
class Lab:
    endpoint: str
    pool_id: str
    client_id: str
    other_client_id: str
    id_token: str
    access_token: str
    refresh_token: str
    other_pool_id_token: str

    def jwks_url(self, pool_id: str | None = None) -> str:
        return f"{self.endpoint}/{pool_id or self.pool_id}/.well-known/jwks.json"


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def _sign_in(client: Any, pool_id: str, client_id: str, username: str, group: str) -> Any:
    client.sign_up(
        ClientId=client_id,
        Username=username,
        Password="Corr3ct-Horse",
        UserAttributes=[{"Name": "email", "Value": f"{username}@example.com"}],
    )
    client.admin_confirm_sign_up(UserPoolId=pool_id, Username=username)
    client.create_group(UserPoolId=pool_id, GroupName=group)
    client.admin_add_user_to_group(UserPoolId=pool_id, Username=username, GroupName=group)
    return client.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": "Corr3ct-Horse"},
    )["AuthenticationResult"]


def _new_pool(client: Any, name: str) -> tuple[str, str]:
    pool_id = client.create_user_pool(
        PoolName=name,
        Policies={
            "PasswordPolicy": {
                "MinimumLength": 10,
                "RequireUppercase": True,
                "RequireLowercase": True,
                "RequireNumbers": True,
                "RequireSymbols": True,
            }
        },
        AutoVerifiedAttributes=["email"],
    )["UserPool"]["Id"]
    client_id = client.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName=f"{name}-web",
        GenerateSecret=False,
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        ReadAttributes=["email", "email_verified"],
    )["UserPoolClient"]["ClientId"]
    return pool_id, client_id


@pytest.fixture(scope="session")
def lab(moto_endpoint: str) -> Lab:
    import boto3

    idp = boto3.client("cognito-idp", region_name=REGION, endpoint_url=moto_endpoint, **CREDENTIALS)
    pool_id, client_id = _new_pool(idp, "lab")
    other_client_id = idp.create_user_pool_client(
        UserPoolId=pool_id, ClientName="lab-admin", GenerateSecret=False
    )["UserPoolClient"]["ClientId"]
    tokens = _sign_in(idp, pool_id, client_id, "alice", "admin")
    other_pool_id, other_pool_client = _new_pool(idp, "elsewhere")
    other = _sign_in(idp, other_pool_id, other_pool_client, "mallory", "admin")
    return Lab(
        endpoint=moto_endpoint,
        pool_id=pool_id,
        client_id=client_id,
        other_client_id=other_client_id,
        id_token=tokens["IdToken"],
        access_token=tokens["AccessToken"],
        refresh_token=tokens["RefreshToken"],
        other_pool_id_token=other["IdToken"],
    )


def unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    h, p, _ = token.split(".")
    return tuple(json.loads(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))) for s in (h, p))  # type: ignore[return-value]


def verifier(lab: Lab, **options: Any) -> CognitoVerifier:
    options.setdefault("client_id", lab.client_id)
    return CognitoVerifier(lab.pool_id, jwks_url=lab.jwks_url(), **options)


def test_moto_tokens_look_like_cognito(lab: Lab) -> None:
    """What the emulator issues, as read here; if moto changes, this says how."""
    header, payload = unverified(lab.id_token)
    assert header["alg"] == "RS256" and header["kid"] == "dummy"
    assert payload["iss"] == f"https://cognito-idp.{REGION}.amazonaws.com/{lab.pool_id}"
    assert payload["aud"] == lab.client_id and payload["token_use"] == "id"
    _, access = unverified(lab.access_token)
    assert "aud" not in access and access["client_id"] == lab.client_id
    assert access["token_use"] == "access"


def test_id_token(lab: Lab, verify: Verify) -> None:
    claims = verify(verifier(lab, token_use="id"), lab.id_token)
    assert claims.token_use == "id"
    assert claims.username == "alice"
    assert claims.client_id == lab.client_id
    assert claims.groups == {"admin"}
    assert claims["email"] == "alice@example.com"
    assert claims.issuer == f"https://cognito-idp.{REGION}.amazonaws.com/{lab.pool_id}"


def test_access_token(lab: Lab, verify: Verify) -> None:
    v = verifier(
        lab, token_use="access", groups=["admin"], scopes=["aws.cognito.signin.user.admin"]
    )
    claims = verify(v, lab.access_token)
    assert claims.token_use == "access"
    assert claims.username == "alice"
    assert claims.client_id == lab.client_id
    assert claims.groups == {"admin"}
    assert claims.has_scope("aws.cognito.signin.user.admin")
    with pytest.raises(MissingGroupError):
        verify(v, lab.access_token, groups=["billing"])


def test_other_client_is_refused(lab: Lab, verify: Verify) -> None:
    for token_use, token in (("id", lab.id_token), ("access", lab.access_token)):
        v = verifier(lab, token_use=token_use, client_id=lab.other_client_id)
        with pytest.raises(InvalidClientError):
            verify(v, token)


def test_other_token_use_is_refused(lab: Lab, verify: Verify) -> None:
    with pytest.raises(InvalidTokenUseError):
        verify(verifier(lab, token_use="access"), lab.id_token)
    with pytest.raises(InvalidTokenUseError):
        verify(verifier(lab, token_use="id"), lab.access_token)


def test_both_uses_with_none(lab: Lab, verify: Verify) -> None:
    v = verifier(lab, token_use=None)
    assert verify(v, lab.id_token).token_use == "id"
    assert verify(v, lab.access_token).token_use == "access"


def test_token_of_another_pool_is_refused(lab: Lab, verify: Verify) -> None:
    # moto signs every pool with the same key: only the issuer check tells them apart.
    with pytest.raises(InvalidIssuerError):
        verify(verifier(lab, token_use="id", client_id=None), lab.other_pool_id_token)


def test_refresh_token_is_refused(lab: Lab, verify: Verify) -> None:
    with pytest.raises(MalformedTokenError):
        verify(verifier(lab, token_use=None), lab.refresh_token)


def test_hydrate_from_moto(lab: Lab) -> None:
    with verifier(lab, token_use="id") as v:
        v.hydrate()
        assert v.verify(lab.id_token).username == "alice"
