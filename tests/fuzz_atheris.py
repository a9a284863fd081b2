"""Coverage-guided fuzzing of CognitoVerifier.verify with atheris (run by ``make fuzz``).

    .venv/bin/python tests/fuzz_atheris.py -max_total_time=300

Each input picks one of three shapes: raw bytes as the token; a valid token with one
segment replaced by fuzz bytes; or fuzz bytes as the JSON payload of a token signed
with the pool's real key. Invariants are those of test_fuzz.py: only this library's
errors, never the fail-closed wrapper's generic InvalidTokenError, and acceptance only
where the oracle says every check passes.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import atheris

sys.path.insert(0, str(Path(__file__).parent))

with atheris.instrument_imports():
    from cognito_verify import Claims, CognitoVerifyError, InvalidTokenError
    from cognito_verify.testing import LocalUserPool, b64url

from _attacks import claims, header, token  # noqa: E402
from test_fuzz import CLIENTS, NOW, oracle  # noqa: E402

POOL = LocalUserPool("eu-west-1_FuzzPool1", CLIENTS, clock=lambda: NOW)
VERIFIER = POOL.verifier(token_use="id", clock=lambda: NOW)
VALID = POOL.id_token()


def attempt(tok: Any) -> Claims | None:
    try:
        return VERIFIER.verify(tok)
    except CognitoVerifyError as exc:
        if type(exc) is InvalidTokenError:
            raise AssertionError(f"internal error reached the wrapper: {exc.message}") from exc
        return None


def one_input(data: bytes) -> None:
    if len(data) < 3:
        return
    mode, rest = data[0] % 3, data[3:]
    if mode == 0:
        if attempt(rest) is not None and rest != VALID.encode():
            raise AssertionError("raw bytes accepted")
    elif mode == 1:
        segs = VALID.split(".")
        i = data[1] % 3
        segs[i] = rest.decode("latin-1") if data[2] & 1 else b64url(rest)
        tok = ".".join(segs)
        if attempt(tok) is not None and tok != VALID:
            raise AssertionError(f"mutated segment {i} accepted")
    else:
        text = rest.decode("utf-8", "replace")
        got = attempt(token(header(POOL), text, POOL.private_key))
        if got is not None:
            payload = json.loads(text)
            if not isinstance(payload, dict) or not oracle(payload, "id", POOL):
                raise AssertionError(f"accepted a payload the oracle refuses: {text[:200]!r}")


def seed_corpus() -> str:
    """A few valid inputs per mode, so the fuzzer starts next to acceptance."""
    directory = Path(tempfile.mkdtemp(prefix="cv-fuzz-corpus-"))
    payload = VALID.split(".")[1]
    seeds = [
        b"\x00\x00\x00" + VALID.encode(),
        b"\x01\x01\x01" + payload.encode(),
        b"\x02\x00\x00" + json.dumps(claims(POOL)).encode(),
        b"\x02\x00\x00" + json.dumps(claims(POOL, "id", nbf=NOW, exp=NOW + 1)).encode(),
    ]
    for n, seed in enumerate(seeds):
        (directory / f"seed{n}").write_bytes(seed)
    return str(directory)


def main() -> None:
    argv = list(sys.argv)
    if not any(not a.startswith("-") for a in argv[1:]):
        argv.append(seed_corpus())
    atheris.Setup(argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
