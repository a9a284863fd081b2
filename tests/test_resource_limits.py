"""Resource limits: token length, JSON depth, and bounded time/memory under a flood.

The bounds asserted are generous (several times what a 2-core machine measured) so
the tests do not flake under load, yet far below what a quadratic parser, a missing
length check or a cache of failures would cost.
"""

from __future__ import annotations

import gc
import os
import random
import time
import tracemalloc
from collections.abc import Callable

import pytest
from _attacks import claims, enc, header, raw_payload, token

from cognito_verify import (
    Claims,
    CognitoVerifier,
    CognitoVerifyError,
    ConfigurationError,
    InvalidTokenError,
    MalformedTokenError,
    UnknownKeyError,
)
from cognito_verify._token import DEFAULT_MAX_TOKEN_LENGTH, MAX_JSON_DEPTH
from cognito_verify.testing import LocalUserPool, b64url

Verify = Callable[..., Claims]
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def test_default_limit_fits_a_large_real_world_token(pool: LocalUserPool, verify: Verify) -> None:
    # A user in 100 groups with long names and many custom attributes: ~10 KB,
    # far above the 1-4 KB of typical Cognito tokens, still under the default.
    groups = [f"department-{i:03d}-with-a-fairly-long-group-name" for i in range(100)]
    extra = {f"custom:attribute_{i}": "v" * 40 for i in range(40)}
    big = pool.id_token(groups=groups, claims=extra)
    assert 8_000 < len(big) < DEFAULT_MAX_TOKEN_LENGTH
    verifier = pool.verifier(token_use="id", clock=pool.clock)
    assert len(verify(verifier, big).groups) == 100


def test_max_token_length_is_configurable(pool: LocalUserPool, verify: Verify) -> None:
    tok = pool.id_token()
    tight = pool.verifier(token_use="id", clock=pool.clock, max_token_length=len(tok) - 1)
    with pytest.raises(MalformedTokenError, match="above the limit"):
        verify(tight, tok)
    exact = pool.verifier(token_use="id", clock=pool.clock, max_token_length=len(tok))
    assert verify(exact, tok).sub
    huge = pool.id_token(claims={"filler": "x" * 60_000})
    roomy = pool.verifier(token_use="id", clock=pool.clock, max_token_length=128 * 1024)
    assert verify(roomy, huge).sub
    default = pool.verifier(token_use="id", clock=pool.clock)
    with pytest.raises(MalformedTokenError):
        verify(default, huge)


@pytest.mark.parametrize("bad", [0, 255, -1, 2.5e4, "32768", None, True])
def test_max_token_length_must_be_a_sane_int(pool: LocalUserPool, bad: object) -> None:
    with pytest.raises(ConfigurationError):
        pool.verifier(token_use="id", max_token_length=bad)


def test_json_depth_limit_is_exact(pool: LocalUserPool, verify: Verify) -> None:
    verifier = pool.verifier(token_use="id", clock=pool.clock)
    inner = MAX_JSON_DEPTH - 1  # the payload object itself is one level
    ok = raw_payload(pool, ',"x":' + "[" * inner + "]" * inner)
    assert verify(verifier, token(header(pool), ok, pool.private_key)).sub
    deep = raw_payload(pool, ',"x":' + "[" * (inner + 1) + "]" * (inner + 1))
    with pytest.raises(MalformedTokenError):
        verify(verifier, token(header(pool), deep, pool.private_key))
    # Brackets inside strings are not nesting.
    text = raw_payload(pool, ',"x":"' + "[" * 500 + '"')
    assert verify(verifier, token(header(pool), text, pool.private_key)).sub


