"""CognitoVerifier: configuration at construction, several pools, authorization
(groups, scopes, custom check) and machine tokens, through verify and averify."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from conftest import Clock
from cryptography.hazmat.primitives.asymmetric import rsa

from cognito_verify import (
    Claims,
    CognitoVerifier,
    ConfigurationError,
    CustomCheckError,
    ForbiddenError,
    InvalidClientError,
    InvalidIssuerError,
    InvalidTokenError,
    InvalidTokenUseError,
    MissingGroupError,
    MissingScopeError,
    UnknownKeyError,
    UserPool,
)
from cognito_verify.testing import LocalUserPool

Verify = Callable[..., Claims]
POOL_ID = "eu-west-1_TestPool1"


# --- configuration -----------------------------------------------------------------


def test_client_id_and_token_use_are_required() -> None:
    with pytest.raises(TypeError, match="client_id is required"):
        CognitoVerifier(POOL_ID, token_use="access")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="token_use is required"):
        CognitoVerifier(POOL_ID, client_id="c")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        CognitoVerifier(POOL_ID)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="user_pool_id"):
        CognitoVerifier(client_id="c", token_use="id")
    # Stated on purpose, None is fine.
    CognitoVerifier(POOL_ID, client_id=None, token_use=None)


def test_user_pool_needs_client_id_and_token_use_too() -> None:
    with pytest.raises(TypeError, match="client_id"):
        CognitoVerifier(pools=[UserPool(user_pool_id=POOL_ID, token_use="id")])
    with pytest.raises(TypeError, match="token_use"):
        CognitoVerifier(pools=[UserPool(user_pool_id=POOL_ID, client_id="c")])


@pytest.mark.parametrize(
    "pool_id",
    [
        "",
        "TestPool1",
        "eu-west-1",
        "eu-west-1_",
        "_abc",
        "eu-west-1_abc/../x",
        "eu-west-1_abc.evil.com",
        "eu-west-1_abc def",
        "EU-WEST-1_abc",
        "eu-west_abc",
        "local_abc",
        "eu-west-1_abc?x=1",
        "eu-west-1_ab#c",
        42,
        None,
    ],
)
def test_bad_pool_id(pool_id: Any) -> None:
    error = TypeError if pool_id is None else ConfigurationError
    with pytest.raises(error, match="user_pool_id"):
        CognitoVerifier(pool_id, client_id="c", token_use="id")


@pytest.mark.parametrize(
    "pool_id", ["eu-west-1_AbCdEf123", "us-gov-west-1_abc", "eu-central-2_X", "ap-southeast-3_1"]
)
def test_good_pool_ids(pool_id: str) -> None:
    verifier = CognitoVerifier(pool_id, client_id="c", token_use="id")
    assert verifier.pools[0].region == pool_id.split("_")[0]


def test_emulator_pool_id_needs_an_issuer() -> None:
    with pytest.raises(ConfigurationError, match="issuer="):
        CognitoVerifier("local_abc", client_id="c", token_use="id")
    verifier = CognitoVerifier(
        "local_abc", client_id="c", token_use="id", issuer="http://localhost:9229/local_abc"
    )
    assert verifier.pools[0].issuers == ("http://localhost:9229/local_abc",)


@pytest.mark.parametrize("token_use", ["ID", "Access", "refresh", "both", "", ["id"], 1])
def test_bad_token_use(token_use: Any) -> None:
    with pytest.raises(ConfigurationError, match="token_use"):
        CognitoVerifier(POOL_ID, client_id="c", token_use=token_use)


@pytest.mark.parametrize("client_id", [[], (), "", [""], [" c"], ["c", 1], 42, b"c", {"c": 1}])
def test_bad_client_id(client_id: Any) -> None:
    with pytest.raises(ConfigurationError, match="client_id"):
        CognitoVerifier(POOL_ID, client_id=client_id, token_use="id")


def test_jwks_and_jwks_url_together(pool: LocalUserPool) -> None:
    with pytest.raises(ConfigurationError, match="not both"):
        CognitoVerifier(
            POOL_ID,
            client_id="c",
            token_use="id",
            jwks=pool.jwks,
            jwks_url="https://keys.example/jwks.json",
        )


@pytest.mark.parametrize(
    "url",
    ["http://keys.example/jwks.json", "http://10.0.0.1/jwks.json", "http://0.0.0.0:8080/jwks.json"],
)
def test_plain_http_jwks_url_off_loopback(url: str) -> None:
    with pytest.raises(ConfigurationError, match="allow_insecure_jwks_url"):
        CognitoVerifier(POOL_ID, client_id="c", token_use="id", jwks_url=url)
    # The explicit opt-in is honoured.
    CognitoVerifier(
        POOL_ID, client_id="c", token_use="id", jwks_url=url, allow_insecure_jwks_url=True
    )


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9/jwks.json", "http://localhost:9/x", "http://[::1]:9/x"]
)
def test_plain_http_on_loopback_is_allowed(url: str) -> None:
    CognitoVerifier(POOL_ID, client_id="c", token_use="id", jwks_url=url)


@pytest.mark.parametrize("url", ["", "jwks.json", "ftp://keys.example/j", "file:///etc/passwd", 5])
def test_jwks_url_must_be_http(url: Any) -> None:
    with pytest.raises(ConfigurationError, match="jwks_url"):
        CognitoVerifier(POOL_ID, client_id="c", token_use="id", jwks_url=url)


@pytest.mark.parametrize("leeway", [-1, float("nan"), float("inf"), True, "5", None, 301])
def test_bad_leeway(leeway: Any) -> None:
    with pytest.raises(ConfigurationError, match="leeway"):
        CognitoVerifier(POOL_ID, client_id="c", token_use="id", leeway=leeway)


@pytest.mark.parametrize(
    "extra",
    [
        {"user_pool_id": POOL_ID},
        {"client_id": "c"},
        {"client_id": None},
        {"token_use": "id"},
        {"token_use": None},
        {"jwks_url": "https://keys.example/j"},
        {"issuer": "https://issuer.example"},
        {"replica_regions": ["us-east-1"]},
    ],
    ids=lambda d: next(iter(d)),
)
def test_pools_cannot_be_mixed_with_single_pool_arguments(extra: dict[str, Any]) -> None:
    pools = [UserPool(user_pool_id=POOL_ID, client_id="c", token_use="id")]
    with pytest.raises(ConfigurationError, match="pools= replaces"):
        CognitoVerifier(pools=pools, **extra)


@pytest.mark.parametrize(
    "pools", [[], UserPool(user_pool_id=POOL_ID, client_id="c", token_use="id"), ["x"]]
)
def test_pools_must_be_a_list_of_user_pools(pools: Any) -> None:
    with pytest.raises(ConfigurationError, match="pools"):
        CognitoVerifier(pools=pools)


def test_same_pool_twice_is_refused() -> None:
    p = UserPool(user_pool_id=POOL_ID, client_id="c", token_use="id")
    with pytest.raises(ConfigurationError, match="two pools"):
        CognitoVerifier(pools=[p, p])


@pytest.mark.parametrize(
    "options",
    [
        {"groups": []},
        {"groups": [""]},
        {"scopes": 5},
        {"all_scopes": [" x"]},
        {"custom_check": "not callable"},
        {"clock": 5},
        {"http_client": httpx.AsyncClient},
        {"max_token_length": 10},
        {"jwks": {"keys": []}},
        {"jwks": {"nokeys": 1}},
        {"jwks": [1]},
        {"issuer_format": "new"},
        {"replica_regions": "us-east-1"},
        {"replica_regions": ["moon-base-1"]},
        {"replica_regions": ["us-east-1"], "issuer": "https://x.example"},
        {"issuer": "not a url"},
    ],
    ids=lambda d: "-".join(f"{k}" for k in d),
)
def test_other_bad_options(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        CognitoVerifier(POOL_ID, client_id="c", token_use="id", **options)


def test_configuration_error_is_a_value_error_with_advice() -> None:
    with pytest.raises(ValueError, match="eu-west-1_AbCdEf123"):
        CognitoVerifier("bad", client_id="c", token_use="id")


class CountingTransport(httpx.MockTransport):
    def __init__(self, jwks: dict[str, Any]) -> None:
        self.calls = 0

        def handler(request: httpx.Request) -> httpx.Response:
            self.calls += 1
            return httpx.Response(200, json=jwks)

        super().__init__(handler)


def test_constructor_does_no_network_io(pool: LocalUserPool, clock: Clock) -> None:
    transport = CountingTransport(pool.jwks)
    with httpx.Client(transport=transport) as client:
        verifier = CognitoVerifier(
            pool.user_pool_id,
            client_id=pool.client_id,
            token_use="access",
            jwks_url="https://unreachable.invalid/jwks.json",
            http_client=client,
            clock=clock,
        )
        assert transport.calls == 0
        # The first verification fetches, once; the next uses the cache.
        assert verifier.verify(pool.access_token()).username == "alice"
        assert verifier.verify(pool.access_token()).username == "alice"
        assert transport.calls == 1


def test_constructor_does_no_io_without_injected_clients(
    pool: LocalUserPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Any attempt to open a connection would go through these; none may be made.
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("network IO in the constructor")

    monkeypatch.setattr(httpx.Client, "send", refuse)
    monkeypatch.setattr(httpx.AsyncClient, "send", refuse)
    monkeypatch.setattr("socket.getaddrinfo", refuse)
    verifier = CognitoVerifier(pool.user_pool_id, client_id="c", token_use="id")
    assert verifier.pools[0].jwks_urls


def test_hydrate_fetches_ahead(pool: LocalUserPool, clock: Clock) -> None:
    transport = CountingTransport(pool.jwks)
    with httpx.Client(transport=transport) as client:
        verifier = pool.verifier(
            token_use="access", jwks=None, issuer_format="original", http_client=client, clock=clock
        )
        verifier.hydrate()
        assert transport.calls == 1
        verifier.verify(pool.access_token())
        assert transport.calls == 1


def test_ahydrate_fetches_ahead(pool: LocalUserPool, clock: Clock) -> None:
    transport = CountingTransport(pool.jwks)

    async def main() -> None:
        async with httpx.AsyncClient(transport=transport) as client:
            verifier = pool.verifier(
                token_use="access",
                jwks=None,
                issuer_format="original",
                async_http_client=client,
                clock=clock,
            )
            await verifier.ahydrate()
            assert transport.calls == 1
            await verifier.averify(pool.access_token())
            assert transport.calls == 1

    asyncio.run(main())


def test_repr_names_pools_only(pool: LocalUserPool) -> None:
    verifier = pool.verifier(token_use="id")
    assert repr(verifier) == f"<CognitoVerifier pools=[{pool.user_pool_id}]>"


# --- several pools -----------------------------------------------------------------


@pytest.fixture(scope="module")
def staff_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def staff(staff_key: rsa.RSAPrivateKey, clock: Clock) -> LocalUserPool:
    return LocalUserPool("us-east-1_StaffPool", ("staff-web",), clock=clock, key=staff_key)


@pytest.fixture
def two_pools(pool: LocalUserPool, staff: LocalUserPool, clock: Clock) -> CognitoVerifier:
    return CognitoVerifier(
        pools=[
            UserPool(
                user_pool_id=pool.user_pool_id,
                client_id="client-a",
                token_use="access",
                jwks=pool.jwks,
            ),
            UserPool(
                user_pool_id=staff.user_pool_id,
                client_id="staff-web",
                token_use="id",
                jwks=staff.jwks,
            ),
        ],
        clock=clock,
    )


def test_each_pool_with_its_own_rules(
    pool: LocalUserPool, staff: LocalUserPool, two_pools: CognitoVerifier, verify: Verify
) -> None:
    customer = verify(two_pools, pool.access_token("alice", client_id="client-a"))
    assert (customer.issuer, customer.token_use) == (pool.issuer, "access")
    employee = verify(two_pools, staff.id_token("bob", client_id="staff-web"))
    assert (employee.issuer, employee.token_use) == (staff.issuer, "id")

    # Pool B's rules apply to pool B's tokens, not pool A's, and the other way round.
    with pytest.raises(InvalidTokenUseError):
        verify(two_pools, staff.access_token("bob", client_id="staff-web"))
    with pytest.raises(InvalidClientError):
        verify(two_pools, staff.id_token("bob", client_id="client-a"))
    with pytest.raises(InvalidTokenUseError):
        verify(two_pools, pool.id_token("alice", client_id="client-a"))
    with pytest.raises(InvalidClientError):
        verify(two_pools, pool.access_token("alice", client_id="staff-web"))
    with pytest.raises(InvalidClientError):
        verify(two_pools, pool.access_token("alice", client_id="client-b"))


def test_key_of_one_pool_does_not_sign_for_another(
    pool: LocalUserPool, staff: LocalUserPool, two_pools: CognitoVerifier, verify: Verify
) -> None:
    # A token claiming the staff pool, signed by the customer pool's key: the kid
    # is looked up in the staff pool's keys only.
    forged = pool.sign(
        {**_payload_from(staff.id_token("mallory", client_id="staff-web"))},
    )
    with pytest.raises(UnknownKeyError):
        verify(two_pools, forged)


def _payload_from(token: str) -> dict[str, Any]:
    import base64
    import json

    seg = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4))))


def test_unconfigured_pool_is_an_issuer_error(
    pool: LocalUserPool, two_pools: CognitoVerifier, verify: Verify
) -> None:
    # Signed by a known key but naming a pool this verifier was not given.
    payload = _payload_from(pool.access_token(client_id="client-a"))
    payload["iss"] = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Unknown99"
    with pytest.raises(InvalidIssuerError):
        verify(two_pools, pool.sign(payload))


def test_user_pool_options_apply_per_pool(
    pool: LocalUserPool, clock: Clock, verify: Verify
) -> None:
    replica = "https://cognito-idp.us-west-2.amazonaws.com/" + pool.user_pool_id
    verifier = CognitoVerifier(
        pools=[
            UserPool(
                user_pool_id=pool.user_pool_id,
                client_id=None,
                token_use=None,
                jwks=pool.jwks,
                replica_regions=["us-west-2"],
            )
        ],
        clock=clock,
    )
    claims = verify(verifier, pool.sign({**_payload_from(pool.id_token()), "iss": replica}))
    assert claims.issuer == replica


# --- authorization -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "groups", "ok"),
    [
        ({"groups": "admin"}, ["admin"], True),
        ({"groups": ["admin", "ops"]}, ["ops"], True),
        ({"groups": ["admin", "ops"]}, ["dev"], False),
        ({"groups": ["admin"]}, [], False),
        ({"all_groups": ["admin", "ops"]}, ["admin", "ops", "dev"], True),
        ({"all_groups": ["admin", "ops"]}, ["admin"], False),
        ({"all_groups": "admin"}, [], False),
        ({"groups": ["Admin"]}, ["admin"], False),
    ],
)
def test_groups(
    pool: LocalUserPool,
    clock: Clock,
    verify: Verify,
    options: dict[str, Any],
    groups: list[str],
    ok: bool,
) -> None:
    token = pool.access_token(groups=groups)
    # At the verifier level and per call, the same rule.
    verifier = pool.verifier(token_use="access", clock=clock, **options)
    plain = pool.verifier(token_use="access", clock=clock)
    for run in (lambda: verify(verifier, token), lambda: verify(plain, token, **options)):
        if ok:
            assert run().groups == set(groups)
        else:
            with pytest.raises(MissingGroupError) as info:
                run()
            assert isinstance(info.value, ForbiddenError)
            assert not isinstance(info.value, InvalidTokenError)
            assert info.value.status_code == 403


@pytest.mark.parametrize(
    ("options", "scopes", "ok"),
    [
        ({"scopes": "orders/read"}, ["orders/read"], True),
        ({"scopes": ["orders/read", "orders/write"]}, ["orders/write", "openid"], True),
        ({"scopes": ["orders/read"]}, ["openid"], False),
        ({"scopes": ["orders/read"]}, [], False),
        ({"all_scopes": ["openid", "email"]}, ["openid", "email", "profile"], True),
        ({"all_scopes": ["openid", "email"]}, ["openid"], False),
        ({"scopes": ["orders"]}, ["orders/read"], False),
    ],
)
def test_scopes(
    pool: LocalUserPool,
    clock: Clock,
    verify: Verify,
    options: dict[str, Any],
    scopes: list[str],
    ok: bool,
) -> None:
    token = pool.access_token(scopes=scopes)
    verifier = pool.verifier(token_use="access", clock=clock, **options)
    plain = pool.verifier(token_use="access", clock=clock)
    for run in (lambda: verify(verifier, token), lambda: verify(plain, token, **options)):
        if ok:
            assert run().scopes == set(scopes)
        else:
            with pytest.raises(MissingScopeError) as info:
                run()
            assert isinstance(info.value, ForbiddenError)
            assert not isinstance(info.value, InvalidTokenError)


def test_per_call_requirements_add_to_the_verifiers(
    pool: LocalUserPool, clock: Clock, verify: Verify
) -> None:
    verifier = pool.verifier(token_use="access", clock=clock, groups=["staff"])
    token = pool.access_token(groups=["staff"], scopes=["a"])
    assert verify(verifier, token, scopes=["a"]).username == "alice"
    with pytest.raises(MissingScopeError):
        verify(verifier, token, scopes=["b"])
    with pytest.raises(MissingGroupError):
        verify(verifier, pool.access_token(groups=["admin"]), groups=["admin"])
    with pytest.raises(MissingGroupError):
        verify(verifier, token, all_groups=["staff", "admin"])


@pytest.mark.parametrize("bad", [{"groups": []}, {"scopes": [""]}, {"all_groups": 3}])
def test_bad_per_call_requirements_are_type_errors(
    pool: LocalUserPool, clock: Clock, verify: Verify, bad: dict[str, Any]
) -> None:
    with pytest.raises(TypeError):
        verify(pool.verifier(token_use="access", clock=clock), pool.access_token(), **bad)


def test_authorization_runs_after_every_other_check(
    pool: LocalUserPool, clock: Clock, verify: Verify
) -> None:
    verifier = pool.verifier(token_use="access", clock=clock, groups=["admin"])
    # An invalid token without the group is a 401 (invalid), not a 403.
    with pytest.raises(InvalidClientError):
        verify(verifier, pool.access_token(client_id="other"))


def test_custom_check(pool: LocalUserPool, clock: Clock, verify: Verify) -> None:
    seen: list[Claims] = []

    def only_verified_emails(claims: Claims) -> bool:
        seen.append(claims)
        return claims.get("email_verified") is True

    verifier = pool.verifier(token_use="id", clock=clock, custom_check=only_verified_emails)
    assert verify(verifier, pool.id_token()).username == "alice"
    with pytest.raises(CustomCheckError) as info:
        verify(verifier, pool.id_token(claims={"email_verified": False}))
    assert isinstance(info.value, ForbiddenError)
    # Runs last, only on tokens that passed everything else.
    with pytest.raises(InvalidClientError):
        verify(verifier, pool.id_token(client_id="other"))
    assert len(seen) == 2


def test_custom_check_that_raises_is_a_refusal(
    pool: LocalUserPool, clock: Clock, verify: Verify
) -> None:
    def broken(claims: Claims) -> bool:
        raise KeyError("custom:tenant")

    verifier = pool.verifier(token_use="id", clock=clock, custom_check=broken)
    with pytest.raises(CustomCheckError, match="KeyError") as info:
        verify(verifier, pool.id_token())
    # Fail closed, and the cause is kept for the server's traceback.
    assert isinstance(info.value.__cause__, KeyError)
    assert info.value.claims is not None and info.value.claims.username == "alice"


def test_machine_tokens(pool: LocalUserPool, clock: Clock, verify: Verify) -> None:
    verifier = pool.verifier(token_use="access", clock=clock, scopes=["orders-api/orders.read"])
    claims = verify(verifier, pool.client_credentials_token())
    assert claims.username is None
    assert claims.groups == frozenset()
    assert claims.sub == claims.client_id == pool.client_id
    assert claims.is_machine
    with pytest.raises(MissingGroupError):
        verify(verifier, pool.client_credentials_token(), groups=["admin"])
    with pytest.raises(MissingScopeError):
        verify(verifier, pool.client_credentials_token(scopes=["orders-api/orders.write"]))
    with pytest.raises(InvalidClientError):
        verify(verifier, pool.client_credentials_token(client_id="other-machine"))


def test_authorize_on_verified_claims(pool: LocalUserPool, clock: Clock) -> None:
    verifier = pool.verifier(token_use="access", clock=clock, groups=["staff"])
    claims = verifier.verify(pool.access_token(groups=["staff"], scopes=["a", "b"]))
    verifier.authorize(claims)
    verifier.authorize(claims, all_scopes=["a", "b"])
    with pytest.raises(MissingScopeError):
        verifier.authorize(claims, scopes=["c"])
    with pytest.raises(MissingGroupError):
        verifier.authorize(claims, groups="admin")
    with pytest.raises(MissingGroupError):
        verifier.authorize(Claims({**claims.to_dict(), "cognito:groups": ["other"]}))
    with pytest.raises(TypeError):
        verifier.authorize(claims, groups=[])


def test_authorize_runs_custom_check(pool: LocalUserPool, clock: Clock) -> None:
    verifier = pool.verifier(
        token_use="access", clock=clock, custom_check=lambda c: c.username == "alice"
    )
    verifier.authorize(verifier.verify(pool.access_token("alice")))
    with pytest.raises(CustomCheckError):
        verifier.authorize(Claims(_payload_from(pool.access_token("bob"))))


# --- only this library's errors escape -----------------------------------------------


def test_unexpected_internal_error_is_a_refusal(
    pool: LocalUserPool, clock: Clock, verify: Verify
) -> None:
    def broken_clock() -> float:
        raise RuntimeError("clock broke")

    verifier = pool.verifier(token_use="access", clock=broken_clock)
    with pytest.raises(InvalidTokenError) as info:
        verify(verifier, pool.access_token())
    assert info.value.code == "invalid_token"
    assert "clock broke" not in str(info.value)


def test_jwks_response_already_in_memory(pool: LocalUserPool, clock: Clock, verify: Verify) -> None:
    """Regression: the body used to be read with iter_raw, so a response whose content
    was already in memory (httpx.MockTransport with json=) raised StreamConsumed."""
    jwks = pool.jwks
    sync = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(200, json=jwks)))
    asyn = httpx.AsyncClient(
        transport=httpx.MockTransport(lambda r: httpx.Response(200, json=jwks))
    )
    verifier = pool.verifier(
        token_use="access",
        jwks=None,
        jwks_url="https://keys.example/jwks.json",
        http_client=sync,
        async_http_client=asyn,
        clock=clock,
    )
    assert verify(verifier, pool.access_token()).username == "alice"
    sync.close()
    asyncio.run(asyn.aclose())


def test_async_custom_check_needs_averify(pool: LocalUserPool, clock: Clock) -> None:
    """An async custom_check is awaited by averify; verify refuses at once (a coroutine
    is truthy: used as a verdict, a check that would deny would allow every token)."""
    seen: list[str] = []

    async def deny_bob(claims: Claims) -> bool:
        seen.append(str(claims.username))
        return claims.username != "bob"

    verifier = pool.verifier(token_use="access", clock=clock, custom_check=deny_bob)
    assert asyncio.run(verifier.averify(pool.access_token("alice"))).username == "alice"
    with pytest.raises(CustomCheckError):
        asyncio.run(verifier.averify(pool.access_token("bob")))
    with pytest.raises(ConfigurationError, match=r"averify\(\)"):
        verifier.verify(pool.access_token("alice"))
    with pytest.raises(ConfigurationError, match=r"aauthorize\(\)"):
        verifier.authorize(Claims(_payload_from(pool.access_token())))
    assert seen == ["alice", "bob"]


def test_async_call_object_is_seen_as_async(pool: LocalUserPool, clock: Clock) -> None:
    class Deny:  # an async __call__ is not seen by iscoroutinefunction on the object
        async def __call__(self, claims: Claims) -> bool:
            return False

    verifier = pool.verifier(token_use="access", clock=clock, custom_check=Deny())
    with pytest.raises(ConfigurationError, match="averify"):
        verifier.verify(pool.access_token())
    with pytest.raises(CustomCheckError):
        asyncio.run(verifier.averify(pool.access_token()))


def test_awaitable_returned_by_a_plain_function(pool: LocalUserPool, clock: Clock) -> None:
    """A sync-looking check that returns a coroutine (a lambda around an async def)
    is awaited by averify and refused, never taken as a verdict, by verify."""

    async def deny(claims: Claims) -> bool:
        return False

    verifier = pool.verifier(token_use="access", clock=clock, custom_check=lambda c: deny(c))
    token = pool.access_token()
    with pytest.raises(ConfigurationError, match="returned an awaitable"):
        verifier.verify(token)
    with pytest.raises(CustomCheckError):
        asyncio.run(verifier.averify(token))
    with pytest.raises(ConfigurationError, match="returned an awaitable"):
        verifier.verify(token)  # cached now: the check still runs, and still refuses


def test_repeated_token_is_still_authorized_per_call(
    pool: LocalUserPool, clock: Clock, verify: Verify
) -> None:
    # The second and later calls may be served from the verified-token cache; the
    # per-call and verifier-level requirements must apply to them all the same.
    verifier = pool.verifier(token_use="access", clock=clock, scopes=["a"])
    token = pool.access_token(groups=["staff"], scopes=["a"])
    for _ in range(2):
        assert verify(verifier, token).groups == {"staff"}
        with pytest.raises(MissingGroupError):
            verify(verifier, token, groups=["admin"])
        with pytest.raises(MissingScopeError):
            verify(verifier, token, all_scopes=["a", "b"])
    strict = pool.verifier(token_use="access", clock=clock, scopes=["b"])
    with pytest.raises(MissingScopeError):
        verify(strict, token)
    with pytest.raises(MissingScopeError):
        verify(strict, token)
