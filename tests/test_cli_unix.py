"""The command line as a Unix tool, run as users run it (a subprocess): --version, help
for every flag, exit codes, no traceback ever (closed pipe, nested or huge tokens,
unreadable stdin), copy-paste hints, and local-pool + mint over real HTTP."""

from __future__ import annotations

import argparse
import base64
import json
import os
import queue
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cognito_verify import CognitoVerifier, TokenExpiredError, __version__
from cognito_verify.cli import _parser
from cognito_verify.testing import LocalUserPool

CLI = [sys.executable, "-m", "cognito_verify.cli"]
TIMEOUT = 120  # a loaded machine: generous, never asserted as a speed


def cli(*args: str, stdin: bytes | str = b"", env: dict[str, str] | None = None) -> Any:
    data = stdin.encode() if isinstance(stdin, str) else stdin
    run = subprocess.run(
        [*CLI, *args], input=data, capture_output=True, timeout=TIMEOUT, env=env
    )
    assert b"Traceback" not in run.stderr, run.stderr.decode()
    return run


def b64(value: bytes) -> str:
    return base64.urlsafe_b64encode(value).rstrip(b"=").decode()


@pytest.fixture(scope="module")
def live() -> LocalUserPool:
    return LocalUserPool("eu-west-1_UnixPool1", ("unix-client",))


@pytest.fixture
def jwks_file(live: LocalUserPool, tmp_path: Path) -> str:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(live.jwks))
    return str(path)


def verify_args(live: LocalUserPool, *extra: str) -> list[str]:
    return ["--user-pool-id", live.user_pool_id, "--client-id", "unix-client",
            "--token-use", "access", *extra]


def test_version() -> None:
    run = cli("--version")
    assert run.returncode == 0
    assert run.stdout.decode().strip() == f"cognito-verify {__version__}"


def test_every_flag_has_help() -> None:
    parsers = [_parser()]
    seen = 0
    while parsers:
        parser = parsers.pop()
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                parsers.extend(action.choices.values())
                continue
            assert action.help and action.help != argparse.SUPPRESS, action.option_strings
            seen += 1
    assert seen > 25
    run = cli("--help")
    assert run.returncode == 0 and b"exit codes:" in run.stdout and b"local-pool" in run.stdout


def test_exit_codes(live: LocalUserPool, jwks_file: str) -> None:
    good = live.access_token()
    assert cli("verify", good, *verify_args(live, "--jwks-file", jwks_file)).returncode == 0
    refused = cli("verify", live.id_token(), *verify_args(live, "--jwks-file", jwks_file))
    assert refused.returncode == 1 and refused.stderr.startswith(b"invalid_token_use: ")
    usage = cli("verify", good, "--user-pool-id", "x")  # required flags missing
    assert usage.returncode == 2
    bad_pool = cli("verify", good, *verify_args(live)[2:], "--user-pool-id", "nope")
    assert bad_pool.returncode == 2
    # The hint names the flag to fix, not the Python keyword.
    assert b"--user-pool-id 'nope'" in bad_pool.stderr and b"user_pool_id" not in bad_pool.stderr
    missing_file = cli("verify", good, *verify_args(live, "--jwks-file", "/nonexistent"))
    assert missing_file.returncode == 2 and b"--jwks-file" in missing_file.stderr
    closed = cli("verify", good, *verify_args(live, "--jwks-url", "http://127.0.0.1:9/jwks.json"))
    assert closed.returncode == 3 and closed.stderr.startswith(b"jwks_unavailable: ")
    assert b"hint: is the server at --jwks-url running" in closed.stderr


def test_keys_unavailable_names_the_flag_to_use(live: LocalUserPool) -> None:
    # No --jwks-url: the pool's own URL is asked (unreachable here, tests have no
    # network); a local pool's token needs --jwks-url, and the hint says so.
    run = cli("verify", live.access_token(), *verify_args(live))
    assert run.returncode == 3, run.stderr
    assert b"--jwks-url" in run.stderr and b"--jwks-file" in run.stderr


