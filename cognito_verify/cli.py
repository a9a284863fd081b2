"""`cognito-verify`: verify or inspect a token from the shell, or run the demo."""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

from ._pool import parse_issuer
from .errors import CognitoVerifyError, ConfigurationError
from .verifier import CognitoVerifier

EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2


def _read_token(value: str, stdin: TextIO) -> str:
    return stdin.read().strip() if value == "-" else value.strip()


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


def _cmd_verify(args: argparse.Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    client: list[str] | None = None if args.client_id == ["none"] else args.client_id
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
        except (OSError, ValueError) as exc:
            print(f"error: cannot read --jwks-file: {exc}", file=err)
            return EXIT_USAGE
    try:
        verifier = CognitoVerifier(args.user_pool_id, client_id=client, token_use=use, **options)
    except (ConfigurationError, TypeError) as exc:
        print(f"error: {exc}", file=err)
        return EXIT_USAGE
    try:
        with verifier:
            claims = verifier.verify(_read_token(args.token, stdin))
    except CognitoVerifyError as exc:
        print(f"{exc.code}: {exc.message}", file=err)
        return EXIT_REFUSED
    json.dump(claims.to_dict(), out, indent=2, sort_keys=True, ensure_ascii=False)
    out.write("\n")
    return EXIT_OK


# --- inspect --------------------------------------------------------------------------


def _decode_segment(segment: str) -> Any:
    raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    return json.loads(raw.decode("utf-8"))


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


def _cmd_inspect(args: argparse.Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    token = _read_token(args.token, stdin)
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
    try:
        header, payload = _decode_segment(parts[0]), _decode_segment(parts[1])
    except (ValueError, binascii.Error) as exc:
        print(f"Not a JWT: header or payload does not decode ({type(exc).__name__}).", file=err)
        return EXIT_REFUSED
    now = time.time()
    out.write(
        "*** UNVERIFIED: decoded only. Nothing below is trusted until "
        "`cognito-verify verify` accepts the token. ***\n\n"
    )
    out.write("header:\n" + json.dumps(header, indent=2, ensure_ascii=False) + "\n\n")
    out.write("payload:\n" + json.dumps(payload, indent=2, ensure_ascii=False) + "\n\n")
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


def _cmd_demo(args: argparse.Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    from .testing import LocalUserPool, encode_token

    def say(text: str = "") -> None:
        out.write(text + "\n")
        out.flush()

    say(
        "cognito-verify demo: a local user pool, a real JWKS endpoint on 127.0.0.1, "
        "no AWS account, no network.\n"
    )
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

        say("\nAccepted (keys fetched over HTTP on first use, then cached):")
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
            who = c.username or f"client {c.client_id}"
            say(
                f"  {label:<14} token_use={c.token_use:<6} {who:<22} "
                f"groups={sorted(c.groups)} scopes={sorted(c.scopes)}"
            )
        say(f"  JWKS requests so far: {server.request_count} (one per verifier)")

        now = int(time.time())
        good = pool.access_token("alice")
        h, p, s = good.split(".")
        forged = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
        forged["cognito:groups"] = ["admin"]
        from .testing import b64url

        tampered = f"{h}.{b64url(json.dumps(forged).encode())}.{s}"
        unsigned = encode_token({"alg": "none", "kid": pool.kid}, forged, None)
        say("\nRefused:")
        cases = [
            ("tampered payload", access, tampered),
            ("expired", access, pool.access_token(claims={"iat": now - 7200, "exp": now - 3600})),
            ("other app client", access, pool.access_token(client_id="someone-elses-client")),
            ("ID token as access", access, pool.id_token()),
            ("other user pool", access, other_pool.access_token()),
            ("alg: none", access, unsigned),
            ("refresh token (JWE)", access, "a.b.c.d.e"),
            ("not in group admin", verifier("access"), good),
        ]
        for label, v, token in cases:
            try:
                if label == "not in group admin":
                    v.verify(token, groups=["admin"])
                else:
                    v.verify(token)
                say(f"  {label:<20} ACCEPTED (this is a bug)")
                return EXIT_REFUSED
            except CognitoVerifyError as exc:
                say(f"  {label:<20} {exc.status_code}  {exc.code:<22} {exc.message}")

        count = 300 if args.quick else 1500
        distinct = [pool.access_token(f"user{i}") for i in range(count)]
        # A fresh verifier per pass would refetch keys; instead every token is new to
        # the verifier that times it, so no verified-token reuse can flatter the figure.
        cold = _rate(verifier("access").verify, distinct, 1)
        hot = _rate(access.verify, [good] * count, 3)
        say(f"\nSpeed on this machine (one thread, keys cached, {count} tokens):")
        say(f"  distinct tokens   {cold:>10,.0f} verifications/s")
        say(f"  repeated token    {hot:>10,.0f} verifications/s")
        say(f"  JWKS requests in total: {server.request_count}")
        for v in (access, ident, machine):
            v.close()
    return EXIT_OK


# --- entry point ----------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cognito-verify", description="Verify or inspect Amazon Cognito JWTs."
    )
    sub = parser.add_subparsers(dest="command")

    v = sub.add_parser("verify", help="verify a token and print its claims as JSON")
    v.add_argument("token", help="the token, or - to read it from stdin")
    v.add_argument("--user-pool-id", required=True)
    v.add_argument(
        "--client-id",
        action="append",
        required=True,
        help="app client id (repeat for several; 'none' accepts any)",
    )
    v.add_argument("--token-use", required=True, choices=["id", "access", "any"])
    v.add_argument("--jwks-url", help="fetch keys from here instead of the pool's URL")
    v.add_argument("--jwks-file", help="read the JWKS from this file (offline)")
    v.add_argument("--issuer", help="exact iss to accept (emulators)")
    v.add_argument("--leeway", type=float, default=0.0, help="seconds of clock skew")
    v.add_argument("--group", action="append", help="require one of these groups")
    v.add_argument("--scope", action="append", help="require one of these scopes")
    v.set_defaults(func=_cmd_verify)

    i = sub.add_parser("inspect", help="decode a token WITHOUT verifying it")
    i.add_argument("token", help="the token, or - to read it from stdin")
    i.set_defaults(func=_cmd_inspect)

    d = sub.add_parser("demo", help="run the self-contained demo (the default)")
    d.add_argument("--quick", action="store_true", help="shorter speed measurement")
    d.set_defaults(func=_cmd_demo)
    return parser


def main(
    argv: Sequence[str] | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    stdin: TextIO | None = None,
) -> int:
    parser = _parser()
    args = parser.parse_args(argv if argv is not None else sys.argv[1:])
    if args.command is None:
        args = parser.parse_args(["demo"])
    result: int = args.func(args, out or sys.stdout, err or sys.stderr, stdin or sys.stdin)
    return result


if __name__ == "__main__":
    sys.exit(main())
