"""Our ES256 check of load balancer tokens against a second implementation (pyjwt) on
genuine and mutated tokens: nothing we accept is refused by pyjwt, and whatever pyjwt
accepts that we refuse is a documented strictness (non-canonical base64, bad padding)."""

from __future__ import annotations

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1

from cognito_verify import CognitoVerifyError, MalformedTokenError, _alb
from cognito_verify._alb import load_pem_key
from cognito_verify.testing import LocalAlb

ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551  # P-256 n


def ours(token: str, pem: bytes) -> CognitoVerifyError | None:
    try:
        parsed = _alb.parse(token)
        _alb.verify_signature(load_pem_key(pem), parsed)
    except CognitoVerifyError as exc:
        return exc
    return None


def theirs(token: str, pem: bytes) -> bool:
    try:
        pyjwt.PyJWS().decode(token, pem, algorithms=["ES256"])
    except pyjwt.exceptions.PyJWTError:
        return False
    return True


def compare(token: str, pem: bytes) -> tuple[bool, bool]:
    mine, other = ours(token, pem), theirs(token, pem)
    if mine is None:
        assert other, f"we accept what pyjwt refuses: {token!r}"
    elif other:
        # The only way to be stricter than pyjwt: its decoder skips characters outside
        # the alphabet and ignores non-zero trailing bits; ours refuses both.
        assert isinstance(mine, MalformedTokenError), (mine, token)
    return mine is None, other


@pytest.fixture(scope="module")
def alb() -> LocalAlb:
    return LocalAlb()


@pytest.mark.parametrize("padded", [True, False])
def test_genuine_tokens_agree(alb: LocalAlb, padded: bool) -> None:
    pem = alb.public_key_pem(alb.kid)
    assert pem is not None
    for i in range(40):
        token = alb.data_token(f"user{i}", claims={"n": "x" * i}, padded=padded)
        assert compare(token, pem) == (True, True)


def test_every_single_character_mutation_agrees(alb: LocalAlb) -> None:
    pem = alb.public_key_pem(alb.kid)
    assert pem is not None
    token = alb.data_token("mallory")
    accepted = 0
    for i in range(len(token)):
        for char in ("A", "B", "_", "-", "=", ".", "+", "/", "%"):
            if token[i] == char:
                continue
            mutated = token[:i] + char + token[i + 1 :]
            accepted += compare(mutated, pem)[0]
    # A mutation of the signed text never verifies; only padding dropped from the
    # signature segment can keep the same signature bytes.
    assert accepted <= 2


def test_structural_mutations_agree(alb: LocalAlb) -> None:
    pem = alb.public_key_pem(alb.kid)
    stranger = LocalAlb()
    other = stranger.public_key_pem(stranger.kid)
    assert pem is not None and other is not None
    h, p, s = alb.data_token("trent", claims={"pad": "xx"}).split(".")
    raw = pyjwt.utils.base64url_decode(s.encode())
    r, sv = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
    high_s = _b64(r.to_bytes(32, "big") + (ORDER - sv).to_bytes(32, "big"))
    cases = {
        "genuine": (f"{h}.{p}.{s}", True),
        "sig unpadded": (f"{h}.{p}.{s.rstrip('=')}", True),
        "header unpadded": (f"{h.rstrip('=')}.{p}.{s}", False),
        "payload unpadded": (f"{h}.{p.rstrip('=')}.{s}", False),
        "halves swapped": (f"{h}.{p}.{_b64(raw[32:] + raw[:32])}", False),
        "truncated sig": (f"{h}.{p}.{_b64(raw[:63])}", False),
        "zero sig": (f"{h}.{p}.{_b64(bytes(64))}", False),
        "r = n": (f"{h}.{p}.{_b64(ORDER.to_bytes(32, 'big') + raw[32:])}", False),
        # ECDSA's (r, n - s) twin verifies in both: a property of ECDSA, not a bug.
        "high s": (f"{h}.{p}.{high_s}", True),
        "empty sig": (f"{h}.{p}.", False),
        "four segments": (f"{h}.{p}.{s}.{s}", False),
    }
    for name, (token, expected) in cases.items():
        assert compare(token, pem)[0] is expected, name
        assert compare(token, other)[0] is False, name
    assert isinstance(load_pem_key(pem).curve, SECP256R1)


def _b64(data: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(data).decode()
