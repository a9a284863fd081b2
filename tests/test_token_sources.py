"""TokenSource and Authenticator (integrations/_http.py): where a request carries its
token, the cookie CSRF rule, and the load balancer's two headers, without a framework."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest

from cognito_verify import (
    AlbVerifier,
    CognitoVerifier,
    CognitoVerifyError,
    ConfigurationError,
    CrossSiteRequestError,
    MalformedTokenError,
    MissingTokenError,
)
from cognito_verify.integrations._http import (
    Authenticator,
    TokenSource,
    find_token,
    refusal,
    token_sources,
)
from cognito_verify.testing import LocalAlb, LocalUserPool
from tests.conftest import Clock


def view(headers: Mapping[str, str | Sequence[str]]) -> Callable[[str], list[str]]:
    lowered = {k.lower(): ([v] if isinstance(v, str) else list(v)) for k, v in headers.items()}
    return lambda name: lowered.get(name, [])


# --- TokenSource ------------------------------------------------------------------------


def test_bearer_is_the_default_and_only_default() -> None:
    assert token_sources(None) == (TokenSource.bearer(),)
    h = view({"Authorization": "Bearer abc", "x-amzn-oidc-accesstoken": "def", "Cookie": "t=ghi"})
    assert find_token(token_sources(None), h) == ("abc", TokenSource.bearer())
    with pytest.raises(MissingTokenError):
        find_token(token_sources(None), view({"x-amzn-oidc-accesstoken": "def", "Cookie": "t=x"}))


def test_header_source() -> None:
    src = TokenSource.header("X-Amzn-Oidc-AccessToken")
    assert src.name == "x-amzn-oidc-accesstoken"
    assert src.read(view({"x-amzn-oidc-accesstoken": " tok "})) == "tok"
    assert src.read(view({})) is None
    with pytest.raises(MalformedTokenError):
        src.read(view({"x-amzn-oidc-accesstoken": ["a", "b"]}))
    with pytest.raises(MissingTokenError):
        src.read(view({"x-amzn-oidc-accesstoken": "  "}))
    for bad in ("authorization", "cookie", "bad name", "", "x:y", None):
        with pytest.raises(ConfigurationError):
            TokenSource.header(bad)  # type: ignore[arg-type]


def test_cookie_source() -> None:
    src = TokenSource.cookie("access_token")
    assert src.read(view({"Cookie": "a=1; access_token=tok; b=2"})) == "tok"
    assert src.read(view({"Cookie": 'access_token="tok"'})) == "tok"
    assert src.read(view({"Cookie": ["a=1", "access_token=tok"]})) == "tok"
    assert src.read(view({"Cookie": "xaccess_token=tok; access_tokenx=1"})) is None
    assert src.read(view({"Cookie": "access_token="})) is None
    with pytest.raises(MalformedTokenError):
        src.read(view({"Cookie": "access_token=a; access_token=b"}))
    with pytest.raises(ConfigurationError):
        TokenSource.cookie("bad name")
    with pytest.raises(ConfigurationError):
        TokenSource.cookie("t", trusted_origins="https://app.example.com")
    with pytest.raises(ConfigurationError):
        TokenSource.cookie("t", trusted_origins=["https://app.example.com/path"])


def test_sources_are_tried_in_order() -> None:
    sources = token_sources([TokenSource.cookie("t"), TokenSource.bearer()])
    assert find_token(sources, view({"Authorization": "Bearer b"}))[0] == "b"
    assert find_token(sources, view({"Authorization": "Bearer b", "Cookie": "t=c"}))[0] == "c"
    with pytest.raises(ConfigurationError):
        token_sources([])
    with pytest.raises(ConfigurationError):
        token_sources(["authorization"])


CSRF_CASES = [
    ("GET", {}, True),
    ("HEAD", {}, True),
    ("OPTIONS", {}, True),
    ("POST", {}, False),
    ("DELETE", {}, False),
    ("websocket", {}, False),
    ("POST", {"Sec-Fetch-Site": "same-origin"}, True),
    ("POST", {"Sec-Fetch-Site": "same-site"}, False),  # a sibling subdomain is not us
    ("POST", {"Sec-Fetch-Site": "cross-site"}, False),
    ("POST", {"Origin": "https://app.example.com"}, True),
    ("POST", {"Origin": "https://evil.example.com"}, False),
    ("POST", {"Origin": "null"}, False),
    ("POST", {"X-Requested-With": "fetch"}, True),
    ("PUT", {"Origin": ["https://app.example.com", "https://evil.example.com"]}, False),
]


@pytest.mark.parametrize(("method", "headers", "allowed"), CSRF_CASES)
def test_cookie_csrf_rule(method: str, headers: dict[str, Any], allowed: bool) -> None:
    sources = token_sources(TokenSource.cookie("t", trusted_origins=["https://app.example.com"]))
    h = view({"Cookie": "t=tok", **headers})
    if allowed:
        assert find_token(sources, h, method)[0] == "tok"
    else:
        with pytest.raises(CrossSiteRequestError) as info:
            find_token(sources, h, method)
        answer = refusal(info.value)
        assert (answer.status, answer.code) == (403, "cross_site_request")


def test_csrf_rule_applies_to_cookies_only_and_can_be_turned_off() -> None:
    assert find_token(token_sources(None), view({"Authorization": "Bearer b"}), "POST")[0] == "b"
    header = token_sources(TokenSource.header("x-token"))
    assert find_token(header, view({"x-token": "h"}), "DELETE")[0] == "h"
    off = token_sources(TokenSource.cookie("t", csrf_protection=False))
    assert find_token(off, view({"Cookie": "t=c"}), "POST")[0] == "c"
    custom = token_sources(TokenSource.cookie("t", csrf_header="X-CSRF"))
    assert find_token(custom, view({"Cookie": "t=c", "x-csrf": "1"}), "POST")[0] == "c"
    with pytest.raises(CrossSiteRequestError):
        find_token(custom, view({"Cookie": "t=c", "x-requested-with": "1"}), "POST")


# --- Authenticator ----------------------------------------------------------------------


ARN = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188"


@pytest.fixture
def alb(pool: LocalUserPool, clock: Clock) -> LocalAlb:
    return LocalAlb(ARN, pool=pool, client_id="client-a", clock=clock)


@pytest.fixture
def verifiers(alb: LocalAlb, pool: LocalUserPool, clock: Clock) -> Any:
    with alb.serve() as server:
        cognito = pool.verifier(token_use="access", client_id="client-a", clock=clock)
        with alb.verifier(server.public_keys_url, clock=clock) as data:
            yield cognito, data


@pytest.mark.parametrize("how", ["sync", "async"])
def test_alb_and_access_token_together(
    verifiers: tuple[CognitoVerifier, AlbVerifier], alb: LocalAlb, how: str
) -> None:
    cognito, data = verifiers
    auth = Authenticator(cognito, alb=data)
    assert auth.sources == (TokenSource.header("x-amzn-oidc-accesstoken"),)

    def run(headers: Mapping[str, str], **kw: Any) -> Any:
        if how == "sync":
            return auth.authenticate("GET", view(headers), **kw)
        return asyncio.run(auth.aauthenticate("GET", view(headers), **kw))

    creds = run(alb.headers("alice"))
    assert creds.claims.token_use == "access" and creds.claims.username == "alice"
    assert creds.alb_claims.sub == creds.claims.sub
    # A genuine access token of another user next to alice's claims: refused.
    mixed = alb.headers("alice") | {"x-amzn-oidc-accesstoken": alb.pool.access_token("bob")}  # type: ignore[union-attr]
    with pytest.raises(CognitoVerifyError) as info:
        run(mixed)
    assert info.value.code == "invalid_claim"
    for missing in ("x-amzn-oidc-data", "x-amzn-oidc-accesstoken"):
        headers = {k: v for k, v in alb.headers().items() if k != missing}
        with pytest.raises(MissingTokenError):
            run(headers)
        with pytest.raises(MissingTokenError):
            run(headers, optional=True)
    assert run({}, optional=True) == (None, None)
    with pytest.raises(CognitoVerifyError) as info:
        run(alb.headers(), groups="admin")
    assert info.value.code == "missing_group"


def test_alb_only(verifiers: tuple[CognitoVerifier, AlbVerifier], alb: LocalAlb) -> None:
    _, data = verifiers
    auth = Authenticator(None, alb=data)
    same_origin = {"sec-fetch-site": "same-origin"}
    creds = auth.authenticate(
        "POST", view({"x-amzn-oidc-data": alb.data_token("carol"), **same_origin})
    )
    assert creds.claims is creds.alb_claims and creds.claims.username == "carol"
    with pytest.raises(CognitoVerifyError) as info:
        auth.authenticate("GET", view({"x-amzn-oidc-data": alb.data_token()}), groups="admin")
    assert info.value.code == "missing_group"
    with pytest.raises(MissingTokenError):
        auth.authenticate("GET", view({"Authorization": "Bearer x"}))


@pytest.mark.parametrize("method", ["POST", "DELETE", "WEBSOCKET"])
def test_alb_headers_are_a_cookie_in_disguise(
    verifiers: tuple[CognitoVerifier, AlbVerifier], alb: LocalAlb, method: str, clock: Clock
) -> None:
    # The load balancer adds its headers to any request carrying its session cookie,
    # cross-site ones too: the cookie rule applies, before any verification.
    cognito, data = verifiers
    headers = {"x-amzn-oidc-data": alb.data_token(), "x-amzn-oidc-accesstoken": "x.y.z"}
    for auth in (Authenticator(None, alb=data), Authenticator(cognito, alb=data)):
        with pytest.raises(CrossSiteRequestError, match="AWSELBAuthSessionCookie"):
            auth.authenticate(method, view(headers))
        with pytest.raises(CrossSiteRequestError):  # same-site is another site
            auth.authenticate(method, view({**headers, "sec-fetch-site": "same-site"}))
    # Safe methods need no proof.
    only = Authenticator(None, alb=data)
    assert only.authenticate("GET", view({"x-amzn-oidc-data": alb.data_token()})).claims
    alone = {"x-amzn-oidc-data": alb.data_token("dave")}
    for proof in (
        {"sec-fetch-site": "same-origin"},
        {"x-requested-with": "fetch"},
        {"origin": "https://app.example.com"},
    ):
        trusted = alb.verifier(
            data._sources[0].url, clock=clock, trusted_origins=["https://APP.example.com:443"]
        )
        creds = Authenticator(None, alb=trusted).authenticate(method, view({**alone, **proof}))
        assert creds.claims is not None and creds.claims.username == "dave"
    unguarded = alb.verifier(data._sources[0].url, clock=clock, csrf_protection=False)
    assert Authenticator(None, alb=unguarded).authenticate(method, view(alone)).claims
    # Then the app's own CSRF check must run (Django, DRF and Ninja run Django's).
    assert Authenticator(None, alb=unguarded).needs_app_csrf(view(alone))
    assert not Authenticator(None, alb=data).needs_app_csrf(view(alone))
    assert not Authenticator(None, alb=unguarded).needs_app_csrf(view({}))
    with pytest.raises(ConfigurationError):
        Authenticator(None, alb=alb.verifier("http://127.0.0.1:9", trusted_origins=["x"]))
    with pytest.raises(ConfigurationError):
        alb.verifier("http://127.0.0.1:9", trusted_origins="https://app.example.com")


def test_authenticator_arguments(verifiers: tuple[CognitoVerifier, AlbVerifier]) -> None:
    cognito, data = verifiers
    with pytest.raises(TypeError):
        Authenticator(None)
    with pytest.raises(TypeError):
        Authenticator(data)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Authenticator(cognito, alb=cognito)  # type: ignore[arg-type]
    assert Authenticator(cognito).sources == (TokenSource.bearer(),)


def test_token_source_is_public_and_framework_free() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from cognito_verify.integrations import TokenSource; "
        "print(TokenSource.cookie('t').name, sorted(m for m in ('flask', 'fastapi', "
        "'starlette', 'django') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["t", "[]"]


def test_cookie_websocket_handshake_needs_proof_of_origin(
    pool: LocalUserPool, clock: Clock
) -> None:
    # Cross-site WebSocket hijacking: a page on another site opens a socket to the app
    # and the browser attaches the cookie. The handshake is refused without an Origin
    # the app trusts (or Sec-Fetch-Site: same-origin).
    from starlette.testclient import TestClient, WebSocketDenialResponse

    from cognito_verify.integrations.asgi import CLAIMS_KEY, CognitoASGIMiddleware

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": scope[CLAIMS_KEY].username})
        await send({"type": "websocket.close", "code": 1000})

    source = TokenSource.cookie("access_token", trusted_origins=["https://app.example.com"])
    verifier = pool.verifier(token_use="access", client_id="client-a", clock=clock)
    app = CognitoASGIMiddleware(inner, verifier, token_source=source)
    cookie = {"cookie": f"access_token={pool.access_token('ida')}"}
    client = TestClient(app)  # no lifespan: the inner app speaks WebSocket only
    with pytest.raises(WebSocketDenialResponse) as denied:
        with client.websocket_connect("/ws", headers=cookie | {"origin": "https://evil.test"}):
            pass  # pragma: no cover - refused
    assert denied.value.status_code == 403
    assert denied.value.json()["error"] == "cross_site_request"
    trusted = cookie | {"origin": "https://app.example.com"}
    with client.websocket_connect("/ws", headers=trusted) as ws:
        assert ws.receive_text() == "ida"
