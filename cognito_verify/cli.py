"""`cognito-verify`: verify or inspect a token from the shell, run a local user pool and
mint tokens for it, or run the demo.

Exit codes (also in ``cognito-verify --help``):

    0  success
    1  the token is refused (verify) or is not a JWT (inspect)
    2  usage or configuration error (a bad flag, an unreadable file or stdin)
    3  the pool's keys are unavailable (JWKS fetch failed, nothing cached)
    4  internal error (a bug: please report it)

No command prints a traceback: every failure is one line on stderr.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import logging
import math
import os
import re
import signal
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from . import __version__
from ._hints import paste_hint
from ._pool import parse_issuer
from ._token import DEFAULT_MAX_TOKEN_LENGTH
from .errors import CognitoVerifyError, ConfigurationError, JWKSError
from .verifier import CognitoVerifier

if TYPE_CHECKING:
    from .alb import AlbVerifier

EXIT_OK, EXIT_REFUSED, EXIT_USAGE, EXIT_KEYS, EXIT_INTERNAL = 0, 1, 2, 3, 4
_MAX_LIFETIME = 10 * 365 * 86400  # seconds; keeps exp a plain Unix time

_EPILOG = """exit codes:
  0  success
  1  the token is refused (verify) or is not a JWT (inspect)
  2  usage or configuration error (a bad flag, an unreadable file or stdin)
  3  the pool's keys are unavailable (JWKS fetch failed, nothing cached)
  4  internal error (a bug: please report it)
