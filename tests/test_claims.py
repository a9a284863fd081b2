"""Claims: a read-only mapping of the verified payload, with typed accessors."""

from __future__ import annotations

import copy
import json
import pickle
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import pytest
from conftest import NOW, Clock

from cognito_verify import Claims
from cognito_verify.testing import LocalUserPool

Verify = Callable[..., Claims]

ID_PAYLOAD: dict[str, Any] = {
    "sub": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
    "iss": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TestPool1",
    "aud": "client-a",
    "client_id": "not-the-client",
    "token_use": "id",
    "cognito:username": "alice",
    "username": "not-the-username",
    "cognito:groups": ["admin", "ops"],
    "email": "alice@example.com",
    "email_verified": True,
    "identities": [{"providerName": "Google", "userId": "1"}],
    "address": {"formatted": "1 Main St"},
    "iat": 1_800_000_000,
    "exp": 1_800_003_600,
}

ACCESS_PAYLOAD: dict[str, Any] = {
    "sub": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
    "iss": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TestPool1",
    "client_id": "client-a",
    "token_use": "access",
    "username": "alice",
    "scope": "openid  orders/read\temail",
    "version": 2,
    "iat": 1_800_000_000.5,
    "exp": 1_800_003_600,
}


@pytest.fixture
def id_claims() -> Claims:
    return Claims(copy.deepcopy(ID_PAYLOAD))


@pytest.fixture
def access_claims() -> Claims:
    return Claims(dict(ACCESS_PAYLOAD))


def test_is_a_read_only_mapping(id_claims: Claims) -> None:
    assert isinstance(id_claims, Mapping)
    assert id_claims["email"] == "alice@example.com"
    assert set(id_claims) == set(ID_PAYLOAD)
    assert len(id_claims) == len(ID_PAYLOAD)
    assert "email" in id_claims and "nope" not in id_claims
    assert id_claims.get("nope", 1) == 1
    with pytest.raises(TypeError):
        id_claims["email"] = "mallory@example.com"  # type: ignore[index]
    with pytest.raises(TypeError):
        del id_claims["email"]  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        id_claims.sub = "x"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        id_claims._data = {}  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del id_claims._groups
    with pytest.raises(AttributeError):
        id_claims.extra = 1  # type: ignore[attr-defined]
    assert not hasattr(id_claims, "update") and not hasattr(id_claims, "pop")
    assert id_claims["email"] == "alice@example.com"


def test_nested_values_are_frozen(id_claims: Claims) -> None:
    groups = id_claims["cognito:groups"]
    assert groups == ("admin", "ops")
    assert isinstance(groups, tuple)
    identities = id_claims["identities"]
    assert isinstance(identities, tuple)
    assert isinstance(identities[0], MappingProxyType)
    with pytest.raises(TypeError):
        identities[0]["userId"] = "2"  # type: ignore[index]
    with pytest.raises(TypeError):
        id_claims["address"]["formatted"] = "x"  # type: ignore[index]


def test_input_is_copied(id_claims: Claims) -> None:
    payload = copy.deepcopy(ID_PAYLOAD)
    claims = Claims(payload)
    payload["cognito:groups"].append("root")
    payload["email"] = "mallory@example.com"
    assert claims.groups == {"admin", "ops"}
    assert claims["email"] == "alice@example.com"


def test_to_dict_returns_plain_mutable_copies(id_claims: Claims) -> None:
    data = id_claims.to_dict()
    assert data == ID_PAYLOAD
    assert type(data["cognito:groups"]) is list
    assert type(data["identities"][0]) is dict
    assert type(data["address"]) is dict
    assert json.loads(json.dumps(data)) == ID_PAYLOAD
    data["cognito:groups"].append("root")
    assert id_claims.groups == {"admin", "ops"}


def test_id_token_properties(id_claims: Claims) -> None:
    assert id_claims.sub == ID_PAYLOAD["sub"]
    assert id_claims.username == "alice"  # cognito:username wins
    assert id_claims.token_use == "id"
    assert id_claims.client_id == "client-a"  # aud, not client_id, for an ID token
    assert id_claims.issuer == ID_PAYLOAD["iss"]
    assert id_claims.groups == frozenset({"admin", "ops"})
    assert id_claims.scopes == frozenset()
    assert id_claims.issued_at == 1_800_000_000.0
    assert id_claims.expires_at == 1_800_003_600.0
    assert isinstance(id_claims.issued_at, float)
    assert not id_claims.is_machine


