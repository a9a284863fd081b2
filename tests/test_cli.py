from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cognito_verify.cli import main
from cognito_verify.testing import LocalUserPool


def run(argv: list[str], stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, out=out, err=err, stdin=io.StringIO(stdin))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def live_pool() -> LocalUserPool:
    # The CLI uses the real clock, so tokens are minted with it too.
    return LocalUserPool("eu-west-1_CliPool01", ("cli-client",))


@pytest.fixture
def jwks_file(live_pool: LocalUserPool, tmp_path: Path) -> str:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(live_pool.jwks))
    return str(path)


def verify_args(pool: LocalUserPool, jwks_file: str, token: str, use: str = "access") -> list[str]:
    return [
        "verify",
        token,
        "--user-pool-id",
        pool.user_pool_id,
        "--client-id",
        "cli-client",
        "--token-use",
        use,
        "--jwks-file",
        jwks_file,
    ]


def test_verify_prints_claims_as_json(live_pool: LocalUserPool, jwks_file: str) -> None:
    token = live_pool.access_token("dora", groups=["ops"])
    code, out, err = run(verify_args(live_pool, jwks_file, token))
    assert code == 0, err
    claims = json.loads(out)
    assert claims["username"] == "dora"
    assert claims["cognito:groups"] == ["ops"]


def test_verify_reads_stdin(live_pool: LocalUserPool, jwks_file: str) -> None:
    token = live_pool.id_token("erin")
    code, out, _ = run(verify_args(live_pool, jwks_file, "-", use="id"), stdin=token + "\n")
    assert code == 0
    assert json.loads(out)["cognito:username"] == "erin"


def test_verify_over_http(live_pool: LocalUserPool) -> None:
    with live_pool.serve() as server:
        code, out, err = run(
            [
                "verify",
                live_pool.access_token(),
                "--user-pool-id",
                live_pool.user_pool_id,
                "--client-id",
                "none",
                "--token-use",
                "any",
                "--jwks-url",
                server.jwks_url,
            ]
        )
    assert code == 0, err
    assert server.request_count == 1


@pytest.mark.parametrize(
    ("make", "code_name"),
    [
        (lambda p: p.id_token(), "invalid_token_use"),
        (lambda p: p.access_token(client_id="other"), "invalid_client"),
        (lambda p: p.access_token(lifetime=-60), "token_expired"),
        (lambda p: "garbage", "malformed_token"),
    ],
)
def test_verify_refusal_prints_code_and_exits_1(
    live_pool: LocalUserPool, jwks_file: str, make: object, code_name: str
) -> None:
    token = make(live_pool)  # type: ignore[operator]
    code, out, err = run(verify_args(live_pool, jwks_file, token))
    assert code == 1
    assert out == ""
    assert err.startswith(f"{code_name}: ")
    assert token.split(".")[-1] not in err


def test_verify_bad_configuration_exits_2(jwks_file: str) -> None:
    code, _, err = run(
        [
            "verify",
            "x",
            "--user-pool-id",
            "not-a-pool",
            "--client-id",
            "c",
            "--token-use",
            "id",
            "--jwks-file",
            jwks_file,
        ]
    )
    assert code == 2
    assert "--user-pool-id" in err


def test_inspect_marks_unverified_and_flags_problems(live_pool: LocalUserPool) -> None:
    now = int(time.time())
    token = live_pool.sign(
        {"iss": "https://evil.example/x", "exp": now - 600, "iat": now - 4200, "token_use": "id"},
        header={"alg": "HS256", "kid": live_pool.kid, "jku": "https://evil.example/keys"},
    )
    code, out, _ = run(["inspect", token])
    assert code == 0
    assert "UNVERIFIED" in out.splitlines()[0]
    for problem in (
        "alg is 'HS256'",
        "expired",
        "ignores",
        "not a Cognito issuer",
        "ID token without a string aud",
        "min ago",
    ):
        assert problem in out


def test_inspect_refuses_non_jwt() -> None:
    assert run(["inspect", "a.b.c.d.e"])[0] == 1
    assert "encrypted" in run(["inspect", "a.b.c.d.e"])[2]
    assert run(["inspect", "only.two"])[0] == 1
    assert run(["inspect", "!!.??.x"])[0] == 1


def test_demo_runs_as_a_console_script() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cognito_verify.cli", "demo", "--quick"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    for code_name in (
        "invalid_signature",
        "token_expired",
        "invalid_client",
        "invalid_token_use",
        "invalid_issuer",
        "unsupported_algorithm",
        "missing_group",
    ):
        assert code_name in result.stdout
    assert "ACCEPTED (this is a bug)" not in result.stdout
    assert "verifications/s" in result.stdout
    # The expiry line reads as clock times, with no leftover fraction of a Unix time.
    expired = result.stdout[result.stdout.index("token_expired") :][:200]
    assert re.search(r"now \d\d:\d\d:\d\d UTC,", expired), expired


def test_readable_times_take_the_fraction_too() -> None:
    from cognito_verify.cli import _readable_times

    message = "the token expired at 1700000000 (now 1700000123.6008654, leeway 0s)"
    assert _readable_times(message) == (
        "the token expired at 22:13:20 UTC (now 22:15:23 UTC, leeway 0s)"
    )
