"""A complete Flask API protected by Cognito access tokens.

Run it (Python 3.10+, ``pip install cognito-verify[flask]``):

    export COGNITO_USER_POOL_ID=eu-west-1_AbCdEf123
    export COGNITO_CLIENT_ID=3n4b5urk1ft4fl3mg5e62d9ado
    flask --app flask_app run

then call it with an access token:

    curl -H "Authorization: Bearer $ACCESS_TOKEN" http://127.0.0.1:5000/me

``COGNITO_JWKS_URL`` may point the key fetch somewhere else (an emulator); the tests
of this repository run this file against a local user pool that way.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, g

from cognito_verify.integrations.flask import CognitoAuth, CognitoAuthError

app = Flask(__name__)
app.config.update(
    COGNITO_USER_POOL_ID=os.environ["COGNITO_USER_POOL_ID"],
    COGNITO_CLIENT_ID=os.environ["COGNITO_CLIENT_ID"].split(","),  # one id, or several
    COGNITO_TOKEN_USE="access",
    COGNITO_LEEWAY=5,  # seconds of clock skew tolerated
    COGNITO_JWKS_URL=os.environ.get("COGNITO_JWKS_URL"),  # None: the pool's own URL
)

auth = CognitoAuth(app=app)


@app.get("/health")
def health() -> dict[str, Any]:
    return {"status": "ok"}  # no decorator: open to everyone


@app.get("/me")
@auth.required
def me() -> dict[str, Any]:
    claims = auth.current_claims
    assert claims is not None
    return {"username": claims.username, "groups": sorted(claims.groups)}


@app.get("/orders")
@auth.required(scopes="orders/read")
def orders() -> dict[str, Any]:
    return {"orders": [], "for": g.cognito_claims.sub}


@app.get("/admin/stats")
@auth.required(groups="admin")
async def admin_stats() -> dict[str, Any]:  # async views work too (flask[async])
    return {"users": 1}


@app.errorhandler(CognitoAuthError)
def refused(exc: CognitoAuthError) -> Any:
    # Optional: the default answer is already JSON; this shows where to change it.
    app.logger.info("refused: %s", exc.error.code)  # the code only, never the token
    return exc.get_response()


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=5000)