def test_access_token_properties(access_claims: Claims) -> None:
    assert access_claims.username == "alice"
    assert access_claims.client_id == "client-a"
    assert access_claims.scopes == frozenset({"openid", "orders/read", "email"})
    assert access_claims.groups == frozenset()
    assert access_claims.issued_at == 1_800_000_000.5
    assert access_claims.has_scope("orders/read")
    assert not access_claims.has_scope("orders")
    assert not access_claims.has_scope("")
    assert access_claims.has_all_scopes(["openid", "email"])
    assert not access_claims.has_all_scopes(["openid", "phone"])


def test_access_token_aud_is_not_its_client() -> None:
    claims = Claims({**ACCESS_PAYLOAD, "aud": "other", "client_id": 5})
    assert claims.client_id is None


def test_group_helpers(id_claims: Claims) -> None:
    assert id_claims.has_group("admin")
    assert not id_claims.has_group("Admin")
    assert id_claims.has_any_group(["dev", "ops"])
    assert not id_claims.has_any_group(["dev"])
    assert not id_claims.has_any_group([])


def test_groups_and_scopes_sets_are_frozen(id_claims: Claims) -> None:
    with pytest.raises(AttributeError):
        id_claims.groups.add("root")  # type: ignore[attr-defined]


@pytest.mark.parametrize("groups", [None, "admin", 5, {"a": 1}])
def test_odd_groups_claim_gives_no_groups(groups: Any) -> None:
    assert Claims({**ACCESS_PAYLOAD, "cognito:groups": groups}).groups == frozenset()


def test_machine_claims() -> None:
    claims = Claims(
        {**{k: v for k, v in ACCESS_PAYLOAD.items() if k != "username"}, "sub": "client-a"}
    )
    assert claims.username is None
    assert claims.is_machine
    assert claims.groups == frozenset()


def test_equality_and_hash(id_claims: Claims) -> None:
    same = Claims(copy.deepcopy(ID_PAYLOAD))
    assert id_claims == same
    assert hash(id_claims) == hash(same)
    assert id_claims != Claims({**ID_PAYLOAD, "email": "bob@example.com"})
    assert id_claims != ID_PAYLOAD  # a Claims equals only a Claims
    assert id_claims.to_dict() == ID_PAYLOAD
    assert len({id_claims, same}) == 1


def test_pickle_and_copy_round_trip(id_claims: Claims) -> None:
    for clone in (
        pickle.loads(pickle.dumps(id_claims)),
        copy.copy(id_claims),
        copy.deepcopy(id_claims),
    ):
        assert isinstance(clone, Claims)
        assert clone == id_claims
        assert clone.groups == {"admin", "ops"}
        assert isinstance(clone["identities"], tuple)


def test_repr_shows_identity_not_payload(id_claims: Claims) -> None:
    text = repr(id_claims)
    assert "alice" in text and "client-a" in text
    assert "alice@example.com" not in text


def test_verified_claims(pool: LocalUserPool, clock: Clock, verify: Verify) -> None:
    verifier = pool.verifier(token_use=None, clock=clock)
    claims = verify(verifier, pool.id_token("carol", groups=["a", "b"], claims={"custom:x": "1"}))
    assert isinstance(claims, Claims)
    assert claims.username == "carol"
    assert claims.groups == {"a", "b"}
    assert claims["cognito:groups"] == ("a", "b")
    assert claims["custom:x"] == "1"
    assert claims.issued_at == int(NOW)
    assert claims.expires_at == int(NOW) + 3600
    access = verify(verifier, pool.access_token("carol", scopes=["x/y", "openid"]))
    assert access.scopes == {"x/y", "openid"}
    assert access.client_id == pool.client_id


def test_hand_built_claims_repr_and_hash_do_not_raise() -> None:
    """Regression: repr() and hash() raised KeyError for a Claims without token_use/sub
    (users build such Claims as test doubles; a raising repr breaks logging)."""
    claims = Claims({"custom:tenant": "t1", "jti": {"odd": 1}})
    assert repr(claims) == "Claims(token_use=None, sub=None, username=None, client_id=None)"
    assert hash(claims) == hash(Claims({"custom:tenant": "t1", "jti": {"odd": 1}}))
    assert claims.client_id is None
