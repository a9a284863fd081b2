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


@pytest.mark.parametrize("value", ["a,b", "a, b", "a b", ["x", "a,b"], ("a\tb",)])
def test_several_client_ids_in_one_string_are_refused_with_the_list(value: Any) -> None:
    # "a,b" (an environment variable passed as it is) would refuse every token silently.
    with pytest.raises(ConfigurationError, match=r"client_id=\['a', 'b'\]"):
        resolve(pool(client_id=value))


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


# --- every partition ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pool_id", "domain"),
    [
        ("us-gov-west-1_AbC123", "amazonaws.com"),
        ("us-gov-east-1_AbC123", "amazonaws.com"),
        ("cn-north-1_AbC123", "amazonaws.com.cn"),
        ("cn-northwest-1_AbC123", "amazonaws.com.cn"),
        ("ap-southeast-5_AbC123", "amazonaws.com"),
        ("mx-central-1_AbC123", "amazonaws.com"),
    ],
)
def test_partition_domains(pool_id: str, domain: str) -> None:
    config = resolve(pool(user_pool_id=pool_id))
    region = pool_id.split("_")[0]
    assert config.issuers == (
        f"https://cognito-idp.{region}.{domain}/{pool_id}",
        f"https://issuer-cognito-idp.{region}.{domain}/{pool_id}",
    )
    assert set(config.jwks_urls.values()) == {f"{i}/.well-known/jwks.json" for i in config.issuers}


@pytest.mark.parametrize(
    "pool_id",
    ["eusc-de-east-1_AbC123", "us-iso-east-1_AbC123", "us-isob-east-1_AbC123", "eu-isoe-west-1_A1"],
)
def test_unconfirmed_partitions_need_an_explicit_issuer(pool_id: str) -> None:
    with pytest.raises(ConfigurationError, match=r"issuer=.*jwks_url=") as info:
        resolve(pool(user_pool_id=pool_id))
    assert "not confirmed" in info.value.message
    region = pool_id.split("_")[0]
    issuer = f"https://cognito-idp.{region}.example.eu/{pool_id}"
    config = resolve(pool(user_pool_id=pool_id, issuer=issuer))
    assert config.issuers == (issuer,)
    assert config.jwks_urls[issuer] == f"{issuer}/.well-known/jwks.json"


def test_eusc_pool_with_explicit_issuer_verifies_tokens() -> None:
    from cognito_verify.testing import LocalUserPool

    issuer = "https://cognito-idp.eusc-de-east-1.amazonaws.eu/eusc-de-east-1_AbC123"
    local = LocalUserPool("eusc-de-east-1_AbC123", ("c",))
    verifier = CognitoVerifier(
        "eusc-de-east-1_AbC123", client_id="c", token_use="access", issuer=issuer, jwks=local.jwks
    )
    assert verifier.verify(local.access_token(claims={"iss": issuer})).issuer == issuer


def test_china_pool_verifies_tokens_of_its_testing_kit() -> None:
    from cognito_verify.testing import LocalUserPool

    local = LocalUserPool("cn-northwest-1_AbC123", ("c",))
    assert (
        local.issuer == "https://cognito-idp.cn-northwest-1.amazonaws.com.cn/cn-northwest-1_AbC123"
    )
    verifier = CognitoVerifier(
        local.user_pool_id, client_id="c", token_use="access", jwks=local.jwks
    )
    assert verifier.verify(local.access_token()).issuer == local.issuer


@pytest.mark.parametrize(
    ("pool_id", "replica"),
    [
        ("us-east-1_A1", "cn-north-1"),
        ("cn-north-1_A1", "us-east-1"),
        ("us-east-1_A1", "eusc-de-east-1"),
    ],
)
def test_replicas_stay_in_the_partition(pool_id: str, replica: str) -> None:
    with pytest.raises(ConfigurationError, match="partition"):
        resolve(pool(user_pool_id=pool_id, replica_regions=[replica]))


def test_china_replica() -> None:
    config = resolve(
        pool(
            user_pool_id="cn-north-1_A1",
            replica_regions=["cn-northwest-1"],
            issuer_format="original",
        )
    )
    assert config.issuers == (
        "https://cognito-idp.cn-north-1.amazonaws.com.cn/cn-north-1_A1",
        "https://cognito-idp.cn-northwest-1.amazonaws.com.cn/cn-north-1_A1",
    )


@pytest.mark.parametrize("bad", ["moon-base-1_A1", "eusc_A1", "abcd-west-1_A1", "us-gov-west_A1"])
def test_region_shapes_still_refused(bad: str) -> None:
    with pytest.raises(ConfigurationError):
        resolve(pool(user_pool_id=bad))


@pytest.mark.parametrize(
    ("iss", "parsed"),
    [
        (
            "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Ab1",
            ("eu-west-1", "eu-west-1_Ab1"),
        ),
        (
            "https://issuer-cognito-idp.us-gov-west-1.amazonaws.com/us-gov-west-1_Ab1",
            ("us-gov-west-1", "us-gov-west-1_Ab1"),
        ),
        (
            "https://cognito-idp.cn-north-1.amazonaws.com.cn/cn-north-1_Ab1",
            ("cn-north-1", "cn-north-1_Ab1"),
        ),
        # a replica's issuer: the issuing region differs from the pool's home region
        (
            "https://cognito-idp.us-west-2.amazonaws.com/us-east-1_Ab1",
            ("us-west-2", "us-east-1_Ab1"),
        ),
        # not exactly the Cognito form: never parsed
        ("https://cognito-idp.cn-north-1.amazonaws.com/cn-north-1_Ab1", None),
        ("https://cognito-idp.eu-west-1.amazonaws.com.cn/eu-west-1_Ab1", None),
        ("https://cognito-idp.us-east-1.amazonaws.com/cn-north-1_Ab1", None),
        ("https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Ab1/", None),
        ("https://cognito-idp.eu-west-1.amazonaws.com:443/eu-west-1_Ab1", None),
        ("https://cognito-idp.eu-west-1.amazonaws.com.evil.example/eu-west-1_Ab1", None),
        ("http://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Ab1", None),
        ("https://cognito-idp.eusc-de-east-1.amazonaws.eu/eusc-de-east-1_Ab1", None),
        ("https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Ab1?x=1", None),
        ("https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Ab1\n", None),
    ],
)
def test_parse_issuer(iss: str, parsed: tuple[str, str] | None) -> None:
    from cognito_verify._pool import parse_issuer

    assert parse_issuer(iss) == parsed
