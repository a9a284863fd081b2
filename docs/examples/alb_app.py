"""A FastAPI service behind an Application Load Balancer with an authenticate-cognito rule.

The load balancer signs the user in and forwards x-amzn-oidc-data (the user's claims,
signed by the load balancer) and x-amzn-oidc-accesstoken (the Cognito access token).
This service verifies both on every request. Run it behind your load balancer
(``pip install cognito-verify[fastapi] uvicorn``):

    ALB_ARN=<the load balancer's ARN> \\
    COGNITO_USER_POOL_ID=eu-west-1_AbCdEf123 COGNITO_CLIENT_ID=<the rule's app client id> \\
        uvicorn alb_app:create_app --factory

or try it on this machine, with no AWS account: ``python docs/examples/alb_app.py``
(a local load balancer and user pool mint the headers; keys come from a loopback
server). tests/test_alb_example.py runs this very file, so it stays runnable.
"""

# No "from __future__ import annotations": FastAPI reads these annotations at runtime.
import os
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request

from cognito_verify import AlbVerifier, Claims, CognitoVerifier
from cognito_verify.integrations.fastapi import CognitoAuth


def verifiers_from_env() -> tuple[CognitoVerifier, AlbVerifier]:
    pool_id = os.environ["COGNITO_USER_POOL_ID"]
    client_id = os.environ["COGNITO_CLIENT_ID"]
    region = pool_id.split("_", 1)[0]
    cognito = CognitoVerifier(pool_id, client_id=client_id, token_use="access")
    alb = AlbVerifier(
        os.environ["ALB_ARN"],
        client_id=client_id,
        issuer=f"https://cognito-idp.{region}.amazonaws.com/{pool_id}",
    )
    return cognito, alb


def create_app(cognito: CognitoVerifier | None = None, alb: AlbVerifier | None = None) -> FastAPI:
    """The app; the verifiers come from the environment unless given (tests, demo)."""
    if cognito is None or alb is None:
        cognito, alb = verifiers_from_env()
    # alb= makes x-amzn-oidc-data required and reads the access token from
    # x-amzn-oidc-accesstoken; both must be valid and name the same user.
    auth = CognitoAuth(cognito, alb=alb)
    app = FastAPI(title="Behind a load balancer")

    @app.get("/health")
    async def health() -> dict[str, bool]:
        return {"ok": True}  # the load balancer's health checks carry no user

    @app.get("/me")
    async def me(request: Request, claims: Annotated[Claims, Depends(auth)]) -> dict[str, Any]:
        profile = request.state.alb_claims  # the user info the load balancer signed
        return {"username": claims.username, "email": profile.get("email")}

    @app.delete("/orders/{order_id}", dependencies=[Depends(auth.required(groups="admin"))])
    async def delete_order(order_id: int) -> dict[str, int]:
        return {"deleted": order_id}

    return app


def demo() -> None:
    """Run the app in-process against a local load balancer and user pool."""
    from fastapi.testclient import TestClient

    from cognito_verify.testing import LocalAlb, LocalUserPool

    pool = LocalUserPool("eu-west-1_DemoPool1", ("demo-alb-client",))
    alb = LocalAlb(pool=pool)
    other = alb.alb_arn.replace(":123456789012:", ":999999999999:")
    with alb.serve() as keys:
        client = TestClient(
            create_app(pool.verifier(token_use="access"), alb.verifier(keys.public_keys_url))
        )
        for label, headers in [
            ("as the load balancer forwards it", alb.headers("alice")),
            ("straight to the target, no headers", {}),
            ("forged: another load balancer", LocalAlb(other, pool=pool).headers("alice")),
            ("forged: this ARN, someone's key", LocalAlb(pool=pool).headers("alice")),
        ]:
            answer = client.get("/me", headers=headers)
            print(f"{label:<38} {answer.status_code} {answer.json()}")


if __name__ == "__main__":
    demo()
