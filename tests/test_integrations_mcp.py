"""MCP (the ``mcp`` SDK): an MCPServer over streamable HTTP under uvicorn, called by the
SDK's own client and by plain HTTP, through the shared refusal matrix."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
import uvicorn
from _adapter_matrix import (
    CASES,
    Case,
    as_pairs,
    bearer,
    load_example,
    make_verifier,
    unavailable_verifier,
)
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import Context, MCPServer

from cognito_verify import Claims, CognitoVerifier
from cognito_verify.integrations.mcp import (
    CognitoAccessToken,
    CognitoMCPMiddleware,
    CognitoTokenVerifier,
    current_claims,
)
from cognito_verify.testing import LocalUserPool

ISSUER = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TestPool1"
READ = "orders-api/orders.read"
WRITE = "orders/write"


def build_server(
    verifier: CognitoVerifier,
    *,
    required_scopes: list[str] | None = None,
    keys_middleware: bool = True,
) -> Any:
    tokens = CognitoTokenVerifier(verifier)
    server = MCPServer(
        "orders",
        token_verifier=tokens,
        auth=AuthSettings(
            issuer_url=ISSUER,
            resource_server_url="http://127.0.0.1/mcp",
            required_scopes=required_scopes,
            validate_token_resource=False,
        ),
    )

    @server.tool()
    async def whoami() -> dict[str, Any]:
        """The verified caller."""
        claims = current_claims()
        assert claims is not None
        return {"username": claims.username, "sub": claims.sub}

    @server.tool()
    @tokens.required(groups="admin")
    async def admin_report(day: str, ctx: Context) -> str:
        """Admins only; the SDK still injects its Context through the decorator."""
        assert isinstance(ctx, Context)
        return f"report {day} for {current_claims().username}"  # type: ignore[union-attr]

    @server.tool()
    @tokens.required(scopes=WRITE)
    def cancel_order(order_id: str) -> str:
        """A sync tool that needs a scope."""
        return f"cancelled {order_id}"

    app = server.streamable_http_app(stateless_http=False, json_response=True)
    if keys_middleware:
        app.add_middleware(CognitoMCPMiddleware)
    return app


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """The app under uvicorn on 127.0.0.1 with its lifespan (the session manager)."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)  # waiting for the server to listen, not for a token to expire
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)


def sub_of(pool: LocalUserPool, username: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{pool.user_pool_id}/{username}"))


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "test", "version": "1"},
    },
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
METADATA = '/.well-known/oauth-protected-resource/mcp"'


async def call(
    base: str,
    token: str | None,
    tool: str | None = None,
    statuses: list[int] | None = None,
    **args: Any,
) -> Any:
    """List the tools (and call one) with the SDK's own client."""
    headers = {"Authorization": bearer(token)} if token else {}

    async def record(response: httpx2.Response) -> None:
        if statuses is not None:
            statuses.append(response.status_code)

    hooks = {"response": [record]}
    async with httpx2.AsyncClient(headers=headers, timeout=30, event_hooks=hooks) as http:
        transport = streamable_http_client(base + "/mcp", http_client=http)
        async with Client(transport, mode="legacy") as client:
            listed = await client.list_tools()
            names = sorted(t.name for t in listed.tools)
            if tool is None:
                return names
            return names, await client.call_tool(tool, args)


async def list_tools(base: str, token: str) -> Any:
    async with httpx2.AsyncClient(headers={"Authorization": bearer(token)}, timeout=30) as http:
        async with Client(streamable_http_client(base + "/mcp", http_client=http)) as client:
            return (await client.list_tools()).tools


def test_sdk_client_lists_and_calls_tools(pool: LocalUserPool, clock: Any) -> None:
    with serve(build_server(make_verifier(pool, clock))) as base:
        token = pool.access_token(groups=["admin"], scopes=[WRITE])
        names, result = asyncio.run(call(base, token, "whoami"))
        assert names == ["admin_report", "cancel_order", "whoami"]
        tools = {t.name: t for t in asyncio.run(list_tools(base, token))}
        # The decorator keeps the tool's own schema: its argument, not the Context.
        assert list(tools["admin_report"].input_schema["properties"]) == ["day"]
        assert not result.is_error
        assert result.structured_content == {"username": "alice", "sub": sub_of(pool, "alice")}
        _, report = asyncio.run(call(base, token, "admin_report", day="monday"))
        assert (report.is_error, report.content[0].text) == (False, "report monday for alice")
        _, cancelled = asyncio.run(call(base, token, "cancel_order", order_id="7"))
        assert (cancelled.is_error, cancelled.content[0].text) == (False, "cancelled 7")


