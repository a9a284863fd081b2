"""No token text in log records, error messages, reprs, tracebacks or HTTP refusals.

Replays the whole attack catalogue of test_advisories (tests/_attacks.py) through
``verify`` and ``averify``, with offline keys and with keys fetched over HTTP, while
capturing every log record at DEBUG (the library's logger and the root logger). Then:

* no 20-character slice of any token segment appears anywhere captured;
* an error raised before the signature is verified echoes no value taken from the
  token (every string of 8+ characters in its header and payload), because those
  values are the attacker's until the signature holds.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import traceback
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from _attacks import ATTACKS, Case

from cognito_verify import (
    CognitoVerifier,
    CognitoVerifyError,
    InvalidClaimError,
    InvalidIssuerError,
)
from cognito_verify.integrations._http import refusal
from cognito_verify.testing import LocalUserPool

WINDOW = 20


def _text(tok: Any) -> str:
    if isinstance(tok, bytes | bytearray | memoryview):
        return bytes(tok).decode("latin-1")
    return tok if isinstance(tok, str) else ""


def slices(tok: Any) -> set[str]:
    """Every 20-character slice (step 7) of each segment of the token."""
    out: set[str] = set()
    for seg in _text(tok).split("."):
        for i in range(0, max(0, len(seg) - WINDOW) + 1, 7):
            piece = seg[i : i + WINDOW]
            if len(piece) == WINDOW:
                out.add(piece)
    return out


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def token_values(tok: Any) -> set[str]:
    """String values (8+ chars) found in the token's decodable header and payload."""
    out: set[str] = set()
    for seg in _text(tok).split(".")[:2]:
        try:
            decoded = json.loads(base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4)))
        except (ValueError, TypeError, RecursionError):
            continue
        out.update(s for s in _strings(decoded) if len(s) >= 8)
    return out


def before_signature(exc: CognitoVerifyError) -> bool:
    # Claim errors come after the signature, except the issuer, which picks the pool.
    return not isinstance(exc, InvalidClaimError) or isinstance(exc, InvalidIssuerError)


def exception_texts(exc: BaseException) -> list[str]:
    ref = refusal(exc) if isinstance(exc, CognitoVerifyError) else None
    return [
        str(exc),
        repr(exc),
        "".join(traceback.format_exception(exc)),
        *([ref.json.decode(), repr(ref.headers)] if ref is not None else []),
    ]


def remote(pool: LocalUserPool, case: Case) -> CognitoVerifier | None:
    """The same case with keys fetched over HTTP (httpx.MockTransport), so the key
    fetching and refresh code's logging is exercised too."""
    if "jwks" in case.options:
        return None
    transport = pool.mock_transport()
    options = dict(case.options)
    use: Any = case.token_use
    return CognitoVerifier(
        pool.user_pool_id,
        client_id=options.pop("client_id", list(pool.client_ids)),
        token_use=use,
        clock=pool.clock,
        http_client=httpx.Client(transport=transport),
        async_http_client=httpx.AsyncClient(transport=transport),
        **options,
    )


def test_no_token_text_in_logs_or_errors(
    pool: LocalUserPool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="cognito_verify")
    updated = pool.issuer.replace("https://cognito-idp.", "https://issuer-cognito-idp.")
    # Messages may name the configuration; a token value equal to (part of) it is no leak.
    configured = [pool.issuer, updated, pool.user_pool_id, *pool.client_ids]
    cases = [case for build in ATTACKS.values() for case in build(pool)]
    leaks: list[str] = []
    seen_records = 0
    for case in cases:
        first_record = len(caplog.records)
        texts: list[str] = []
        values = [v for v in token_values(case.token) if not any(v in c for c in configured)]
        for verifier in filter(None, [case.verifier(pool), remote(pool, case)]):
            for run in ("sync", "async"):
                try:
                    if run == "sync":
                        verifier.verify(case.token)
                    else:
                        asyncio.run(verifier.averify(case.token))
                except CognitoVerifyError as exc:
                    texts += exception_texts(exc)
                    if before_signature(exc):
                        leaks += [
                            f"{case.label}: token value {v[:30]!r} in {type(exc).__name__}"
                            for v in values
                            if v in exc.message
                        ]
                else:
                    pytest.fail(f"{case.label} was accepted")
        for record in caplog.records[first_record:]:
            seen_records += record.name.startswith("cognito_verify")
            texts.append(record.getMessage())
            if record.exc_info:
                texts.append("".join(traceback.format_exception(*record.exc_info)))
        haystack = "\n".join(texts)
        leaks += [f"{case.label}: token slice {s!r}" for s in slices(case.token) if s in haystack]
    assert seen_records, "expected cognito_verify log records (JWKS fetches at least)"
    assert not leaks, "\n".join(leaks[:50])
    assert len(cases) > 300


def test_the_slice_check_can_fail(pool: LocalUserPool) -> None:
    # The detector itself: a message quoting 20 characters of a token is caught.
    tok = pool.id_token()
    leaked = f"bad token {tok.split('.')[1][40:70]}"
    assert any(s in leaked for s in slices(tok))
    assert any(v in json.dumps(v) for v in token_values(tok))
