"""is_revoked: run on every call (cached tokens too), after the signature and claims,
sync or async; revoked -> 401 token_revoked; a failing hook -> 503, fail closed."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import Clock

from cognito_verify import (
    Claims,
    CognitoVerifier,
    ConfigurationError,
    CustomCheckError,
    InvalidTokenError,
    MissingGroupError,
    RevocationCheckError,
    TokenExpiredError,
    TokenRevokedError,
)
from cognito_verify.testing import LocalUserPool

Verify = Callable[..., Claims]


class DenyList:
    """The recipe of docs/revocation.md in miniature: origin_jti -> exp."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.entries: dict[str, float] = {}
        self.calls = 0

    def revoke(self, claims: Claims) -> None:
        self.entries[claims["origin_jti"]] = claims.expires_at

    def __call__(self, claims: Claims) -> bool:
        self.calls += 1
        exp = self.entries.get(claims.get("origin_jti", ""))
        return exp is not None and self.clock() < exp


class AsyncDenyList(DenyList):
    async def __call__(self, claims: Claims) -> bool:  # type: ignore[override]
        await asyncio.sleep(0)  # a real await, as a Redis lookup would do
        return DenyList.__call__(self, claims)


def test_revoked_token_is_refused_even_when_cached(
    pool: LocalUserPool, clock: Clock, verify: Verify
) -> None:
    deny = DenyList(clock)
    verifier = pool.verifier(token_use="access", clock=clock, is_revoked=deny)
    token, other = pool.access_token(), pool.access_token("bob")
    claims = verify(verifier, token)
    assert len(verifier._cache) == 1
    deny.revoke(claims)  # e.g. after RevokeToken on its refresh token
    with pytest.raises(TokenRevokedError) as info:
        verify(verifier, token)  # a cache hit: the hook still runs
    assert info.value.status_code == 401 and info.value.code == "token_revoked"
    assert isinstance(info.value, InvalidTokenError)
    assert info.value.claims is not None and info.value.claims["origin_jti"] == claims["origin_jti"]
    assert verify(verifier, other).username == "bob"  # only that session
    assert deny.calls == 3


def test_async_hook_is_awaited_and_refused_by_verify(pool: LocalUserPool, clock: Clock) -> None:
    deny = AsyncDenyList(clock)
    verifier = pool.verifier(token_use="access", clock=clock, is_revoked=deny)
    token = pool.access_token()
    claims = asyncio.run(verifier.averify(token))
    deny.revoke(claims)
    with pytest.raises(TokenRevokedError):
        asyncio.run(verifier.averify(token))
    with pytest.raises(ConfigurationError, match=r"is_revoked is an async function.*averify"):
        verifier.verify(token)


def test_the_hook_sees_only_tokens_that_passed_every_claim_check(
    pool: LocalUserPool, clock: Clock, verify: Verify
) -> None:
    deny = DenyList(clock)
    verifier = pool.verifier(token_use="access", clock=clock, is_revoked=deny)
    with pytest.raises(TokenExpiredError):
        verify(verifier, pool.access_token(lifetime=-5))
    with pytest.raises(InvalidTokenError):
        verify(verifier, pool.id_token())
    assert deny.calls == 0


def test_revocation_comes_before_authorization(
    pool: LocalUserPool, clock: Clock, verify: Verify
) -> None:
    """A revoked token gets 401 (sign in again), not 403 for a group it lacks."""
    verifier = pool.verifier(token_use="access", clock=clock, is_revoked=lambda c: True)
    with pytest.raises(TokenRevokedError):
        verify(verifier, pool.access_token(), groups=["admin"])
    allowed = pool.verifier(token_use="access", clock=clock, is_revoked=lambda c: False)
    with pytest.raises(MissingGroupError):
        verify(allowed, pool.access_token(), groups=["admin"])


class Broken(Exception):
    pass


def _raises(claims: Claims) -> bool:
    raise Broken("redis://user:secret@cache:6379 unreachable")


async def _araises(claims: Claims) -> bool:
    raise Broken("timeout")


