"""fastmcp: CognitoFastMCPVerifier on fastmcp's TokenVerifier base, served over
streamable HTTP under uvicorn and called with the mcp SDK's own client."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from starlette.middleware import Middleware

pytest.importorskip("fastmcp", reason="fastmcp 4.2+ needs Python 3.11+")
from _adapter_matrix import (
    CASES,
    Case,
    as_pairs,
    bearer,
    make_verifier,
    unavailable_verifier,
)
from fastmcp import FastMCP
from fastmcp.server.auth import RemoteAuthProvider, TokenVerificationError
from test_integrations_mcp import INITIALIZE, ISSUER, MCP_HEADERS, call, serve

from cognito_verify import Claims, CognitoVerifier
from cognito_verify.integrations.fastmcp import (
    CognitoFastMCPAccessToken,
    CognitoFastMCPVerifier,
)
from cognito_verify.integrations.mcp import CognitoMCPMiddleware, current_claims
from cognito_verify.testing import LocalUserPool

READ = "orders-api/orders.read"


def build_app(verifier: CognitoVerifier, required_scopes: list[str] | None = None) -> Any:
    tokens = CognitoFastMCPVerifier(verifier, required_scopes=required_scopes)
    mcp = FastMCP(
        "orders",
        auth=RemoteAuthProvider(
            token_verifier=tokens, authorization_servers=[ISSUER], base_url="http://127.0.0.1"
        ),
    )

    @mcp.tool
    def whoami() -> str:
        claims = current_claims()
        return claims.username if claims else "nobody"

    @mcp.tool(auth=tokens.required(groups="admin"))
    def admin_report() -> str:
        return "report"

    return mcp.http_app(
        path="/mcp", json_response=True, middleware=[Middleware(CognitoMCPMiddleware)]
    )


def _post(base: str, header: str | list[str] | None) -> httpx.Response:
    # Whitespace around a field value is not part of it (RFC 9110 5.5) and httpx refuses
    # to send it: "Bearer " arrives at any HTTP/1.1 server as "Bearer".
    auth = [(name, value.strip()) for name, value in as_pairs(header)]
    return httpx.post(
        base + "/mcp", headers=[*MCP_HEADERS.items(), *auth], json=INITIALIZE, timeout=30
    )


def test_tools_for_a_verified_caller(pool: LocalUserPool, clock: Any) -> None:
    with serve(build_app(make_verifier(pool, clock))) as base:
        names, result = asyncio.run(call(base, pool.access_token("erin"), "whoami"))
        assert names == ["whoami"]  # admin_report is hidden from a non-admin
        assert result.content[0].text == "erin"
        admin = pool.access_token("erin", groups=["admin"])
        names, report = asyncio.run(call(base, admin, "admin_report"))
        assert names == ["admin_report", "whoami"]
        assert report.content[0].text == "report"


REFUSED = [c for c in CASES if c.status == 401 and c.path == "/protected"]


@pytest.mark.parametrize("case", REFUSED, ids=[c.name for c in REFUSED])
def test_refused_tokens_get_401_with_resource_metadata(
    case: Case, pool: LocalUserPool, clock: Any
) -> None:
    with serve(build_app(make_verifier(pool, clock))) as base:
        header = case.header(pool, clock)
        response = _post(base, header)
    assert response.status_code == 401, response.text
    challenge = response.headers["www-authenticate"]
    # fastmcp follows RFC 6750 s3.1: no credentials, no error code. Two Authorization
    # headers reach it as none (CognitoMCPMiddleware removes them).
    sent = [value.strip() for _, value in as_pairs(header)]
    presented = len(sent) == 1 and sent[0].lower().startswith("bearer ")
    assert ('error="invalid_token"' in challenge) is presented, challenge
    assert "resource_metadata=" in challenge and "oauth-protected-resource" in challenge
    for value in sent:
        credentials = value.partition(" ")[2]
        assert not credentials or credentials not in response.text


def test_server_wide_scope(pool: LocalUserPool, clock: Any) -> None:
    with serve(build_app(make_verifier(pool, clock), required_scopes=[READ])) as base:
        refused = _post(base, bearer(pool.access_token()))
        assert refused.status_code == 403
        assert 'error="insufficient_scope"' in refused.headers["www-authenticate"]
        assert _post(base, bearer(pool.access_token(scopes=[READ]))).status_code == 200


def test_keys_unavailable_is_an_outage_not_a_bad_token(pool: LocalUserPool, clock: Any) -> None:
    tokens = CognitoFastMCPVerifier(unavailable_verifier(pool, clock))
    with pytest.raises(TokenVerificationError, match="jwks_unavailable"):
        asyncio.run(tokens.verify_token(pool.access_token()))


def test_mapping(pool: LocalUserPool, clock: Any) -> None:
    tokens = CognitoFastMCPVerifier(make_verifier(pool, clock))
    token = pool.access_token("bob", scopes=[READ])
    access = asyncio.run(tokens.verify_token(token))
    assert isinstance(access, CognitoFastMCPAccessToken)
    assert (access.client_id, access.scopes, access.claims["username"]) == (
        "client-a",
        [READ],
        "bob",
    )
    assert isinstance(access.cognito_claims, Claims) and access.subject == access.claims["sub"]
    assert token not in repr(access)
    with pytest.raises(TypeError):
        CognitoFastMCPVerifier("nope")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        tokens.required(groups=1)  # type: ignore[arg-type]