@pytest.mark.parametrize(
    ("tool", "args", "code"),
    [
        ("admin_report", {"day": "monday"}, "missing_group"),
        ("cancel_order", {"order_id": "7"}, "insufficient_scope"),
    ],
)
def test_tool_requirements_refuse_with_tool_error(
    pool: LocalUserPool, clock: Any, tool: str, args: dict[str, str], code: str
) -> None:
    with serve(build_server(make_verifier(pool, clock))) as base:
        token = pool.access_token()
        _, result = asyncio.run(call(base, token, tool, **args))
    assert result.is_error
    text = result.content[0].text
    # The SDK prefixes "Error executing tool <name>: "; ours is the code and fixed text.
    assert text.endswith(f": {code}: The caller is not allowed to do this."), text
    assert token not in text


def test_sdk_client_without_token_is_refused(pool: LocalUserPool, clock: Any) -> None:
    statuses: list[int] = []
    with serve(build_server(make_verifier(pool, clock))) as base:
        with pytest.raises(Exception, match="unhandled errors"):  # the SDK's task group
            asyncio.run(call(base, None, statuses=statuses))
    assert statuses == [401]


def _post(base: str, header: str | list[str] | None) -> httpx.Response:
    # Whitespace around a field value is not part of it (RFC 9110 5.5) and httpx refuses
    # to send it: "Bearer " arrives at any HTTP/1.1 server as "Bearer".
    auth = [(name, value.strip()) for name, value in as_pairs(header)]
    headers = [*MCP_HEADERS.items(), *auth]
    with httpx.Client(timeout=30) as http:
        return http.post(base + "/mcp", headers=headers, content=json.dumps(INITIALIZE))


# The SDK answers every token refusal alike (401 invalid_token + resource_metadata); the
# matrix's group / scope / optional rows are tool- or route-level and are tested above.
REFUSED = [c for c in CASES if c.status == 401 and c.path == "/protected"]


@pytest.mark.parametrize("case", REFUSED, ids=[c.name for c in REFUSED])
def test_matrix_refusals_carry_the_resource_metadata_challenge(
    case: Case, pool: LocalUserPool, clock: Any
) -> None:
    with serve(build_server(make_verifier(pool, clock))) as base:
        header = case.header(pool, clock)
        response = _post(base, header)
    assert response.status_code == 401, response.text
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('Bearer error="invalid_token"')
    assert 'resource_metadata="http://127.0.0.1' + METADATA in challenge
    for _, value in as_pairs(header):
        for part in value.partition(" ")[2].split("."):
            assert len(part) < 4 or part not in response.text


def test_good_token_initializes(pool: LocalUserPool, clock: Any) -> None:
    with serve(build_server(make_verifier(pool, clock))) as base:
        response = _post(base, bearer(pool.access_token()))
    assert response.status_code == 200, response.text
    assert response.json()["result"]["serverInfo"]["name"] == "orders"


def test_server_wide_scope_is_403_insufficient_scope(pool: LocalUserPool, clock: Any) -> None:
    app = build_server(make_verifier(pool, clock), required_scopes=[READ])
    with serve(app) as base:
        refused = _post(base, bearer(pool.access_token()))
        assert refused.status_code == 403
        assert refused.headers["www-authenticate"].startswith('Bearer error="insufficient_scope"')
        assert "resource_metadata=" in refused.headers["www-authenticate"]
        names = asyncio.run(call(base, pool.access_token(scopes=[READ])))
        assert "whoami" in names
        statuses: list[int] = []
        with pytest.raises(Exception, match="unhandled errors"):  # the SDK client gives up
            asyncio.run(call(base, pool.access_token(), statuses=statuses))
        assert statuses == [403]
        metadata = httpx.get(base + "/.well-known/oauth-protected-resource/mcp", timeout=30)
    assert metadata.json()["authorization_servers"] == [ISSUER]
    assert metadata.json()["scopes_supported"] == [READ]


def test_keys_unavailable_is_503(pool: LocalUserPool, clock: Any) -> None:
    with serve(build_server(unavailable_verifier(pool, clock))) as base:
        response = _post(base, bearer(pool.access_token()))
    assert response.status_code == 503
    assert response.json() == {
        "error": "jwks_unavailable",
        "message": "Authentication is temporarily unavailable.",
    }
    assert response.headers["retry-after"] == "5"
    assert response.headers["cache-control"] == "no-store"


def test_without_the_middleware_a_key_outage_is_a_500(pool: LocalUserPool, clock: Any) -> None:
    # Why CognitoMCPMiddleware exists: the SDK lets the verifier's error through.
    app = build_server(unavailable_verifier(pool, clock), keys_middleware=False)
    with serve(app) as base:
        response = _post(base, bearer(pool.access_token()))
    assert response.status_code == 500
    assert "jwks" not in response.text.lower()


