"""Flask extension: the refusal matrix through Flask's test client (sync and async views),
configuration from app.config, error handler overrides, and a real WSGI server."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _adapter_matrix import (
    CASES,
    IDS,
    Case,
    bearer,
    check,
    joined,
    load_example,
    make_verifier,
    unavailable_verifier,
    wsgi_server,
)
from flask import Flask, g

from cognito_verify import CognitoVerifier, ConfigurationError
from cognito_verify.integrations.flask import CognitoAuth, CognitoAuthError, verifier_from_config
from cognito_verify.testing import LocalUserPool

EXAMPLE = Path(__file__).parent.parent / "docs" / "examples" / "flask_app.py"


def make_app(verifier: CognitoVerifier | None = None, **config: Any) -> Flask:
    app = Flask(__name__)
    app.config.update(config)
    auth = CognitoAuth(verifier, app=app)

    @app.get("/protected")
    @auth.required
    def protected() -> dict[str, Any]:
        assert auth.current_claims is g.cognito_claims
        return {"username": auth.current_claims.username if auth.current_claims else "?"}

    @app.get("/admin")
    @auth.required(groups="admin")
    async def admin() -> dict[str, Any]:  # an async view: flask[async]
        return {"username": g.cognito_claims.username}

    @app.get("/write")
    @auth.required(scopes=["orders/write"])
    def write() -> dict[str, Any]:
        return {"username": g.cognito_claims.username}

    @app.get("/optional")
    @auth.required(optional=True)
    async def optional() -> dict[str, Any]:
        claims = auth.current_claims
        return {"username": claims.username if claims else None}

    return app


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_matrix(case: Case, pool: LocalUserPool, clock: Any) -> None:
    client = make_app(make_verifier(pool, clock)).test_client()
    header = case.header(pool, clock)
    response = client.get(case.path, headers=joined(header))
    check(case, response.status_code, response.headers, response.data, header)


def test_keys_unavailable_is_503(pool: LocalUserPool, clock: Any) -> None:
    client = make_app(unavailable_verifier(pool, clock)).test_client()
    response = client.get("/admin", headers={"Authorization": bearer(pool.access_token())})
    assert response.status_code == 503
    assert response.json == {
        "error": "jwks_unavailable",
        "message": "Authentication is temporarily unavailable.",
    }
    assert response.headers["Retry-After"] == "5"


def test_configured_from_app_config(pool: LocalUserPool, clock: Any) -> None:
    app = make_app(
        COGNITO_USER_POOL_ID=pool.user_pool_id,
        COGNITO_CLIENT_ID="client-a",
        COGNITO_TOKEN_USE="id",
        COGNITO_JWKS=pool.jwks,
        COGNITO_CLOCK=clock,
        COGNITO_DOMAIN="auth.example.com",  # another COGNITO_* key of the app, named:
        COGNITO_EXTRA_KEYS=["COGNITO_DOMAIN"],
    )
    client = app.test_client()
    assert client.get("/protected", headers={"Authorization": bearer(pool.id_token())}).json == {
        "username": "alice"
    }
    refused = client.get("/protected", headers={"Authorization": bearer(pool.access_token())})
    assert refused.json["error"] == "invalid_token_use"


@pytest.mark.parametrize(
    "missing", ["COGNITO_USER_POOL_ID", "COGNITO_CLIENT_ID", "COGNITO_TOKEN_USE"]
)
def test_config_without_required_key_fails_at_init(pool: LocalUserPool, missing: str) -> None:
    config = {
        "COGNITO_USER_POOL_ID": pool.user_pool_id,
        "COGNITO_CLIENT_ID": None,
        "COGNITO_TOKEN_USE": None,
    }
    verifier_from_config(config)  # None is accepted when said on purpose
    del config[missing]
    with pytest.raises(ConfigurationError, match=missing):
        CognitoAuth().init_app(_app_with(config))


def _app_with(config: dict[str, Any]) -> Flask:
    app = Flask(__name__)
    app.config.update(config)
    return app


def test_init_app_per_app_verifiers(pool: LocalUserPool, clock: Any) -> None:
    auth = CognitoAuth()
    apps = []
    for use in ("id", "access"):
        app = _app_with(
            {
                "COGNITO_USER_POOL_ID": pool.user_pool_id,
                "COGNITO_CLIENT_ID": "client-a",
                "COGNITO_TOKEN_USE": use,
                "COGNITO_JWKS": pool.jwks,
                "COGNITO_CLOCK": clock,
            }
        )
        auth.init_app(app)
        app.add_url_rule(
            "/", view_func=auth.required(lambda: {"use": auth.current_claims["token_use"]})
        )
        apps.append(app)
    headers = {"Authorization": bearer(pool.id_token())}
    assert apps[0].test_client().get("/", headers=headers).json == {"use": "id"}
    assert apps[1].test_client().get("/", headers=headers).status_code == 401


def test_error_handler_override(pool: LocalUserPool, clock: Any) -> None:
    app = make_app(make_verifier(pool, clock))
    seen: list[str] = []

    @app.errorhandler(CognitoAuthError)
    def refused(exc: CognitoAuthError) -> Any:
        seen.append(exc.error.code)
        return {"problem": exc.refusal.code}, exc.code, exc.refusal.headers

    client = app.test_client()
    response = client.get("/protected")
    assert (response.status_code, response.json) == (401, {"problem": "missing_token"})
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert client.get("/admin", headers={"Authorization": bearer(pool.access_token())}).json == {
        "problem": "missing_group"
    }
    assert seen == ["missing_token", "missing_group"]


def test_status_error_handler_catches_refusals(pool: LocalUserPool, clock: Any) -> None:
    app = make_app(make_verifier(pool, clock))
    app.register_error_handler(401, lambda exc: ("please sign in", 401))
    response = app.test_client().get("/protected")
    assert (response.status_code, response.text) == (401, "please sign in")


def test_bad_requirements_fail_at_decoration(pool: LocalUserPool, clock: Any) -> None:
    auth = CognitoAuth(make_verifier(pool, clock))
    with pytest.raises(TypeError):
        auth.required(groups=[1])  # type: ignore[list-item]


@pytest.fixture
def server(pool: LocalUserPool, clock: Any) -> Iterator[str]:
    with wsgi_server(make_app(make_verifier(pool, clock))) as url:
        yield url


def test_real_server(server: str, pool: LocalUserPool) -> None:
    with httpx.Client(base_url=server, timeout=5) as http:
        anonymous = http.get("/protected")
        assert anonymous.status_code == 401
        assert anonymous.headers["www-authenticate"] == "Bearer"
        assert anonymous.json()["error"] == "missing_token"
        token = pool.access_token(groups=["admin"])
        good = http.get("/admin", headers={"Authorization": bearer(token)})
        assert (good.status_code, good.json()) == (200, {"username": "alice"})
        expired = http.get("/protected", headers={"Authorization": bearer(pool.id_token())})
        assert expired.status_code == 401
        assert expired.headers["www-authenticate"] == 'Bearer error="invalid_token"'
        assert expired.json()["error"] == "invalid_token_use"


def test_example_app_runs(pool: LocalUserPool, clock: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    clock.now = time.time()  # the example verifies with the real clock
    with pool.serve() as jwks:
        monkeypatch.setenv("COGNITO_USER_POOL_ID", pool.user_pool_id)
        monkeypatch.setenv("COGNITO_CLIENT_ID", pool.client_id)
        monkeypatch.setenv("COGNITO_JWKS_URL", jwks.jwks_url)
        module = load_example(EXAMPLE)
        with wsgi_server(module.app) as url:
            with httpx.Client(base_url=url, timeout=5) as http:
                assert http.get("/health").json() == {"status": "ok"}
                assert http.get("/me").status_code == 401
                token = pool.access_token("dora", groups=["admin"], scopes=["orders/read"])
                me = http.get("/me", headers={"Authorization": bearer(token)})
                assert me.json()["username"] == "dora"
                orders = http.get("/orders", headers={"Authorization": bearer(token)})
                assert orders.status_code == 200
                no_scope = http.get(
                    "/orders", headers={"Authorization": bearer(pool.access_token())}
                )
                assert no_scope.status_code == 403
                assert no_scope.json()["error"] == "insufficient_scope"
                assert (
                    http.get("/admin/stats", headers={"Authorization": bearer(token)}).status_code
                    == 200
                )


def test_init_app_swaps_the_verifier_for_tests(pool: LocalUserPool, clock: Any) -> None:
    app = make_app(unavailable_verifier(pool, clock))
    auth = CognitoAuth()
    auth.init_app(app, verifier=make_verifier(pool, clock))
    with app.app_context():
        assert auth.verifier is app.extensions["cognito_verify"]
    headers = {"Authorization": bearer(pool.access_token(groups=["admin"]))}
    assert app.test_client().get("/admin", headers=headers).json == {"username": "alice"}


def test_uninitialised_auth_is_a_configuration_error() -> None:
    app = Flask(__name__)
    auth = CognitoAuth()
    app.add_url_rule("/", view_func=auth.required(lambda: "never"))
    app.config["PROPAGATE_EXCEPTIONS"] = True
    with pytest.raises(ConfigurationError, match="init_app"):
        app.test_client().get("/", headers={"Authorization": "Bearer a.b.c"})


# --- configuration at start-up, decorator order, JSON ----------------------------------


def _config(pool: LocalUserPool, **extra: Any) -> dict[str, Any]:
    return {
        "COGNITO_USER_POOL_ID": pool.user_pool_id,
        "COGNITO_CLIENT_ID": "client-a",
        "COGNITO_TOKEN_USE": "access",
        "COGNITO_JWKS": pool.jwks,
        **extra,
    }


@pytest.mark.parametrize(
    ("typo", "hint"),
    [
        ("COGNITO_GROUP", "COGNITO_GROUPS"),
        ("COGNITO_CLIENTID", "COGNITO_CLIENT_ID"),
        ("COGNITO_JWKS_UR", "COGNITO_JWKS_URL"),
        ("COGNITO_LEWAY", "COGNITO_LEEWAY"),
    ],
)
def test_misspelt_key_fails_at_init_app_with_a_hint(
    pool: LocalUserPool, typo: str, hint: str
) -> None:
    app = Flask(__name__)
    app.config.update(_config(pool, **{typo: "admin"}))
    with pytest.raises(ConfigurationError) as info:
        CognitoAuth(app=app)
    assert f"unknown key '{typo}' (did you mean '{hint}'?)" in str(info.value)


@pytest.mark.parametrize(
    ("key", "value", "named"),
    [
        ("COGNITO_TOKEN_USE", "acces", "COGNITO_TOKEN_USE must be"),
        ("COGNITO_USER_POOL_ID", "nope", "COGNITO_USER_POOL_ID 'nope' is not"),
        ("COGNITO_LEEWAY", -1, "COGNITO_LEEWAY must be"),
    ],
)
def test_bad_value_names_the_config_key(
    pool: LocalUserPool, key: str, value: Any, named: str
) -> None:
    # The message names the key to fix in app.config, not the Python keyword.
    app = Flask(__name__)
    app.config.update(_config(pool, **{key: value}))
    with pytest.raises(ConfigurationError) as info:
        CognitoAuth(app=app)
    assert named in str(info.value), str(info.value)


def test_misspelt_key_is_refused_beside_an_explicit_verifier(
    pool: LocalUserPool, clock: Any
) -> None:
    # The keys would be unused: a typo there is still a mistake worth hearing about.
    app = Flask(__name__)
    app.config["COGNITO_GROUP"] = "admin"
    with pytest.raises(ConfigurationError, match="COGNITO_GROUPS"):
        CognitoAuth(make_verifier(pool, clock), app=app)


def test_extra_keys_must_be_a_list(pool: LocalUserPool) -> None:
    app = Flask(__name__)
    app.config.update(_config(pool, COGNITO_EXTRA_KEYS="COGNITO_DOMAIN"))
    with pytest.raises(ConfigurationError, match="COGNITO_EXTRA_KEYS"):
        CognitoAuth(app=app)


def test_decorator_order_does_not_matter(pool: LocalUserPool, clock: Any) -> None:
    # @auth.required above @app.get decorates a function Flask already registered;
    # the view must be protected all the same.
    app = Flask(__name__)
    auth = CognitoAuth(make_verifier(pool, clock), app=app)

    @auth.required(groups="admin")
    @app.get("/upside-down")
    def upside_down() -> dict[str, Any]:
        return {"username": auth.current_claims.username if auth.current_claims else None}

    @auth.required
    @app.get("/bare")
    async def bare() -> dict[str, Any]:
        return {"ok": True}

    client = app.test_client()
    anonymous = client.get("/upside-down")
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"] == "Bearer"
    member = bearer(pool.access_token(groups=["admin"]))
    assert client.get("/upside-down", headers={"Authorization": member}).json == {
        "username": "alice"
    }
    outsider = client.get("/upside-down", headers={"Authorization": bearer(pool.access_token())})
    assert outsider.status_code == 403
    assert client.get("/bare").status_code == 401
    assert client.get("/bare", headers={"Authorization": member}).json == {"ok": True}


def test_claims_are_returned_as_json(pool: LocalUserPool, clock: Any) -> None:
    from flask import jsonify

    app = Flask(__name__)
    auth = CognitoAuth(make_verifier(pool, clock), app=app)

    @app.get("/claims")
    @auth.required
    def claims() -> Any:
        c = auth.current_claims
        assert c is not None
        return {"claims": c, "groups": c.groups, "scopes": c.scopes}

    @app.get("/jsonify")
    @auth.required
    def whole() -> Any:
        return jsonify(auth.current_claims)

    token = pool.access_token(groups=["b", "a"], scopes=["s2", "s1"])
    client = app.test_client()
    body = client.get("/claims", headers={"Authorization": bearer(token)}).json
    assert body["groups"] == ["a", "b"] and body["scopes"] == ["s1", "s2"]
    assert body["claims"]["cognito:groups"] == ["b", "a"]
    assert body["claims"]["username"] == "alice"
    whole_body = client.get("/jsonify", headers={"Authorization": bearer(token)}).json
    assert whole_body == body["claims"]


def test_decorator_order_does_not_matter_in_blueprints(pool: LocalUserPool, clock: Any) -> None:
    from flask import Blueprint

    auth = CognitoAuth(make_verifier(pool, clock))
    bp = Blueprint("orders", __name__)

    @auth.required(scopes="orders/write")
    @bp.post("/orders")
    def create() -> dict[str, Any]:
        return {"ok": True}

    app = Flask(__name__)
    app.register_blueprint(bp)
    auth.init_app(app)
    client = app.test_client()
    assert client.post("/orders").status_code == 401
    no_scope = client.post("/orders", headers={"Authorization": bearer(pool.access_token())})
    assert no_scope.status_code == 403
    token = pool.access_token(scopes=["orders/write"])
    assert client.post("/orders", headers={"Authorization": bearer(token)}).json == {"ok": True}
