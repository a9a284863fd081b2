"""The FastAPI app of scenario 6, served by uvicorn in its own process.

``BENCH_POOL`` holds the pool id, client id and JWKS as JSON (keys in memory, so
the server never fetches). ``/public`` is unprotected; ``/private`` verifies the
bearer token with the FastAPI adapter when it exists, else with a minimal
dependency calling ``averify`` directly; ``/dependency`` has a dependency that checks
nothing, to show what FastAPI's dependency machinery costs by itself. All answer a
small JSON object.
"""

from __future__ import annotations

import json
import os
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request

from cognito_verify import Claims, CognitoVerifier, CognitoVerifyError

_config = json.loads(os.environ["BENCH_POOL"])
verifier = CognitoVerifier(
    _config["user_pool_id"],
    client_id=_config["client_id"],
    token_use="id",
    jwks=_config["jwks"],
)

try:
    from cognito_verify.integrations.fastapi import CognitoAuth

    auth: Any = CognitoAuth(verifier)
    ADAPTER = "cognito_verify.integrations.fastapi.CognitoAuth"
except ImportError:  # the adapter is not there yet: the same work, by hand

    async def auth(request: Request) -> Claims:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise HTTPException(401, headers={"WWW-Authenticate": "Bearer"})
        try:
            return await verifier.averify(token)
        except CognitoVerifyError as exc:
            raise HTTPException(exc.status_code, detail=exc.code) from None

    ADAPTER = "a minimal dependency calling verifier.averify"

app = FastAPI()


@app.get("/public")
async def public() -> dict[str, str]:
    return {"sub": "anonymous"}


async def no_check(request: Request) -> str:
    """A dependency that verifies nothing: what FastAPI's dependency machinery costs."""
    return "anonymous"


@app.get("/dependency")
async def dependency(sub: Annotated[str, Depends(no_check)]) -> dict[str, str]:
    return {"sub": sub}


@app.get("/private")
async def private(claims: Annotated[Claims, Depends(auth)]) -> dict[str, str]:
    return {"sub": claims.sub}


@app.get("/adapter")
async def adapter() -> dict[str, str]:
    return {"adapter": ADAPTER}
