"""Pool configuration: pool id -> issuers and JWKS URLs, validated at construction."""

from __future__ import annotations

from typing import Any

import pytest

from cognito_verify import CognitoVerifier, ConfigurationError, UserPool
from cognito_verify._pool import check_url, resolve

PID = "eu-west-1_AbCdEf123"


def pool(**kw: Any) -> UserPool:
    kw.setdefault("user_pool_id", PID)
    kw.setdefault("client_id", "c")
    kw.setdefault("token_use", "id")
    return UserPool(**kw)


def test_issuers_and_jwks_urls_of_a_pool() -> None:
    config = resolve(pool())
    assert config.region == "eu-west-1"
    assert config.issuers == (
        f"https://cognito-idp.eu-west-1.amazonaws.com/{PID}",
        f"https://issuer-cognito-idp.eu-west-1.amazonaws.com/{PID}",
    )
    assert dict(config.jwks_urls) == {iss: f"{iss}/.well-known/jwks.json" for iss in config.issuers}
    assert config.client_ids == frozenset({"c"})
    assert config.token_use == "id"
    assert config.static_jwks is None


@pytest.mark.parametrize(
    ("fmt", "hosts"),
    [("original", ["cognito-idp"]), ("updated", ["issuer-cognito-idp"])],
)
def test_issuer_format(fmt: Any, hosts: list[str]) -> None:
    config = resolve(pool(issuer_format=fmt))
    assert config.issuers == tuple(f"https://{h}.eu-west-1.amazonaws.com/{PID}" for h in hosts)


def test_replica_regions_add_issuers_keeping_the_pool_id() -> None:
    config = resolve(pool(replica_regions=["us-west-2", "eu-west-1"], issuer_format="original"))
    assert config.issuers == (
        f"https://cognito-idp.eu-west-1.amazonaws.com/{PID}",
        f"https://cognito-idp.us-west-2.amazonaws.com/{PID}",
    )
    assert config.jwks_urls[config.issuers[1]] == (
        f"https://cognito-idp.us-west-2.amazonaws.com/{PID}/.well-known/jwks.json"
    )


def test_jwks_url_serves_every_issuer_of_the_pool() -> None:
    config = resolve(pool(jwks_url="http://127.0.0.1:5000/jwks.json"))
    assert set(config.jwks_urls.values()) == {"http://127.0.0.1:5000/jwks.json"}
    # The issuers stay the real AWS ones.
    assert config.issuers[0] == f"https://cognito-idp.eu-west-1.amazonaws.com/{PID}"


def test_static_jwks_has_no_urls() -> None:
    config = resolve(pool(jwks={"keys": []}))
    assert dict(config.jwks_urls) == {}


def test_explicit_issuer_is_kept_exactly() -> None:
    """Regression: a trailing "/" used to be stripped, so tokens carrying exactly the
    configured issuer were refused."""
    config = resolve(pool(issuer="http://localhost:9229/local_x/", user_pool_id="local_x"))
    assert config.issuers == ("http://localhost:9229/local_x/",)
    assert config.jwks_urls == {
        "http://localhost:9229/local_x/": "http://localhost:9229/local_x/.well-known/jwks.json"
    }
    config = resolve(pool(issuer="http://localhost:9229/local_x", user_pool_id="local_x"))
    assert config.issuers == ("http://localhost:9229/local_x",)


def test_client_ids_as_list_set_or_tuple() -> None:
    for value in (["a", "b"], ("a", "b"), {"a", "b"}, frozenset({"a", "b"})):
        assert resolve(pool(client_id=value)).client_ids == frozenset({"a", "b"})
    assert resolve(pool(client_id=None)).client_ids is None
    assert resolve(pool(token_use=None)).token_use is None


@pytest.mark.parametrize("region", ["us-west", "US-WEST-2", "us_west_2", "", 5])
def test_bad_replica_region(region: Any) -> None:
    with pytest.raises(ConfigurationError, match="region"):
        resolve(pool(replica_regions=[region]))


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://keys.example/jwks.json", True),
        ("http://127.0.0.1/jwks.json", True),
        ("http://127.8.9.10/jwks.json", True),
        ("http://localhost:8000/x", True),
        ("http://[::1]/x", True),
        ("http://localhost.attacker.example/x", False),
        ("http://127.0.0.1.nip.io/x", False),
        ("http://192.168.1.1/x", False),
        ("https:///nohost", False),
        ("//keys.example/x", False),
        ("", False),
        (None, False),
    ],
)
def test_check_url(url: Any, ok: bool) -> None:
    if ok:
        assert check_url(url, "jwks_url", False) == url
    else:
        with pytest.raises(ConfigurationError, match="jwks_url"):
            check_url(url, "jwks_url", False)


def test_user_pool_is_frozen_and_keyword_only() -> None:
    p = pool()
    with pytest.raises(AttributeError):
        p.client_id = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        UserPool(PID, "c", "id")  # type: ignore[misc]


def test_verifier_exposes_resolved_pools() -> None:
    verifier = CognitoVerifier(
        pools=[
            pool(),
            pool(user_pool_id="us-east-1_Other1", client_id=["x", "y"], token_use="access"),
        ]
    )
    assert [p.user_pool_id for p in verifier.pools] == [PID, "us-east-1_Other1"]
    assert verifier.pools[1].client_ids == frozenset({"x", "y"})
