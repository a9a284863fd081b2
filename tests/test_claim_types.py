"""Issue 16: every claim of the claim table has its JSON type checked on every
verification, whatever client_id / token_use say, through verify, averify and the
token cache; claims outside the table stay free."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from conftest import NOW, Clock

from cognito_verify import Claims, CognitoVerifier, InvalidClaimError
from cognito_verify._token import CLAIM_TYPES
from cognito_verify.testing import LocalUserPool

Verify = Callable[..., Claims]

# One value of each JSON type; a claim is tried with every one that is not its type.
WRONG: dict[str, Any] = {
    "number": 1_800_000_000,
    "float": 2.5,
    "string": "1800000000",
    "list": ["a"],
    "list of numbers": [1, 2],
    "object": {"a": "b"},
    "boolean": True,
    "false": False,
    "null": None,
}
RIGHT = {
    "number": {"number", "float"},
    "string": {"string"},
    "integer": {"number"},
    "array of strings": {"list"},
}
# Which token each claim is tried in: the one Cognito writes it into.
ID_ONLY = {"aud", "cognito:username"}
# (client_id, token_use): the checks that read a claim switched on and off.
CONFIGS = [("client-a", "configured"), (None, "configured"), ("client-a", None), (None, None)]
EXPECTED_TABLE = {
    "iss", "sub", "aud", "client_id", "token_use", "exp", "iat", "nbf", "auth_time",
    "jti", "origin_jti", "event_id", "username", "cognito:username", "cognito:groups",
    "scope", "version",
}  # fmt: skip


def _cases() -> list[tuple[str, str]]:
    return [
        (name, label)
        for name, kind in CLAIM_TYPES.items()
        for label in WRONG
        if label not in RIGHT[kind]
    ]


def _token(pool: LocalUserPool, name: str, value: Any) -> tuple[str, str]:
    use = "id" if name in ID_ONLY else "access"
    mint = pool.id_token if use == "id" else pool.access_token
    return use, mint(claims={name: value}, client_id="client-a")


def test_the_table_lists_every_claim_we_read_or_expose() -> None:
    assert set(CLAIM_TYPES) == EXPECTED_TABLE
    # Every typed property of Claims reads only claims of the table.
    assert {"exp", "iat", "sub", "iss", "token_use", "aud", "client_id", "username"} <= set(
        CLAIM_TYPES
    )
    assert CLAIM_TYPES["aud"] == "string"  # a list-valued aud is refused


@pytest.mark.parametrize(("name", "label"), _cases())
def test_mistyped_claim_is_refused_in_every_configuration(
    pool: LocalUserPool, clock: Clock, verify: Verify, name: str, label: str
) -> None:
    use, token = _token(pool, name, WRONG[label])
    for client_id, token_use in CONFIGS:
        for cache_size in (2048, 0):
            verifier = pool.verifier(
                client_id=client_id,
                token_use=use if token_use else None,  # type: ignore[arg-type]
                clock=clock,
                cache_size=cache_size,
            )
            for _ in range(2):  # the second call would be a token cache hit
                # (A mistyped iss is refused before the signature: it picks the pool.)
                with pytest.raises(InvalidClaimError, match=f"'{name}'|token's issuer"):
                    verify(verifier, token)
            assert len(verifier._cache) == 0


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("aud", 12345),
        ("aud", ["1234", 5678]),
        ("aud", ["client-a"]),
        ("aud", ["client-a", "client-b"]),
        ("username", 42),
        ("cognito:username", ["a"]),
        ("auth_time", "1700000000"),
        ("jti", 7),
        ("cognito:groups", ["admin", 1]),
        ("cognito:groups", ["admin", None]),
        ("version", 2.0),
        ("exp", 1e999),
        ("auth_time", 10**400),
    ],
)
def test_issue_examples_are_refused_with_checks_off(
    pool: LocalUserPool, clock: Clock, verify: Verify, name: str, value: Any
) -> None:
    use, token = _token(pool, name, value)
    if value == 1e999 or value == 10**400:  # not JSON the encoder writes as is
        import json

        from test_token import raw_token

        payload = {
            **pool_payload(pool, use),
            name: "@@",
        }
        text = json.dumps(payload).replace('"@@"', "1e999" if value == 1e999 else str(value))
        token = raw_token(json.dumps({"alg": "RS256", "kid": pool.kid}), text, pool.private_key)
    verifier = pool.verifier(client_id=None, token_use=None, clock=clock)
    with pytest.raises(InvalidClaimError, match=f"'{name}'"):
        verify(verifier, token)


def pool_payload(pool: LocalUserPool, use: str) -> dict[str, Any]:
    now = int(NOW)
    out: dict[str, Any] = {
        "iss": pool.issuer,
        "sub": "s-1",
        "token_use": use,
        "iat": now,
        "exp": now + 3600,
    }
    out["aud" if use == "id" else "client_id"] = "client-a"
    return out


@pytest.mark.parametrize("use", ["id", "access"])
def test_required_claims_are_required_with_checks_off(
    pool: LocalUserPool, clock: Clock, verify: Verify, use: str
) -> None:
    verifier = pool.verifier(client_id=None, token_use=None, clock=clock)
    for name in ("exp", "iat", "iss", "sub", "token_use"):
        mint = pool.id_token if use == "id" else pool.access_token
        with pytest.raises(InvalidClaimError, match=f"'{name}'|issuer"):
            verify(verifier, mint(omit=[name]))


@pytest.mark.parametrize(
    "value",
    [
        "true",  # moto writes email_verified as a string
        True,
        None,
        7,
        1.5,
        ["x", 1, None],
        {"nested": {"deep": [1, {"k": None}]}},
        "",
    ],
)
def test_claims_outside_the_table_stay_free(
    pool: LocalUserPool, clock: Clock, verify: Verify, value: Any
) -> None:
    extra = {
        "email_verified": value,
        "phone_number_verified": value,
        "custom:tenant": value,
        "identities": value,
        "cognito:roles": value,
        "pre_token_claim": value,
    }
    for client_id, token_use in CONFIGS:
        verifier = pool.verifier(
            client_id=client_id, token_use="id" if token_use else None, clock=clock
        )
        claims = verify(verifier, pool.id_token(claims=extra, client_id="client-a"))
        assert claims.to_dict()["custom:tenant"] == value


@pytest.mark.parametrize("config", CONFIGS)
def test_genuine_tokens_verify_and_properties_have_their_types(
    pool: LocalUserPool, clock: Clock, verify: Verify, config: tuple[str | None, str | None]
) -> None:
    client_id, token_use = config
    tokens = {
        "id": pool.id_token(groups=["a", "b"], client_id="client-a"),
        "access": pool.access_token(groups=["a"], client_id="client-a"),
        "machine": pool.client_credentials_token(client_id="client-a"),
        "float dates": pool.access_token(
            client_id="client-a", claims={"iat": NOW - 0.5, "exp": NOW + 60.5}
        ),
    }
    for kind, token in tokens.items():
        use = "id" if kind == "id" else "access"
        verifier = pool.verifier(
            client_id=client_id, token_use=use if token_use else None, clock=clock
        )
        for _ in range(2):  # cold, then from the token cache
            claims = verify(verifier, token)
            assert type(claims.sub) is str and type(claims.token_use) is str
            assert type(claims.issuer) is str and type(claims.client_id) is str
            assert claims.username is None or type(claims.username) is str
            assert type(claims.issued_at) is float and type(claims.expires_at) is float
            assert claims.auth_time is None or type(claims.auth_time) is float
            assert claims.jti is None or type(claims.jti) is str
            assert claims.origin_jti is None or type(claims.origin_jti) is str
            assert all(type(g) is str for g in claims.groups)
            assert all(type(s) is str for s in claims.scopes)
    machine = verify(verifier, tokens["machine"])
    assert machine.auth_time is None and machine.origin_jti is None and machine.is_machine


def test_averify_refuses_in_a_running_loop(pool: LocalUserPool, clock: Clock) -> None:
    # The same table through averify with several tokens awaited in one loop.
    verifier = CognitoVerifier(
        pool.user_pool_id, client_id=None, token_use=None, jwks=pool.jwks, clock=clock
    )
    bad = [_token(pool, name, {"x": 1})[1] for name in CLAIM_TYPES]

    async def run() -> list[BaseException | Claims]:
        return await asyncio.gather(*(verifier.averify(t) for t in bad), return_exceptions=True)

    results = asyncio.run(run())
    assert all(isinstance(r, InvalidClaimError) for r in results), results