@pytest.mark.parametrize("command", ["inspect", "verify"])
def test_closed_pipe_is_quiet(command: str, live: LocalUserPool, jwks_file: str) -> None:
    # `cognito-verify inspect - | head -c1`: the reader is gone before anything is
    # written. The token comes on stdin after stdout is closed, so the order is sure.
    extra = verify_args(live, "--jwks-file", jwks_file) if command == "verify" else []
    proc = subprocess.Popen(
        [*CLI, command, "-", *extra],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stdin is not None and proc.stderr is not None
    proc.stdout.close()
    proc.stdin.write(live.access_token().encode())
    proc.stdin.close()
    err = proc.stderr.read()
    proc.stderr.close()
    assert proc.wait(TIMEOUT) == 0, err
    assert err == b""


def test_closed_pipe_through_head() -> None:
    shell = f"{' '.join(CLI)} demo --quick | head -c1"
    run = subprocess.run(shell, shell=True, capture_output=True, timeout=TIMEOUT * 2)
    assert run.stdout == b"c" and b"Traceback" not in run.stderr and run.stderr == b""


def nested(depth: int) -> str:
    payload = b'{"a":' + b"[" * depth + b"]" * depth + b"}"
    header = b64(b'{"alg":"RS256","kid":"k"}')
    return f"{header}.{b64(payload)}.c2ln"


@pytest.mark.parametrize("depth", [5_000, 200_000])
def test_deeply_nested_token(depth: int, live: LocalUserPool, jwks_file: str) -> None:
    token = nested(depth)
    inspected = cli("inspect", "-", stdin=token)  # cli() asserts: no traceback
    # Decoded when the interpreter's JSON parser manages the depth (3.13 manages more),
    # else refused in one line; never a crash.
    assert inspected.returncode in (0, 1)
    if inspected.returncode == 1:
        assert inspected.stderr.startswith(b"Not a ") and inspected.stderr.count(b"\n") == 1
    verified = cli("verify", "-", *verify_args(live, "--jwks-file", jwks_file), stdin=token)
    assert verified.returncode == 1 and verified.stderr.startswith(b"malformed_token: ")


def test_huge_token(live: LocalUserPool, jwks_file: str) -> None:
    token = "a" * 5_000_000 + ".b.c"
    inspected = cli("inspect", "-", stdin=token)
    assert inspected.returncode == 1 and b"longer than" in inspected.stderr
    verified = cli("verify", "-", *verify_args(live, "--jwks-file", jwks_file), stdin=token)
    assert verified.returncode == 1 and verified.stderr.startswith(b"malformed_token: ")


def test_unreadable_stdin(tmp_path: Path) -> None:
    run = cli("inspect", "-", stdin=b"\xff\xfe\x00garbage")
    assert run.returncode == 2 and b"cannot read the token from stdin" in run.stderr
    # stdin open for writing only: reading it fails with an OS error.
    fd = os.open(tmp_path / "sink", os.O_WRONLY | os.O_CREAT)
    try:
        unreadable = subprocess.run(
            [*CLI, "verify", "-", "--user-pool-id", "eu-west-1_AbCdEf123", "--client-id",
             "c", "--token-use", "access"],
            stdin=fd, capture_output=True, timeout=TIMEOUT,
        )
    finally:
        os.close(fd)
    assert unreadable.returncode == 2, unreadable.stderr
    assert b"cannot read the token from stdin" in unreadable.stderr
    assert b"Traceback" not in unreadable.stderr
    empty = subprocess.run(
        [*CLI, "inspect", "-"], stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT
    )
    assert empty.returncode == 1 and b"Traceback" not in empty.stderr


def test_inspect_never_prints_a_class_name() -> None:
    not_json = f"{b64(b'{not json')}.{b64(b'{}')}.c2ln"
    run = cli("inspect", not_json)
    assert run.returncode == 1
    text = run.stderr.decode()
    assert "the header does not decode: it is not valid JSON" in text
    assert "Error" not in text and "Exception" not in text


@pytest.mark.parametrize(
    ("shape", "hint"),
    [
        ("Bearer {t}", "starts with 'Bearer '"),
        ('"{t}"', "wrapped in quotes"),
        ("'{t}'", "wrapped in quotes"),
        ("{a} {b}", "contains whitespace"),
    ],
)
def test_copy_paste_hints(
    shape: str, hint: str, live: LocalUserPool, jwks_file: str
) -> None:
    token = live.access_token()
    value = shape.format(t=token, a=token[:40], b=token[40:])
    inspected = cli("inspect", value)
    assert inspected.returncode == 1 and hint in inspected.stderr.decode()
    verified = cli("verify", value, *verify_args(live, "--jwks-file", jwks_file))
    assert verified.returncode == 1 and hint in verified.stderr.decode()
    # A trailing newline (echo "$TOKEN" | ...) is forgiven on stdin.
    ok = cli("verify", "-", *verify_args(live, "--jwks-file", jwks_file), stdin=token + "\n")
    assert ok.returncode == 0


# --- local-pool and mint over real HTTP -------------------------------------------------


class LocalPoolProcess:
    def __init__(self, key_file: Path, *args: str) -> None:
        self.proc = subprocess.Popen(
            [*CLI, "local-pool", "--port", "0", "--key-file", str(key_file), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.settings: dict[str, str] = {}
        assert self.proc.stdout is not None
        deadline = time.monotonic() + TIMEOUT
        while "COGNITO_JWKS_URL" not in self.settings:
            assert time.monotonic() < deadline, "local-pool printed no settings"
            line = self.proc.stdout.readline()
            assert line, self.proc.stderr.read() if self.proc.stderr else ""
            if line.strip().startswith("export "):
                name, _, value = line.strip()[len("export ") :].partition("=")
                self.settings[name] = value

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        out, err = self.proc.communicate(timeout=TIMEOUT)  # closes the pipes
        assert err == ""
        return self.proc.returncode


@pytest.fixture
def key_file(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "state" / "local-pool.json"


def mint(key_file: Path, *args: str) -> str:
    run = cli("mint", "--key-file", str(key_file), *args)
    assert run.returncode == 0, run.stderr
    return str(run.stdout.decode().strip())


def verifier_from(settings: dict[str, str], token_use: str = "access") -> CognitoVerifier:
    return CognitoVerifier(
        settings["COGNITO_USER_POOL_ID"],
        client_id=settings["COGNITO_CLIENT_ID"].split(","),
        token_use=token_use,  # type: ignore[arg-type]
        jwks_url=settings["COGNITO_JWKS_URL"],
    )


def test_local_pool_and_mint(key_file: Path) -> None:
    pool = LocalPoolProcess(key_file, "--pool-id", "us-east-1_DevPool42", "--client-id", "web")
    try:
        settings = pool.settings
        assert settings["COGNITO_USER_POOL_ID"] == "us-east-1_DevPool42"
        assert settings["COGNITO_CLIENT_ID"] == "web"
        assert oct(key_file.stat().st_mode & 0o777) == "0o600"
        token = mint(
            key_file, "--user", "bob", "--groups", "admin,ops", "--scopes", "api/read",
            "api/write", "--lifetime", "600", "--claim", "custom:tier=gold",
            "--claim", "level=3",
        )
        with verifier_from(settings) as verifier:  # keys over real HTTP
            claims = verifier.verify(token, groups="admin", all_scopes=["api/read", "api/write"])
        assert claims.username == "bob" and claims["custom:tier"] == "gold"
        assert claims["level"] == 3 and claims.expires_at - claims.issued_at == 600
        id_token = mint(key_file, "--token-use", "id", "--user", "carol")
        with verifier_from(settings, "id") as verifier:
            assert verifier.verify(id_token)["cognito:username"] == "carol"
        machine = mint(key_file, "--machine", "--scopes", "api/read")
        with verifier_from(settings) as verifier:
            assert verifier.verify(machine).is_machine
    finally:
        assert pool.stop() == 0
    # A restart keeps the key (and the saved pool id): old tokens still verify.
    again = LocalPoolProcess(key_file)
    try:
        assert again.settings["COGNITO_USER_POOL_ID"] == "us-east-1_DevPool42"
        with verifier_from(again.settings) as verifier:
            assert verifier.verify(token).username == "bob"
    finally:
        assert again.stop() == 0


def test_local_pool_prints_a_verify_command_that_works(key_file: Path) -> None:
    pool = LocalPoolProcess(key_file)
    try:
        stdout = pool.proc.stdout
        assert stdout is not None
        lines: queue.Queue[str] = queue.Queue()
        # A reader thread: a missing line must fail the test, not block on the open pipe.
        threading.Thread(target=lambda: [lines.put(x) for x in stdout], daemon=True).start()
        line = ""
        while not line.startswith("cognito-verify verify "):
            try:
                line = lines.get(timeout=TIMEOUT).strip()
            except queue.Empty:
                pytest.fail("local-pool printed no verify command")
        words = shlex.split(line)[2:]  # as printed, after "cognito-verify verify"
        token = mint(key_file)
        run = cli("verify", *[token if w == "$TOKEN" else w for w in words])
        assert run.returncode == 0, run.stderr
        assert json.loads(run.stdout)["username"] == "alice"
    finally:
        assert pool.stop() == 0


def test_mint_without_a_key_file_says_what_to_do(tmp_path: Path) -> None:
    run = cli("mint", "--key-file", str(tmp_path / "missing.json"))
    assert run.returncode == 2 and b"run `cognito-verify local-pool` first" in run.stderr


def test_local_pool_port_in_use(key_file: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        run = cli("local-pool", "--port", str(port), "--key-file", str(key_file))
    assert run.returncode == 2 and f"cannot listen on 127.0.0.1:{port}".encode() in run.stderr


def test_bad_key_file(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    path.write_text("{not json")
    run = cli("mint", "--key-file", str(path))
    assert run.returncode == 2 and b"cannot read --key-file" in run.stderr


def test_environment_is_not_needed() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COGNITO")}
    assert cli("--version", env=env).returncode == 0


def test_demo_fits_80_columns() -> None:
    import io

    from cognito_verify.cli import main

    out, err = io.StringIO(), io.StringIO()
    assert main(["demo", "--quick"], out=out, err=err) == 0, err.getvalue()
    lines = out.getvalue().splitlines()
    assert max(len(line) for line in lines) <= 80, max(lines, key=len)
    text = out.getvalue()
    assert "make bench" in text and "verifications/s" in text
    assert "JWKS requests in total: 4 (one per verifier" in text
    assert not any(word.isdigit() and len(word) == 10 for word in text.split())  # no epochs


def test_serve_on_a_chosen_port(live: LocalUserPool) -> None:
    import socket

    import httpx

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with live.serve(port=port) as server:
        assert f"127.0.0.1:{port}/" in server.jwks_url
        assert httpx.get(server.jwks_url, timeout=10).json() == live.jwks


def test_refusals_name_claims_not_flags(live: LocalUserPool, jwks_file: str) -> None:
    # Refusal messages speak of the token's claims; only configuration errors name flags.
    wrong_use = cli("verify", live.id_token(), *verify_args(live, "--jwks-file", jwks_file))
    assert wrong_use.returncode == 1
    assert b"the 'token_use' claim is 'id'" in wrong_use.stderr, wrong_use.stderr
    other = cli("verify", live.access_token(), *verify_args(live, "--jwks-file", jwks_file))
    assert other.returncode == 0
    need_ops = verify_args(live, "--jwks-file", jwks_file, "--group", "ops")
    group = cli("verify", live.access_token(), *need_ops)
    assert group.returncode == 1 and b"--group" not in group.stderr, group.stderr
    assert b"groups ['ops']" in group.stderr, group.stderr


def test_client_ids_may_be_comma_separated(live: LocalUserPool, jwks_file: str) -> None:
    # As COGNITO_CLIENT_ID holds them for the example apps: "a,b" is two app clients.
    args = ["--user-pool-id", live.user_pool_id, "--token-use", "access"]
    both = cli("verify", live.access_token(), *args, "--client-id", "other,unix-client",
               "--jwks-file", jwks_file)
    assert both.returncode == 0, both.stderr
    neither = cli("verify", live.access_token(), *args, "--client-id", "a, b",
                  "--jwks-file", jwks_file)
    assert neither.returncode == 1 and b"expected ['a', 'b']" in neither.stderr, neither.stderr
    empty = cli("verify", live.access_token(), *args, "--client-id", ",", "--jwks-file", jwks_file)
    assert empty.returncode == 2 and b"--client-id" in empty.stderr, empty.stderr


def test_mint_lifetime_negative_is_an_expired_token_and_nan_is_usage(tmp_path: Path) -> None:
    key_file = tmp_path / "state" / "local-pool.json"
    pool = LocalPoolProcess(key_file)
    try:
        expired = mint(key_file, "--lifetime", "-60")
        with verifier_from(pool.settings) as verifier, pytest.raises(TokenExpiredError):
            verifier.verify(expired)
    finally:
        assert pool.stop() == 0
    for bad in ("nan", "inf", "-inf", "1e30"):  # was exit 4, "internal error"
        run = cli("mint", "--key-file", str(key_file), "--lifetime", bad)
        assert run.returncode == 2 and b"--lifetime" in run.stderr, (bad, run.stderr)
