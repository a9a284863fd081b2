"""Claims.to_model: the verified claims as a dataclass or pydantic model."""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import pydantic
import pytest
from conftest import Clock

from cognito_verify import Claims, ClaimsModelError, ConfigurationError
from cognito_verify._model import python_name
from cognito_verify.testing import LocalUserPool

Verify = Callable[..., Claims]

# What a V2 pre token generation trigger may add: strings, numbers, booleans,
# arrays and objects, kept as JSON values.
EXTRA = {
    "custom:tenant_id": "t-42",
    "custom:plan": "pro",
    "tier": 3,
    "beta": True,
    "ratio": 0.5,
    "entitlements": ["read", "write"],
    "limits": {"rps": 10, "burst": [1, 2]},
}


@dataclass(frozen=True)
class Caller:
    sub: str
    cognito_username: str
    custom_tenant_id: str
    cognito_groups: tuple[str, ...] = ()
    tier: int = 0
    beta: bool = False
    ratio: float = 0.0
    entitlements: list[str] = field(default_factory=list)
    limits: dict[str, Any] = field(default_factory=dict)
    plan: Literal["free", "pro"] = field(default="free", metadata={"claim": "custom:plan"})
    nickname: str | None = None


class PCaller(pydantic.BaseModel):
    sub: str
    cognito_username: str
    tenant: str = pydantic.Field(alias="custom:tenant_id")
    cognito_groups: frozenset[str] = frozenset()
    tier: int
    limits: dict[str, Any]
    auth_time: int


def test_dataclass_from_an_id_token(pool: LocalUserPool, clock: Clock, verify: Verify) -> None:
    verifier = pool.verifier(token_use="id", clock=clock)
    claims = verify(verifier, pool.id_token(groups=["admin", "ops"], claims=EXTRA))
    caller = claims.to_model(Caller)
    assert caller.cognito_username == "alice"
    assert caller.custom_tenant_id == "t-42"
    assert caller.cognito_groups == ("admin", "ops")
    assert (caller.tier, caller.beta, caller.ratio) == (3, True, 0.5)
    assert caller.entitlements == ["read", "write"]
    assert caller.limits == {"rps": 10, "burst": [1, 2]}
    assert caller.plan == "pro"  # metadata={"claim": ...}
    assert caller.nickname is None
    # A private copy: changing the model does not change the (shared, cached) claims.
    caller.entitlements.append("admin")
    assert claims["entitlements"] == ("read", "write")


def test_pydantic_model(pool: LocalUserPool, clock: Clock, verify: Verify) -> None:
    verifier = pool.verifier(token_use="id", clock=clock)
    claims = verify(verifier, pool.id_token(groups=["admin"], claims=EXTRA))
    caller = claims.to_model(PCaller)
    assert isinstance(caller, PCaller)
    assert caller.tenant == "t-42"  # pydantic's own alias names the claim
    assert caller.cognito_groups == frozenset({"admin"})
    assert caller.limits["burst"] == [1, 2]
    assert caller.auth_time == int(clock())


def test_explicit_aliases(pool: LocalUserPool, clock: Clock) -> None:
    @dataclass
    class Short:
        tenant_id: str
        groups: list[str]

    claims = pool.verifier(token_use="id", clock=clock).verify(
        pool.id_token(groups=["g"], claims=EXTRA)
    )
    short = claims.to_model(
        Short, aliases={"tenant_id": "custom:tenant_id", "groups": "cognito:groups"}
    )
    assert (short.tenant_id, short.groups) == ("t-42", ["g"])
    with pytest.raises(ConfigurationError, match="does not have"):
        claims.to_model(Short, aliases={"tenant": "custom:tenant_id"})


def test_the_naming_rule() -> None:
    assert python_name("cognito:groups") == "cognito_groups"
    assert python_name("custom:tenant_id") == "custom_tenant_id"
    assert python_name("custom:x-y.z") == "custom_x_y_z"
    assert python_name("1st") == "_1st"
    assert python_name("sub") == "sub"


def test_an_exact_name_wins_and_collisions_must_be_named(pool: LocalUserPool) -> None:
    @dataclass
    class One:
        custom_a: str

    assert Claims({"custom_a": "exact", "custom:a": "mapped"}).to_model(One).custom_a == "exact"
    with pytest.raises(ClaimsModelError, match="two claims"):
        Claims({"custom:a": "1", "custom-a": "2"}).to_model(One)
    assert (
        Claims({"custom:a": "1", "custom-a": "2"})
        .to_model(One, aliases={"custom_a": "custom-a"})
        .custom_a
        == "2"
    )


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        (
            {"sub": "s", "cognito:username": "u"},
            "custom_tenant_id: claim 'custom_tenant_id' is missing",
        ),
        (
            {**EXTRA, "sub": "s", "cognito:username": "u", "tier": "3"},
            "tier: claim 'tier' is a string",
        ),
        (
            {**EXTRA, "sub": "s", "cognito:username": "u", "beta": 1},
            "beta: claim 'beta' is a number",
        ),
        ({**EXTRA, "sub": "s", "cognito:username": "u", "tier": True}, "tier"),
        ({**EXTRA, "sub": "s", "cognito:username": "u", "custom:plan": "gold"}, "plan"),
        ({**EXTRA, "sub": "s", "cognito:username": "u", "entitlements": [1]}, "entitlements"),
        ({**EXTRA, "sub": "s", "cognito:username": "u", "limits": []}, "limits"),
    ],
    ids=["missing", "str-for-int", "int-for-bool", "bool-for-int", "literal", "list-item", "obj"],
)
def test_claims_that_do_not_fit_a_dataclass(
    payload: dict[str, Any], problem: str, caplog: pytest.LogCaptureFixture
) -> None:
    claims = Claims(payload)
    with pytest.raises(ClaimsModelError) as info:
        claims.to_model(Caller)
    exc = info.value
    assert problem in exc.message
    assert exc.status_code == 500 and exc.code == "claims_model_mismatch"
    assert exc.claims is claims
    assert "the verified claims do not fit Caller" in caplog.text  # the operator sees it
    # Field names and JSON types only: not the values (user data).
    assert "gold" not in exc.message and "t-42" not in exc.message