def test_access_token_mapping(pool: LocalUserPool, clock: Any) -> None:
    tokens = CognitoTokenVerifier(make_verifier(pool, clock), resource="https://mcp.example/mcp")
    token = pool.access_token("bob", groups=["admin"], scopes=[WRITE, READ])
    access = asyncio.run(tokens.verify_token(token))
    assert isinstance(access, CognitoAccessToken)
    assert access.client_id == "client-a"
    assert access.scopes == sorted([WRITE, READ])
    assert access.subject == sub_of(pool, "bob")
    assert access.expires_at == int(clock() + 3600)
    assert access.resource == "https://mcp.example/mcp"
    assert access.claims is not None and access.claims["username"] == "bob"
    assert isinstance(access.cognito_claims, Claims)
    assert access.cognito_claims.groups == {"admin"}
    # Never in a repr, so never in a log line.
    assert token not in repr(access) and "cognito_claims" not in access.model_dump()


def test_refusals_are_logged_without_the_token(
    pool: LocalUserPool, clock: Any, caplog: pytest.LogCaptureFixture
) -> None:
    tokens = CognitoTokenVerifier(make_verifier(pool, clock))
    bad = pool.access_token(client_id="client-b")
    with caplog.at_level(logging.INFO, logger="cognito_verify.integrations.mcp"):
        assert asyncio.run(tokens.verify_token(bad)) is None
        assert asyncio.run(tokens.verify_token(pool.id_token())) is None
    assert "invalid_client" in caplog.text and "invalid_token_use" in caplog.text
    assert bad not in caplog.text


def test_bad_configuration_fails_early(pool: LocalUserPool, clock: Any) -> None:
    with pytest.raises(TypeError):
        CognitoTokenVerifier("not a verifier")  # type: ignore[arg-type]
    tokens = CognitoTokenVerifier(make_verifier(pool, clock))
    with pytest.raises(TypeError):
        tokens.required(groups=7)  # type: ignore[arg-type]
    assert current_claims() is None  # outside a request


def test_example_server(pool: LocalUserPool, clock: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    example = load_example(Path(__file__).parent.parent / "docs" / "examples" / "mcp_server.py")
    monkeypatch.setenv("COGNITO_USER_POOL_ID", pool.user_pool_id)
    app = example.create_app(make_verifier(pool, clock))
    read, write = example.READ, example.WRITE
    with serve(app) as base:
        support = pool.access_token("dora", groups=["support"], scopes=[read, write])
        names, listed = asyncio.run(call(base, support, "list_orders"))
        assert names == ["cancel_order", "list_orders"]
        assert listed.structured_content == {"for": "dora", "orders": []}
        _, cancelled = asyncio.run(call(base, support, "cancel_order", order_id="9"))
        assert cancelled.content[0].text == "order 9 cancelled"
        reader = pool.access_token("dora", groups=["support"], scopes=[read])
        _, refused = asyncio.run(call(base, reader, "cancel_order", order_id="9"))
        assert refused.is_error and "insufficient_scope" in refused.content[0].text
        assert _post(base, bearer(pool.access_token())).status_code == 403  # no READ scope
        metadata = httpx.get(base + "/.well-known/oauth-protected-resource/mcp", timeout=30)
    assert metadata.json()["authorization_servers"] == [
        f"https://cognito-idp.eu-west-1.amazonaws.com/{pool.user_pool_id}"
    ]


def test_step_up_in_a_tool(pool: LocalUserPool, clock: Any) -> None:
    tokens = CognitoTokenVerifier(make_verifier(pool, clock))
    server = MCPServer(
        "orders",
        token_verifier=tokens,
        auth=AuthSettings(
            issuer_url=ISSUER,
            resource_server_url="http://127.0.0.1/mcp",
            validate_token_resource=False,
        ),
    )

    @server.tool()
    @tokens.required(max_auth_age=300)
    async def transfer(amount: int) -> str:
        return f"sent {amount}"

    app = server.streamable_http_app(json_response=True)
    token = pool.access_token()
    with serve(app) as base:
        _, fresh = asyncio.run(call(base, token, "transfer", amount=5))
        assert fresh.content[0].text == "sent 5"
        clock.advance(301)
        _, stale = asyncio.run(call(base, token, "transfer", amount=5))
    assert stale.is_error
    assert "insufficient_user_authentication: " in stale.content[0].text


def test_machine_token_through_the_sdk_client(pool: LocalUserPool, clock: Any) -> None:
    # client_credentials: sub is the app client, no username, no groups.
    app = build_server(make_verifier(pool, clock), required_scopes=[READ])
    with serve(app) as base:
        machine = pool.client_credentials_token(scopes=[READ, WRITE])
        _, result = asyncio.run(call(base, machine, "whoami"))
        assert result.structured_content == {"username": None, "sub": "client-a"}
        _, cancelled = asyncio.run(call(base, machine, "cancel_order", order_id="3"))
        assert cancelled.content[0].text == "cancelled 3"
        _, admin = asyncio.run(call(base, machine, "admin_report", day="monday"))
        assert admin.is_error and "missing_group: " in admin.content[0].text