"""

# Verifier keywords as the CLI spells them, so an error names the flag to fix.
_FLAGS = {
    "user_pool_id": "--user-pool-id",
    "client_id": "--client-id",
    "token_use": "--token-use",
    "jwks_url": "--jwks-url",
    "issuer": "--issuer",
    "leeway": "--leeway",
    "groups": "--group",
    "scopes": "--scope",
    "jwks": "--jwks-file",
    "alb_arn": "--alb-arn",
    "public_keys_url": "--public-keys-url",
}
_KEYWORD = re.compile(r"\b(" + "|".join(_FLAGS) + r")\b")


class _UsageError(Exception):
    """A bad argument, file or stdin: exit 2 with this message."""


def _flags(message: str) -> str:
    return _KEYWORD.sub(lambda m: _FLAGS[m.group(1)], message)


def _read_token(value: str, stdin: TextIO) -> str:
    if value != "-":
        return value.strip()
    try:
        # One byte over the limit is enough to refuse a huge input without reading it
        # all. Bytes, strictly decoded: a token is ASCII, whatever the locale says.
        raw = getattr(stdin, "buffer", None)
        if raw is not None:
            text = str(raw.read(DEFAULT_MAX_TOKEN_LENGTH + 1).decode("utf-8"))
        else:
            text = stdin.read(DEFAULT_MAX_TOKEN_LENGTH + 1)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise _UsageError(f"cannot read the token from stdin: {_describe(exc)}") from None
    return text.strip()


def _describe(exc: BaseException) -> str:
    # Never a bare class name: say what happened in words.
    if isinstance(exc, UnicodeDecodeError):
        return "it is not UTF-8 text"
    if isinstance(exc, RecursionError):
        return "its JSON is nested too deeply"
    if isinstance(exc, binascii.Error):
        return "it is not valid base64url"
    if isinstance(exc, json.JSONDecodeError):
        return f"it is not valid JSON ({exc.msg})"
    text = str(exc) or "unknown reason"
    return text[:200]


def _when(ts: object, now: float) -> str:
    if isinstance(ts, bool) or not isinstance(ts, int | float):
        return f"{ts!r} (not a number)"
    try:
        moment = datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):
        return f"{ts!r} (out of range)"
    delta = ts - now
    span = abs(delta)
    text = (
        f"{span:.0f}s"
        if span < 120
        else f"{span / 60:.0f} min"
        if span < 7200
        else f"{span / 3600:.1f} h"
        if span < 172800
        else f"{span / 86400:.0f} days"
    )
    return f"{moment} ({'in ' + text if delta > 0 else text + ' ago'})"


# --- verify ---------------------------------------------------------------------------


def _cmd_verify_alb(args: argparse.Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    """``verify --alb-arn``: an ``x-amzn-oidc-data`` value, checked by ``AlbVerifier``."""
    from .alb import AlbVerifier

    client = _client_list(args.client_id)
    if not args.issuer:
        raise _UsageError("--alb-arn needs --issuer (the user pool's issuer URL)")
    try:
        verifier = AlbVerifier(
            args.alb_arn,
            client_id=client,
            issuer=args.issuer,
            public_keys_url=args.public_keys_url,
            leeway=args.leeway,
        )
    except (ConfigurationError, TypeError) as exc:
        raise _UsageError(_flags(str(exc))) from None
    return _verify_and_print(verifier, args, out, err, stdin)


def _verify_and_print(
    verifier: CognitoVerifier | AlbVerifier,
    args: argparse.Namespace,
    out: TextIO,
    err: TextIO,
    stdin: TextIO,
) -> int:
    """Verify the token of ``args`` and print its claims as JSON; the exit code."""
    token = _read_token(args.token, stdin)
    try:
        with verifier:
            claims = verifier.verify(token)
    except JWKSError as exc:
        print(f"{exc.code}: {exc.message}", file=err)
        print(_keys_hint(args), file=err)
        return EXIT_KEYS
    except CognitoVerifyError as exc:
        print(f"{exc.code}: {exc.message}", file=err)  # claims, not flags: as written
        return EXIT_REFUSED
    json.dump(claims.to_dict(), out, indent=2, sort_keys=True, ensure_ascii=False)
    out.write("\n")
    return EXIT_OK


def _client_list(values: list[str]) -> list[str] | None:
    """``--client-id`` values: repeated or comma-separated (as the example apps' variable)."""
    ids = [part.strip() for value in values for part in value.split(",") if part.strip()]
    return None if ids == ["none"] else ids or values


def _keys_hint(args: argparse.Namespace) -> str:
    """What to try when the keys cannot be fetched: the flag that points elsewhere."""
    if args.alb_arn:
        if args.public_keys_url:
            return "hint: is the key server at --public-keys-url running and reachable?"
        return (
            "hint: the load balancer's key endpoint of the ARN's region was asked; "
            "without internet access, pass --public-keys-url"
        )
    if args.jwks_url:
        return "hint: is the server at --jwks-url running and reachable?"
    return (
        "hint: the pool's own JWKS URL was asked; for `cognito-verify local-pool` or an "
        "emulator pass --jwks-url (local-pool prints it), offline pass --jwks-file"
    )


def _cmd_verify(args: argparse.Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    if args.alb_arn:
        return _cmd_verify_alb(args, out, err, stdin)
    if args.user_pool_id is None or args.token_use is None:
        raise _UsageError("--user-pool-id and --token-use are required (or --alb-arn)")
    client = _client_list(args.client_id)
    use = None if args.token_use == "any" else args.token_use
    options: dict[str, Any] = {
        "leeway": args.leeway,
        "issuer": args.issuer,
        "jwks_url": args.jwks_url,
        "groups": args.group or None,
        "scopes": args.scope or None,
    }
    if args.jwks_file:
        try:
            options["jwks"] = json.loads(Path(args.jwks_file).read_text())
        except (OSError, ValueError, RecursionError) as exc:
            raise _UsageError(f"cannot read --jwks-file: {_describe(exc)}") from None
    try:
        verifier = CognitoVerifier(args.user_pool_id, client_id=client, token_use=use, **options)
    except (ConfigurationError, TypeError) as exc:
        raise _UsageError(_flags(str(exc))) from None
    return _verify_and_print(verifier, args, out, err, stdin)


# --- inspect --------------------------------------------------------------------------


def _decode_segment(segment: str) -> Any:
    raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    value = json.loads(raw.decode("utf-8"))
    json.dumps(value)  # what inspect prints must print: fails here if nested too deeply
    return value


def _problems(header: Any, payload: Any, now: float) -> list[str]:
    found: list[str] = []
    if not isinstance(header, dict) or not isinstance(payload, dict):
        return ["header or payload is not a JSON object"]
    if header.get("alg") != "RS256":
        found.append(f"alg is {header.get('alg')!r}; Cognito tokens use RS256")
    if not isinstance(header.get("kid"), str):
        found.append("no kid in the header")
    for name in ("jku", "x5u", "jwk", "x5c"):
        if name in header:
            found.append(f"header carries '{name}', which verification ignores")
    exp, iat = payload.get("exp"), payload.get("iat")
    if not isinstance(exp, int | float):
        found.append("no numeric exp")
    elif exp <= now:
        found.append("expired")
    if not isinstance(iat, int | float):
        found.append("no numeric iat")
    elif iat > now:
        found.append("iat is in the future (clock skew?)")
    use = payload.get("token_use")
    if use not in ("id", "access"):
        found.append(f"token_use is {use!r}; expected 'id' or 'access'")
    elif use == "id" and not isinstance(payload.get("aud"), str):
        found.append("ID token without a string aud")
    elif use == "access" and not isinstance(payload.get("client_id"), str):
        found.append("access token without client_id")
    iss = payload.get("iss")
    # Every partition's form (amazonaws.com, amazonaws.com.cn): see _pool.parse_issuer.
    if not (isinstance(iss, str) and parse_issuer(iss) is not None):
        found.append(f"iss {iss!r} is not a Cognito issuer")
    return found


def _is_alb(header: Any) -> bool:
    """An Application Load Balancer's ``x-amzn-oidc-data`` token: it names its signer."""
    return isinstance(header, dict) and "signer" in header and "client" in header


def _alb_problems(header: dict[str, Any], now: float) -> list[str]:
    from ._alb import _KID

    found: list[str] = []
    if header.get("alg") != "ES256":
        found.append(f"alg is {header.get('alg')!r}; load balancers sign with ES256")
    kid = header.get("kid")
    if not isinstance(kid, str) or _KID.fullmatch(kid) is None:
        found.append("kid is not a load balancer key id (a UUID)")
    exp = header.get("exp")
    if not isinstance(exp, int | float) or isinstance(exp, bool):
        found.append("no numeric exp in the header")
    elif exp <= now:
        found.append("expired (the load balancer re-signs on every request)")
    return found


def _cmd_inspect(args: argparse.Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    token = _read_token(args.token, stdin)
    if len(token) > DEFAULT_MAX_TOKEN_LENGTH:
        print(
            f"Not a Cognito token: longer than {DEFAULT_MAX_TOKEN_LENGTH} characters "
            "(the verifier refuses it too).",
            file=err,
        )
        return EXIT_REFUSED
    hint = paste_hint(token)
    if hint is not None:
        print(f"Not a bare token: {hint}.", file=err)
        return EXIT_REFUSED
    parts = token.split(".")
    if len(parts) == 5:
        print(
            "This is an encrypted token (JWE), like a Cognito refresh token; it has no "
            "readable claims and cannot be verified.",
            file=err,
        )
        return EXIT_REFUSED
    if len(parts) != 3:
        print(f"Not a JWT: {len(parts)} segment(s), expected 3.", file=err)
        return EXIT_REFUSED
    decoded = []
    for what, segment in (("header", parts[0]), ("payload", parts[1])):
        try:
            decoded.append(_decode_segment(segment))
        except (ValueError, binascii.Error, RecursionError) as exc:
            print(f"Not a JWT: the {what} does not decode: {_describe(exc)}.", file=err)
            return EXIT_REFUSED
    header, payload = decoded
    now = time.time()
    out.write(
        "*** UNVERIFIED: decoded only. Nothing below is trusted until "
        "`cognito-verify verify` accepts the token. ***\n\n"
    )
    out.write("header:\n" + json.dumps(header, indent=2, ensure_ascii=False) + "\n\n")
    out.write("payload:\n" + json.dumps(payload, indent=2, ensure_ascii=False) + "\n\n")
    if _is_alb(header):
        out.write(
            "kind: an Application Load Balancer x-amzn-oidc-data token (the user's claims, "
            "signed by the load balancer, not by Cognito)\n"
            f"   signer: {header.get('signer')}\n   client: {header.get('client')}\n"
            f"      iss: {header.get('iss')}\n      exp: {_when(header.get('exp'), now)}\n"
            "verify it with: cognito-verify verify --alb-arn <signer> --client-id <client> "
            "--issuer <iss> -\n"
        )
        problems = _alb_problems(header, now)
        out.write("\nlooks wrong: " + ("; ".join(problems) if problems else "nothing obvious"))
        out.write("\n")
        return EXIT_OK
    if isinstance(payload, dict):
        for name in ("iat", "auth_time", "nbf", "exp"):
            if name in payload:
                out.write(f"{name:>9}: {_when(payload[name], now)}\n")
    problems = _problems(header, payload, now)
    out.write("\nlooks wrong: " + ("; ".join(problems) if problems else "nothing obvious") + "\n")
    return EXIT_OK


# --- demo -----------------------------------------------------------------------------


def _rate(fn: Callable[[str], object], tokens: Sequence[str], rounds: int) -> float:
    """Verifications per second over ``rounds`` passes of ``tokens`` (best pass)."""
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for token in tokens:
            fn(token)
        best = min(best, time.perf_counter() - start)
    return len(tokens) / best


_WIDTH = 80
# A Unix time in seconds, with any fraction (error messages print every digit).
_EPOCH = re.compile(r"\b1\d{9}(?:\.\d+)?\b")


def _wrap(text: str, indent: int) -> str:
    # URLs and codes stay whole: no breaks at hyphens or inside long words.
    pad = " " * indent
    return textwrap.fill(
        text,
        _WIDTH,
        initial_indent=pad,
        subsequent_indent=pad,
        break_on_hyphens=False,
        break_long_words=False,
    )


def _readable_times(message: str) -> str:
    # Error messages give Unix times (exact, greppable); people read clock times.
    def clock(match: re.Match[str]) -> str:
        moment = datetime.fromtimestamp(float(match.group(0)), tz=timezone.utc)
        return moment.strftime("%H:%M:%S UTC")

    return _EPOCH.sub(clock, message)


def _cmd_demo(args: argparse.Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    from .testing import LocalUserPool, b64url, encode_token

    def say(text: str = "") -> None:
        out.write(text + "\n")
        out.flush()

    say("cognito-verify demo: a local user pool with a real JWKS endpoint on 127.0.0.1.")
    say("No AWS account, no network.\n")
    pool = LocalUserPool("eu-west-1_DemoPool1", ("demo-web-client", "demo-machine-client"))
    other_pool = LocalUserPool("eu-west-1_OtherPool", ("demo-web-client",))
    with pool.serve() as server:
        say(f"pool      {pool.user_pool_id}\nissuer    {pool.issuer}\nJWKS URL  {server.jwks_url}")

        def verifier(token_use: str, client: str = "demo-web-client") -> CognitoVerifier:
            return CognitoVerifier(
                pool.user_pool_id,
                client_id=client,
                token_use=token_use,  # type: ignore[arg-type]
                jwks_url=server.jwks_url,
            )

        access = verifier("access")
        ident = verifier("id")
        machine = verifier("access", "demo-machine-client")

        say("\nAccepted:")
        say(f"  {'token':<15}{'user or client':<23}{'groups':<9}scopes")
        rows = [
            ("ID token", ident, pool.id_token("alice", groups=["admin"])),
            ("access token", access, pool.access_token("alice", groups=["admin"])),
            (
                "machine token",
                machine,
                pool.client_credentials_token(
                    client_id="demo-machine-client", scopes=["orders-api/orders.read"]
                ),
            ),
        ]
        for label, v, token in rows:
            c = v.verify(token)
            who = c.username or (c.client_id or "?")
            groups = ",".join(sorted(c.groups)) or "-"
            scopes = ",".join(sorted(c.scopes)) or "-"
            say(f"  {label:<15}{who[:22]:<23}{groups[:8]:<9}{scopes[:31]}")
        say(
            _wrap(
                f"JWKS requests so far: {server.request_count}. Each of the 3 verifiers "
                "fetched the key set once over HTTP, then verified from its cache.",
                2,
            )
        )

        now = int(time.time())
        good = pool.access_token("alice")
        h, p, sig = good.split(".")
        forged = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
        forged["cognito:groups"] = ["admin"]
        tampered = f"{h}.{b64url(json.dumps(forged).encode())}.{sig}"
        unsigned = encode_token({"alg": "none", "kid": pool.kid}, forged, None)
        say("\nRefused (status, error code, then the message for your logs):")
        cases: list[tuple[str, str, Sequence[str] | None]] = [
            ("tampered payload", tampered, None),
            ("expired", pool.access_token(claims={"iat": now - 7200, "exp": now - 3600}), None),
            ("other app client", pool.access_token(client_id="someone-elses-client"), None),
            ("ID token as access", pool.id_token(), None),
            ("other user pool", other_pool.access_token(), None),
            ("alg: none", unsigned, None),
            ("refresh token (JWE)", "a.b.c.d.e", None),
            ("not in group admin", good, ["admin"]),
        ]
        for label, token, groups_needed in cases:
            try:
                access.verify(token, groups=groups_needed)
                say(f"  {label:<21} ACCEPTED (this is a bug)")
                return EXIT_REFUSED
            except CognitoVerifyError as exc:
                say(f"  {label:<21}{exc.status_code}  {exc.code}")
                say(_wrap(_readable_times(exc.message), 6))

        count = 300 if args.quick else 1500
        distinct = [pool.access_token(f"user{i}") for i in range(count)]
        # A fresh verifier, so every token is new to the one that times it: no
        # verified-token reuse can flatter the figure.
        cold = _rate(verifier("access").verify, distinct, 1)
        hot = _rate(access.verify, [good] * count, 3)
        say(f"\nSpeed on this machine (one thread, keys cached, {count} tokens per run):")
        say(f"  distinct tokens  {cold:>11,.0f} verifications/s  (full check, RSA each time)")
        say(f"  repeated token   {hot:>11,.0f} verifications/s  (verified-token cache hit)")
        say(
            _wrap(
                "A quick single run, so expect noise: `make bench` measures the same two "
                "paths (cold and hot verify) with warm-up and repeats, next to the raw "
                "RSA floor and other libraries, and writes docs/benchmarks.md.",
                2,
            )
        )
        say(
            f"  JWKS requests in total: {server.request_count} (one per verifier: the 3 "
            "above, 1 for timing)."
        )
        for v in (access, ident, machine):
            v.close()
    return EXIT_OK


# --- local-pool and mint -------------------------------------------------------------

_DEFAULT_POOL_ID = "eu-west-1_LocalPool1"
_DEFAULT_CLIENT_ID = "local-client"


def _default_key_file() -> Path:
    # A state file, not a secret worth protecting: it signs tokens that only a
    # verifier pointed at this local JWKS accepts. Kept outside the project tree so
    # it is not committed by accident.
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "cognito-verify" / "local-pool.json"


def _load_key_file(path: Path) -> dict[str, Any] | None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    try:
        data = json.loads(path.read_text())
        key = serialization.load_pem_private_key(data["private_key"].encode("ascii"), None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("the key is not an RSA key")
        if not isinstance(data.get("user_pool_id"), str) or not isinstance(
            data.get("client_ids"), list
        ):
            raise ValueError("user_pool_id or client_ids is missing")
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise _UsageError(f"cannot read --key-file {path}: {_describe(exc)}") from None
    data["key"] = key
    return dict(data)


def _save_key_file(path: Path, pool: Any) -> None:
    from cryptography.hazmat.primitives import serialization

    pem = pool.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
    data = {"user_pool_id": pool.user_pool_id, "client_ids": list(pool.client_ids)}
    data["private_key"] = pem
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Owner-only from the start: the file holds a private key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as file:
            json.dump(data, file, indent=2)
    except OSError as exc:
        raise _UsageError(f"cannot write --key-file {path}: {_describe(exc)}") from None


def _local_pool(path: Path, pool_id: str | None, client_ids: Sequence[str] | None) -> Any:
    """The pool of the key file (created when missing); flags override and are saved."""
    from .testing import LocalUserPool

    saved = _load_key_file(path)
    pool_id = pool_id or (saved["user_pool_id"] if saved else _DEFAULT_POOL_ID)
    clients = list(client_ids or (saved["client_ids"] if saved else [_DEFAULT_CLIENT_ID]))
    try:
        pool = LocalUserPool(pool_id, clients, key=saved["key"] if saved else None)
    except (ValueError, IndexError) as exc:
        raise _UsageError(f"invalid --pool-id or --client-id: {_describe(exc)}") from None
    if saved is None or saved["user_pool_id"] != pool_id or saved["client_ids"] != clients:
        _save_key_file(path, pool)
    return pool


def _pool_id(value: str) -> str:
    from ._pool import UserPool, resolve

    try:
        resolve(UserPool(user_pool_id=value, client_id=None, token_use=None))
    except ConfigurationError as exc:
        raise argparse.ArgumentTypeError(exc.message.replace("user_pool_id ", "")) from None
    return value


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a TCP port is 0-65535 (0: any free port), got {value!r}")
    return port


def _cmd_local_pool(args: argparse.Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    path = Path(args.key_file) if args.key_file else _default_key_file()
    pool = _local_pool(path, args.pool_id, args.client_id)
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    # SIGTERM (docker stop, a supervisor) ends the server as cleanly as Ctrl-C.
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_signal)
    try:
        server_cm = pool.serve(port=args.port)
        server = server_cm.__enter__()
    except OSError as exc:
        raise _UsageError(f"cannot listen on 127.0.0.1:{args.port}: {_describe(exc)}") from None
    try:
        clients = ",".join(pool.client_ids)
        out.write(
            f"Local user pool {pool.user_pool_id}: JWKS on {server.jwks_url}\n"
            f"Key file {path} (kept across restarts). Ctrl-C stops the pool.\n\n"
            "Point your app at it (the example apps read these variables):\n\n"
            f"  export COGNITO_USER_POOL_ID={pool.user_pool_id}\n"
            f"  export COGNITO_CLIENT_ID={clients}\n"
            f"  export COGNITO_JWKS_URL={server.jwks_url}\n\n"
            "Then get a token and call your app:\n\n"
            f"  TOKEN=$(cognito-verify mint{_key_flag(args.key_file)} --user alice "
            "--groups admin)\n"
            '  curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8000/...\n\n'
            "or check it here (verify needs the JWKS URL: the token names the real AWS "
            "issuer):\n\n"
            f'  cognito-verify verify "$TOKEN" --user-pool-id {pool.user_pool_id} '
            f"--client-id {pool.client_ids[0]} --token-use access --jwks-url {server.jwks_url}\n"
        )
        out.flush()
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
    finally:
        server_cm.__exit__(None, None, None)
    return EXIT_OK


def _key_flag(key_file: str | None) -> str:
    return f" --key-file {key_file}" if key_file else ""


def _claim(text: str) -> tuple[str, Any]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    try:
        return name, json.loads(value)  # numbers, booleans, lists, objects
    except ValueError:
        return name, value  # anything else is a string


def _names(values: Sequence[str] | None) -> list[str]:
    # --groups a b, --groups a,b and repeated --groups all mean the same.
    return [n for v in values or () for n in v.replace(",", " ").split()]


def _cmd_mint(args: argparse.Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    path = Path(args.key_file) if args.key_file else _default_key_file()
    saved = _load_key_file(path)
    if saved is None:
        raise _UsageError(
            f"no key file at {path}: run `cognito-verify local-pool` first "
            "(with the same --key-file), so the tokens minted here match the JWKS it serves"
        )
    from .testing import LocalUserPool

    pool = LocalUserPool(saved["user_pool_id"], saved["client_ids"], key=saved["key"])
    client = args.client_id or pool.client_id
    claims = dict(args.claim or ())
    groups, scopes = _names(args.groups), _names(args.scopes)
    # Negative is allowed on purpose: an expired token, to try the app's 401 path.
    if not math.isfinite(args.lifetime) or abs(args.lifetime) > _MAX_LIFETIME:
        raise _UsageError(
            f"--lifetime must be a number of seconds within +-{_MAX_LIFETIME} "
            f"(negative mints an expired token), got {args.lifetime:g}"
        )
    if args.machine:
        if groups or args.token_use == "id":
            raise _UsageError("--machine mints a client-credentials access token: no --groups")
        token = pool.client_credentials_token(
            scopes=scopes, client_id=client, lifetime=args.lifetime, claims=claims
        )
    elif args.token_use == "id":
        if scopes:
            raise _UsageError("--scopes is for access tokens (--token-use access)")
        token = pool.id_token(
            args.user, groups=groups, client_id=client, lifetime=args.lifetime, claims=claims
        )
    else:
        token = pool.access_token(
            args.user,
            groups=groups,
            scopes=scopes or ("aws.cognito.signin.user.admin",),
            client_id=client,
            lifetime=args.lifetime,
            claims=claims,
        )
    out.write(token + "\n")
    return EXIT_OK


# --- entry point ----------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cognito-verify",
        description="Verify or inspect Amazon Cognito JWTs, run a local user pool and mint "
        "tokens for it. Without a command, runs the demo.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}", help="print the version"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, help: str) -> argparse.ArgumentParser:
        return sub.add_parser(
            name,
            help=help,
            description=help[0].upper() + help[1:] + ".",
            epilog=_EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    v = command("verify", "verify a token and print its claims as JSON")
    v.add_argument("token", help="the token, or - to read it from stdin")
    v.add_argument(
        "--user-pool-id", help="the pool id, such as eu-west-1_AbCdEf123 (unless --alb-arn)"
    )
    v.add_argument(
        "--client-id",
        action="append",
        required=True,
        help="app client id (repeat or comma-separate for several; 'none' accepts any)",
    )
    v.add_argument(
        "--token-use",
        choices=["id", "access", "any"],
        help="which token to accept ('any' accepts both; unless --alb-arn)",
    )
    v.add_argument("--jwks-url", help="fetch keys from here instead of the pool's URL")
    v.add_argument("--jwks-file", help="read the JWKS from this file (offline)")
    v.add_argument("--issuer", help="exact iss to accept (emulators; required with --alb-arn)")
    v.add_argument(
        "--leeway", type=float, default=0.0, help="seconds of clock skew to allow (default 0)"
    )
    v.add_argument("--group", action="append", help="require one of these groups (repeatable)")
    v.add_argument("--scope", action="append", help="require one of these scopes (repeatable)")
    v.add_argument(
        "--alb-arn",
        action="append",
        help="verify an x-amzn-oidc-data token signed by this load balancer (repeatable); "
        "needs --client-id and --issuer",
    )
    v.add_argument(
        "--public-keys-url", help="with --alb-arn: the key endpoint ('/{kid}' is appended)"
    )
    v.set_defaults(func=_cmd_verify)

    i = command("inspect", "decode a token WITHOUT verifying it, and flag what looks wrong")
    i.add_argument("token", help="the token, or - to read it from stdin")
    i.set_defaults(func=_cmd_inspect)

    key_help = f"the pool's signing key and settings (default {_default_key_file()})"
    lp = command(
        "local-pool",
        "serve a local user pool's JWKS on 127.0.0.1 and print the settings for your app",
    )
    lp.add_argument("--port", type=_port, default=9229, help="TCP port (default 9229; 0: any)")
    lp.add_argument(
        "--pool-id",
        type=_pool_id,
        help=f"user pool id tokens claim to come from (default {_DEFAULT_POOL_ID}; saved)",
    )
    lp.add_argument(
        "--client-id",
        action="append",
        help=f"app client id (repeatable; default {_DEFAULT_CLIENT_ID}; saved)",
    )
    lp.add_argument("--key-file", help=key_help + "; created when missing, kept across restarts")
    lp.set_defaults(func=_cmd_local_pool)

    m = command("mint", "print a token signed by the local pool's key (see local-pool)")
    m.add_argument("--user", default="alice", help="username (default alice)")
    m.add_argument("--groups", nargs="+", help="cognito:groups (space or comma separated)")
    m.add_argument(
        "--scopes",
        nargs="+",
        help="OAuth scopes of an access token (default aws.cognito.signin.user.admin)",
    )
    m.add_argument("--token-use", choices=["access", "id"], default="access", help="default access")
    m.add_argument(
        "--lifetime",
        type=float,
        default=3600,
        help="seconds until exp (default 3600; negative: an already expired token)",
    )
    m.add_argument("--client-id", help="app client id (default: the pool's first)")
    m.add_argument(
        "--machine", action="store_true", help="a client-credentials token (no user, no groups)"
    )
    m.add_argument(
        "--claim",
        action="append",
        type=_claim,
        metavar="NAME=VALUE",
        help="add or override a claim; VALUE is JSON if it parses, else a string (repeatable)",
    )
    m.add_argument("--key-file", help=key_help)
    m.set_defaults(func=_cmd_mint)

    d = command("demo", "run the self-contained demo (the default)")
    d.add_argument("--quick", action="store_true", help="shorter speed measurement")
    d.set_defaults(func=_cmd_demo)
    return parser


def main(
    argv: Sequence[str] | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    stdin: TextIO | None = None,
) -> int:
    """Run the command line; returns the exit code (see the module docstring)."""
    out, err, stdin = out or sys.stdout, err or sys.stderr, stdin or sys.stdin
    # The library logs key-fetch retries as warnings; here the command's own one-line
    # error says it all, so they are not printed twice (a caller's handlers still run).
    logger = logging.getLogger("cognito_verify")
    if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())
    parser = _parser()
    try:
        args = parser.parse_args(argv if argv is not None else sys.argv[1:])
        if args.command is None:
            args = parser.parse_args(["demo"])
    except SystemExit as exc:  # --help, --version, or a usage error (argparse says which)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        result: int = args.func(args, out, err, stdin)
        out.flush()
    except _UsageError as exc:
        print(f"cognito-verify {args.command}: error: {exc}", file=err)
        return EXIT_USAGE
    except BrokenPipeError:
        # The reader went away (`| head -c1`): stop quietly, as Unix tools do. Point
        # stdout at /dev/null so the interpreter's final flush cannot fail again.
        _silence_stdout()
        return EXIT_OK
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - the promise is: never a traceback
        print(f"cognito-verify: internal error: {_describe(exc)} (please report)", file=err)
        return EXIT_INTERNAL
    return result


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    sys.exit(main())