def test_claims_that_do_not_fit_a_pydantic_model(
    pool: LocalUserPool, clock: Clock, verify: Verify
) -> None:
    verifier = pool.verifier(token_use="id", clock=clock)
    claims = verify(verifier, pool.id_token(claims={**EXTRA, "tier": "lots"}))
    with pytest.raises(ClaimsModelError) as info:
        claims.to_model(PCaller)
    assert "tier" in info.value.message
    assert "lots" not in info.value.message
    assert info.value.claims is claims
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_post_init_refusal_is_a_model_error() -> None:
    @dataclass
    class Checked:
        sub: str

        def __post_init__(self) -> None:
            raise ValueError("no")

    with pytest.raises(ClaimsModelError, match="constructor raised ValueError"):
        Claims({"sub": "s"}).to_model(Checked)


def test_not_a_model_or_an_unsupported_annotation() -> None:
    @dataclass
    class WithDate:
        when: datetime.datetime

    class Plain:
        sub: str

    claims = Claims({"sub": "s", "when": 1})
    with pytest.raises(ConfigurationError, match="dataclass or a pydantic"):
        claims.to_model(Plain)
    with pytest.raises(ConfigurationError, match="pydantic"):
        claims.to_model(WithDate)


def test_pydantic_is_not_imported_for_dataclasses() -> None:
    code = (
        "import sys\n"
        "from dataclasses import dataclass\n"
        "from cognito_verify import Claims\n"
        "@dataclass\n"
        "class C:\n"
        "    sub: str\n"
        "print(Claims({'sub': 's'}).to_model(C).sub)\n"
        "print('pydantic' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    assert out == ["s", "False"]


def test_model_results_are_json_ready(pool: LocalUserPool, clock: Clock) -> None:
    claims = pool.verifier(token_use="id", clock=clock).verify(pool.id_token(claims=EXTRA))
    caller = claims.to_model(PCaller)
    assert json.loads(caller.model_dump_json(by_alias=True))["custom:tenant_id"] == "t-42"


# --- FastAPI: the model as the dependency's return type ---------------------------------


def test_fastapi_dependency_returns_the_model(pool: LocalUserPool, clock: Clock) -> None:
    from fastapi import Depends, FastAPI
    from fastapi.testclient import TestClient

    from cognito_verify.integrations.fastapi import CognitoAuth

    verifier = pool.verifier(token_use="id", clock=clock)
    auth = CognitoAuth(verifier)
    app = FastAPI()
    seen: list[object] = []

    @app.get("/dc")
    async def dc(caller: Caller = Depends(auth.as_model(Caller))) -> dict[str, Any]:  # noqa: B008
        seen.append(caller)
        return {"tenant": caller.custom_tenant_id, "groups": list(caller.cognito_groups)}

    @app.get("/pd")
    async def pd(
        caller: PCaller = Depends(auth.as_model(PCaller, max_auth_age=300)),  # noqa: B008
    ) -> dict[str, Any]:
        seen.append(caller)
        return {"tenant": caller.tenant}

    @app.get("/admin")
    async def admin(
        caller: Caller = Depends(auth.as_model(Caller, groups="admin")),  # noqa: B008
    ) -> dict[str, Any]:
        return {"ok": True}

    client = TestClient(app)
    auth_header = {"Authorization": f"Bearer {pool.id_token(groups=['ops'], claims=EXTRA)}"}
    r = client.get("/dc", headers=auth_header)
    assert (r.status_code, r.json()) == (200, {"tenant": "t-42", "groups": ["ops"]})
    assert isinstance(seen[-1], Caller)
    assert client.get("/pd", headers=auth_header).json() == {"tenant": "t-42"}
    assert isinstance(seen[-1], PCaller)
    assert client.get("/admin", headers=auth_header).status_code == 403

    # A token that verifies but does not fit: 500 with its own code, no details sent.
    misfit = {"Authorization": f"Bearer {pool.id_token(claims={**EXTRA, 'tier': 'x'})}"}
    r = client.get("/pd", headers=misfit)
    assert r.status_code == 500
    assert r.json()["detail"]["error"] == "claims_model_mismatch"
    assert "tier" not in r.text

    clock.advance(301)  # requirements pass through: step-up
    r = client.get("/pd", headers=auth_header)
    assert r.status_code == 401
    assert "max_age=300" in r.headers["www-authenticate"]
    assert "CognitoBearer" in client.get("/openapi.json").json()["components"]["securitySchemes"]
