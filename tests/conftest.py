"""Shared fixtures: a local user pool with a controllable clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from cognito_verify import Claims, CognitoVerifier
from cognito_verify.testing import JWKSServer, LocalUserPool

NOW = 1_800_000_000.0


class Clock:
    """A settable clock; tests move time instead of sleeping."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="session")
def _session_pool() -> LocalUserPool:
    # RSA key generation is the slow part; one pool (key) serves the whole session.
    return LocalUserPool("eu-west-1_TestPool1", ("client-a", "client-b"))


@pytest.fixture
def pool(_session_pool: LocalUserPool, clock: Clock) -> Iterator[LocalUserPool]:
    _session_pool.clock = clock
    yield _session_pool


@pytest.fixture(params=["sync", "async"])
def verify(request: pytest.FixtureRequest) -> Callable[..., Claims]:
    """Runs the same test through ``verify`` and ``averify``."""
    import asyncio

    def run(verifier: CognitoVerifier, token: Any, **kw: Any) -> Claims:
        if request.param == "sync":
            return verifier.verify(token, **kw)
        return asyncio.run(verifier.averify(token, **kw))

    return run


@pytest.fixture
def jwks_server(pool: LocalUserPool) -> Iterator[JWKSServer]:
    with pool.serve() as server:
        yield server