@pytest.mark.parametrize(
    "hook",
    [_raises, lambda c: None, lambda c: 1, lambda c: "no"],
    ids=["raises", "returns-None", "returns-1", "returns-str"],
)
def test_a_failing_hook_fails_closed_with_503(
    pool: LocalUserPool,
    clock: Clock,
    verify: Verify,
    hook: Callable[[Claims], Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    verifier = pool.verifier(token_use="access", clock=clock, is_revoked=hook)
    token = pool.access_token()
    with caplog.at_level(logging.DEBUG, logger="cognito_verify"):
        with pytest.raises(RevocationCheckError) as info:
            verify(verifier, token)
    assert info.value.status_code == 503 and info.value.code == "revocation_check_failed"
    assert info.value.claims is not None
    # Neither the token nor the hook's own message (it may hold a secret) is shown.
    for text in (str(info.value), repr(info.value), caplog.text):
        assert token not in text and "secret" not in text


def test_async_hook_that_raises_fails_closed(pool: LocalUserPool, clock: Clock) -> None:
    verifier = pool.verifier(token_use="access", clock=clock, is_revoked=_araises)
    with pytest.raises(RevocationCheckError, match="Broken") as info:
        asyncio.run(verifier.averify(pool.access_token()))
    assert isinstance(info.value.__cause__, Broken)


def test_hook_raising_our_own_error_passes_through(
    pool: LocalUserPool, clock: Clock, verify: Verify
) -> None:
    def hook(claims: Claims) -> bool:
        raise TokenRevokedError("user deleted")

    verifier = pool.verifier(token_use="access", clock=clock, is_revoked=hook)
    with pytest.raises(TokenRevokedError, match="user deleted") as info:
        verify(verifier, pool.access_token())
    assert info.value.claims is not None  # attached on the way out


def test_is_revoked_must_be_callable(pool: LocalUserPool) -> None:
    with pytest.raises(ConfigurationError, match="is_revoked"):
        pool.verifier(token_use="access", is_revoked=True)


def test_authorize_does_not_run_the_hook_again(pool: LocalUserPool, clock: Clock) -> None:
    deny = DenyList(clock)
    verifier: CognitoVerifier = pool.verifier(token_use="access", clock=clock, is_revoked=deny)
    claims = verifier.verify(pool.access_token())
    verifier.authorize(claims)
    asyncio.run(verifier.aauthorize(claims))
    assert deny.calls == 1


def test_cancellation_is_not_a_refusal(pool: LocalUserPool, clock: Clock) -> None:
    """Cancelling the request while the hook awaits propagates; nothing is swallowed."""
    started = asyncio.Event()

    async def slow(claims: Claims) -> bool:
        started.set()
        await asyncio.sleep(3600)
        return False

    verifier = pool.verifier(token_use="access", clock=clock, is_revoked=slow)

    async def main() -> None:
        task = asyncio.create_task(verifier.averify(pool.access_token()))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())


def test_the_documented_deny_list(pool: LocalUserPool, clock: Clock, verify: Verify) -> None:
    """docs/examples/revocation_deny_list.py: by origin_jti, bounded by exp."""
    from _adapter_matrix import load_example

    example = load_example(
        Path(__file__).parent.parent / "docs" / "examples" / "revocation_deny_list.py"
    )
    deny = example.DenyList(maxsize=10, clock=clock)
    verifier = pool.verifier(token_use="access", clock=clock, is_revoked=deny)
    session = {"origin_jti": "session-1"}
    first = pool.access_token(claims=session, lifetime=600)
    claims = verify(verifier, first)
    refreshed = pool.access_token(claims=session, lifetime=3600)  # same origin_jti
    other = pool.access_token(claims={"origin_jti": "session-2"})
    deny.deny(claims)
    for token in (first, refreshed):
        with pytest.raises(TokenRevokedError):
            verify(verifier, token)
    assert verify(verifier, other).username == "alice"
    # The entry lives until the denied token's exp, then goes: the list stays small.
    clock.advance(601)
    assert not deny(Claims(_payload(refreshed)))
    assert len(deny._entries) == 0
    with pytest.raises(TokenExpiredError):
        verify(verifier, first)


def _payload(token: str) -> dict[str, Any]:
    import base64
    import json

    segment = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))))


def test_async_hooks_under_trio(pool: LocalUserPool, clock: Clock) -> None:
    """The rules only await what the hooks return: no asyncio is assumed."""
    import trio

    revoked: set[str] = set()

    async def is_revoked(claims: Claims) -> bool:
        await trio.sleep(0)
        return claims["jti"] in revoked

    async def custom_check(claims: Claims) -> bool:
        await trio.sleep(0)
        return claims.username != "bob"

    verifier = pool.verifier(
        token_use="access", clock=clock, is_revoked=is_revoked, custom_check=custom_check
    )
    token = pool.access_token()

    async def main() -> None:
        assert (await verifier.averify(token, max_auth_age=60)).username == "alice"
        with pytest.raises(CustomCheckError):
            await verifier.averify(pool.access_token("bob"))
        revoked.add((await verifier.averify(token))["jti"])
        with pytest.raises(TokenRevokedError):
            await verifier.averify(token)  # cached, refused

    trio.run(main)


def test_async_hooks_under_uvloop(pool: LocalUserPool, clock: Clock) -> None:
    uvloop = pytest.importorskip("uvloop")
    deny = AsyncDenyList(clock)
    verifier = pool.verifier(token_use="access", clock=clock, is_revoked=deny)
    token = pool.access_token()

    async def main() -> None:
        deny.revoke(await verifier.averify(token))
        with pytest.raises(TokenRevokedError):
            await verifier.averify(token)

    uvloop.run(main())
    assert deny.calls == 2