def _garbage(pool: LocalUserPool) -> dict[str, str | bytes]:
    """Large refusals of different shapes, each exercising a different stage."""
    rnd = random.Random(7)

    def noise(n: int) -> str:
        return "".join(rnd.choice(B64) for _ in range(n))

    h = enc(header(pool))
    sig = b64url(os.urandom(256))
    good = claims(pool)
    long_ints = "{" + ",".join(f'"k{i}":' + "9" * 4_000 for i in range(5)) + "}"
    return {
        "one segment": noise(30_000),
        "three noise segments": ".".join([noise(10_000)] * 3),
        "big string claim": f"{h}.{enc({**good, 'x': 'y' * 22_000})}.{sig}",
        "brackets in a string": f"{h}.{enc({**good, 'x': '[{' * 11_000})}.{sig}",
        "many claims": f"{h}.{enc({**good, **{f'k{i}': i for i in range(1_800)}})}.{sig}",
        "huge header": f"{enc({**header(pool), 'x': 'z' * 22_000})}.{enc(good)}.{sig}",
        "dots": "." * 30_000,
        "deep": f"{h}.{enc('[' * 22_000)}.{sig}",
        "long integers": f"{h}.{enc(long_ints)}.{sig}",
        "non-ASCII bytes": bytes(rnd.randrange(128, 256) for _ in range(30_000)),
        "1 MB": "A" * 1_000_000,
    }


def _flood(verifier: CognitoVerifier, shapes: dict[str, str | bytes], n: int) -> dict[str, float]:
    """Verify ``n`` tokens cycling through ``shapes``; the slowest time per shape."""
    names = list(shapes)
    slowest = dict.fromkeys(names, 0.0)
    for i in range(n):
        name = names[i % len(names)]
        t0 = time.perf_counter()
        try:
            verifier.verify(shapes[name])
        except CognitoVerifyError as exc:
            assert type(exc) is not InvalidTokenError, f"{name}: internal error"
        else:
            pytest.fail(f"{name} was accepted")
        slowest[name] = max(slowest[name], time.perf_counter() - t0)
    return slowest


def test_flood_of_large_garbage_is_bounded_in_time_and_memory(pool: LocalUserPool) -> None:
    verifier = pool.verifier(token_use="id", clock=pool.clock)
    shapes = _garbage(pool)
    assert all(20_000 < len(t) for t in shapes.values())
    start = time.perf_counter()
    slowest = _flood(verifier, shapes, 10_000)
    elapsed = time.perf_counter() - start
    # Memory on a tenth of the flood: tracemalloc slows Python down several times.
    gc.collect()
    tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        _flood(verifier, shapes, 1_100)
        gc.collect()
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    print(
        f"\nflood: 10,000 tokens of {len(shapes)} shapes in {elapsed:.2f}s, slowest single "
        f"token {max(slowest.values()) * 1e3:.1f} ms; 1,100 more under tracemalloc: "
        f"peak +{(peak - base) / 1e6:.2f} MB, retained {(current - base) / 1e3:.1f} KB"
    )
    # Measured on this 2-core machine: ~3 s idle, ~8 s loaded; peak +0.5 MB; <100 KB
    # retained (the bounded memo of checked header segments).
    assert elapsed < 60, f"flood took {elapsed:.1f}s; slowest per shape: {slowest}"
    assert max(slowest.values()) < 0.5, slowest
    assert peak - base < 16 * 1024 * 1024, f"peak {peak - base} bytes"
    assert current - base < 1024 * 1024, f"{current - base} bytes retained after the flood"


def test_flood_of_invented_kids_costs_at_most_one_refetch(
    pool: LocalUserPool, verify: Verify
) -> None:
    # An attacker cannot turn a flood of tokens into a flood of requests to Cognito.
    with pool.serve() as server:
        verifier = CognitoVerifier(
            pool.user_pool_id,
            client_id=pool.client_id,
            token_use="id",
            jwks_url=server.jwks_url,
            clock=pool.clock,
        )
        payload = enc(claims(pool))
        for i in range(300):
            forged = f"{enc({'alg': 'RS256', 'kid': f'invented-{i}'})}.{payload}.AAAA"
            with pytest.raises(UnknownKeyError):
                verify(verifier, forged)
        assert server.request_count <= 2
        assert verify(verifier, pool.id_token()).sub


def test_repeated_valid_token_keeps_memory_flat(pool: LocalUserPool) -> None:
    verifier = pool.verifier(token_use="id", clock=pool.clock)
    tok = pool.id_token()
    verifier.verify(tok)
    gc.collect()
    tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        for _ in range(3_000):
            verifier.verify(tok)
        gc.collect()
        current, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert current - base < 256 * 1024, f"{current - base} bytes retained"
