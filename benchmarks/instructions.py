"""Deterministic cost of a verification: CPU instructions counted by valgrind's callgrind.

Wall-clock ratios on a shared machine move with its load; instruction counts do not.
The parent process mints the tokens (RSA signing is random, so it stays outside the
counted process) and runs a child under ``valgrind --tool=callgrind``. The child
calls ``os.getppid()`` as a marker before and after each measured loop, and callgrind
(``--dump-before=getppid``) writes one profile part per segment, so each loop's count
is read exactly, with interpreter start-up, imports and warm-up left out.

For each of six token shapes it counts, per call:

* ``floor``: one RSA-2048 PKCS#1 v1.5 SHA-256 ``verify`` (cryptography), the cost no
  verifier can avoid;
* ``verify``: ``CognitoVerifier.verify`` on distinct tokens (cold: no cache hit);
* ``averify``: the same through ``averify`` in a running event loop;
* ``hot``: ``verify`` of one token again and again (token cache hit);
* ``inline``: a minimal pipeline written inline with the standard library (split,
  ``base64.urlsafe_b64decode``, ``json.loads``, RSA verify, the same claim comparisons)
  and none of the hardening (duplicate names, canonical base64, claim types, limits).

The cost of the loop itself (calling a no-op) is measured the same way and subtracted.
Python's hash seed is fixed, so a run is repeatable to a few instructions per call.
``make bench-instructions`` runs only this (under a minute).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
POOL_ID = "eu-west-1_BenchPool1"
CLIENT_ID = "5ot9mbgu3bd1jd0aqkfla9h1ms"
PER_SHAPE = 40  # distinct tokens per shape in each counted loop

SHAPES = ("id", "access", "machine", "groups50", "size4k", "realistic")
LABELS = {
    "id": "ID token",
    "access": "access token",
    "machine": "machine (client_credentials) token",
    "groups50": "access token, user in 50 groups",
    "size4k": "ID token of 4 KB",
    "realistic": "the bench's realistic ID token",
}
USE = {"id": "id", "access": "access", "machine": "access", "groups50": "access"}
# Instruction ratio to the RSA floor, cold verify (issue 15).
TARGETS = {"groups50": 1.5, "size4k": 1.5}
DEFAULT_TARGET = 1.3
HOT_TARGET = 0.03
AVERIFY_TARGET = 1.1
PIPELINES = ("noop", "floor", "verify", "averify", "hot", "inline")
# Where a cold verify's instructions go, for these shapes (scenario "breakdown").
BREAKDOWN_SHAPES = ("realistic", "size4k")
PARTS = (
    "noop", "parse (steps 1-2, all)", "payload base64url", "signature base64url",
    "payload JSON, duplicate-name hook", "payload JSON, no hook (for reference)",
    "orjson.loads (for reference)", "nesting bound (bracket count)", "check_claims",
    "Claims", "token cache insert",
)  # fmt: skip


def mint(pool: Any, shape: str, i: int) -> str:
    """One token of ``shape``; ``i`` makes it distinct."""
    from .run import realistic_id_token

    user = f"user{i:05d}"
    if shape == "id":
        return str(pool.id_token(user, groups=["users"], client_id=CLIENT_ID))
    if shape == "access":
        return str(pool.access_token(user, groups=["users"], client_id=CLIENT_ID))
    if shape == "machine":
        return str(
            pool.client_credentials_token(
                scopes=("orders-api/orders.read", "orders-api/orders.write"), client_id=CLIENT_ID
            )
        )
    if shape == "groups50":
        groups = [f"{POOL_ID}_team-{n:02d}" for n in range(50)]
        return str(pool.access_token(user, groups=groups, client_id=CLIENT_ID))
    if shape == "size4k":
        base = pool.id_token(user, groups=["users"], client_id=CLIENT_ID)
        # Custom attributes until the token is about 4 KB (4,096 characters).
        pad = max(0, (4096 - len(base)) * 3 // 4 - 40)
        attrs = {f"custom:attr{n:02d}": "v" * 40 for n in range(pad // 56)}
        return str(pool.id_token(user, groups=["users"], client_id=CLIENT_ID, claims=attrs))
    return realistic_id_token(pool, i)


# --- the child: runs under valgrind ---------------------------------------------------


def _marker() -> None:
    os.getppid()  # callgrind dumps a profile part before every getppid call


def _runs(
    shape: str,
    tokens: list[str],
    verifier: Any,
    keys: dict[str, Any],
    issuer: str,
    loop: asyncio.AbstractEventLoop,
) -> dict[str, Callable[..., Any]]:
    """The counted loops of one shape, each a no-argument callable (plus ``inline_one``)."""
    from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
    from cryptography.hazmat.primitives.hashes import SHA256

    pad, sha = PKCS1v15(), SHA256()
    b64decode, loads, clock = base64.urlsafe_b64decode, json.loads, time.time
    use = USE.get(shape, "id")
    verify, averify = verifier.verify, verifier.averify
    signed = [(b64decode(t.rsplit(".", 1)[1] + "=="), t.rsplit(".", 1)[0].encode()) for t in tokens]
    key = keys[json.loads(b64decode(tokens[0].split(".")[0] + "=="))["kid"]]
    client_claim = "aud" if use == "id" else "client_id"

    def inline(token: str) -> Any:
        # The same checks written inline, without any of the hardening.
        head, body, sig = token.split(".")
        header = loads(b64decode(head + "=" * (-len(head) % 4)))
        if header["alg"] != "RS256":
            raise ValueError("alg")
        payload = loads(b64decode(body + "=" * (-len(body) % 4)))
        keys[header["kid"]].verify(
            b64decode(sig + "=" * (-len(sig) % 4)), f"{head}.{body}".encode(), pad, sha
        )
        now = clock()
        if not payload["exp"] > now >= payload["iat"] - 5:
            raise ValueError("lifetime")
        if payload["iss"] != issuer or payload["token_use"] != use:
            raise ValueError("iss/token_use")
        if payload[client_claim] != CLIENT_ID:
            raise ValueError("client")
        return payload

    def noop(token: str) -> None:
        pass

    async def aall() -> None:
        for t in tokens:
            await averify(t)

    return {
        "noop": lambda: [noop(t) for t in tokens],
        "floor": lambda: [key.verify(s, d, pad, sha) for s, d in signed],
        "verify": lambda: [verify(t) for t in tokens],
        "averify": lambda: loop.run_until_complete(aall()),
        "hot": lambda: [verify(tokens[0]) for _ in tokens],
        "inline": lambda: [inline(t) for t in tokens],
        "inline_one": inline,
    }


def child(data_path: str) -> None:
    from cognito_verify import CognitoVerifier

    data = json.loads(Path(data_path).read_text())
    jwks = data["jwks"]
    issuer = data["issuer"]
    verifiers = {
        use: CognitoVerifier(POOL_ID, client_id=CLIENT_ID, token_use=use, jwks=jwks)
        for use in ("id", "access")
    }
    source = verifiers["id"]._by_issuer[issuer][1]
    keys = {k["kid"]: source.get(k["kid"]) for k in jwks["keys"]}
    loop = asyncio.new_event_loop()

    def counted(run: Callable[[], Any]) -> None:
        gc.collect()
        gc.disable()
        _marker()
        run()
        _marker()
        gc.enable()

    for shape in SHAPES:
        warm, tokens = data["tokens"][shape][:4], data["tokens"][shape][4:]
        verifier = verifiers[USE.get(shape, "id")]
        runs = _runs(shape, tokens, verifier, keys, issuer, loop)
        for name in PIPELINES:
            for t in warm:  # header memo, key lookup, code paths: warm before counting
                verifier.verify(t)
                runs["inline_one"](t)
            verifier._cache.clear()
            if name == "hot":
                verifier.verify(tokens[0])
            counted(runs[name])
    for shape in BREAKDOWN_SHAPES:
        tokens = data["tokens"][shape][4:]
        verifier = verifiers[USE.get(shape, "id")]
        for run in _parts(tokens, verifier, issuer).values():
            run()  # warm
            counted(run)
    loop.close()


def _parts(tokens: list[str], verifier: Any, issuer: str) -> dict[str, Callable[[], Any]]:
    """The pieces of a cold verify, each over the same tokens as a counted loop."""
    from cognito_verify import _token
    from cognito_verify.claims import Claims

    pool, source = verifier._by_issuer[issuer]
    segs = [t.split(".") for t in tokens]
    texts = [_token._b64(p, "payload").decode() for _, p, _ in segs]
    parsed = [_token.parse(t) for t in tokens]
    plain = json.JSONDecoder().scan_once  # type: ignore[attr-defined]
    try:
        import orjson

        raws = [x.encode() for x in texts]
        orjson_loads: Callable[[], Any] = lambda: [orjson.loads(r) for r in raws]  # noqa: E731
    except ImportError:
        orjson_loads = lambda: None  # noqa: E731
    now = time.time()
    cache = verifier._cache

    def claims_check() -> None:
        for pt in parsed:
            _token.check_claims(
                pt.payload,
                issuers=pool.issuers,
                client_ids=pool.client_ids,
                token_use=pool.token_use,
                now=now,
                leeway=0.0,
                clock_skew=5.0,
            )

    owned = [Claims._owned(dict(pt.payload)) for pt in parsed]

    def insert() -> None:
        cache.clear()
        for t, c in zip(tokens, owned, strict=True):
            cache.put(t, c, 0.0, source, source.version, 5.0)

    runs: dict[str, Callable[[], Any]] = {
        "noop": lambda: [None for _ in tokens],
        "parse (steps 1-2, all)": lambda: [_token.parse(t) for t in tokens],
        "payload base64url": lambda: [_token._b64(p, "payload") for _, p, _ in segs],
        "signature base64url": lambda: [_token._b64(s, "signature") for _, _, s in segs],
        "payload JSON, duplicate-name hook": lambda: [_token._SCAN(x, 0) for x in texts],
        "payload JSON, no hook (for reference)": lambda: [plain(x, 0) for x in texts],
        "orjson.loads (for reference)": orjson_loads,
        "nesting bound (bracket count)": lambda: [_token._depth_ok(x) for x in texts],
        "check_claims": claims_check,
        "Claims": lambda: [Claims._owned(pt.payload) for pt in parsed],
        "token cache insert": insert,
    }
    assert tuple(runs) == PARTS
    return runs


# --- the parent -----------------------------------------------------------------------


def _totals(path: Path) -> int:
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("totals:"):
            return int(line.split()[1])
    raise RuntimeError(f"no totals line in {path}")


def measure(python: str = sys.executable, per_shape: int = PER_SHAPE) -> dict[str, Any]:
    """Instructions per call for every shape and pipeline, as a dict for the report."""
    from cognito_verify.testing import LocalUserPool

    if shutil.which("valgrind") is None:
        raise RuntimeError("valgrind is not installed (apt-get install valgrind)")
    pool = LocalUserPool(POOL_ID, (CLIENT_ID,))
    n = per_shape + 4
    tokens = {s: [mint(pool, s, i) for i in range(n)] for s in SHAPES}
    chars = {s: round(sum(len(t) for t in ts) / len(ts)) for s, ts in tokens.items()}
    with tempfile.TemporaryDirectory(prefix="cv-callgrind-") as tmp:
        data = Path(tmp, "tokens.json")
        data.write_text(json.dumps({"jwks": pool.jwks, "issuer": pool.issuer, "tokens": tokens}))
        out = Path(tmp, "cg.out")
        env = dict(os.environ, PYTHONHASHSEED="0", PYTHONPATH=str(ROOT))
        cmd = [
            "valgrind", "--tool=callgrind", "--dump-before=getppid",
            f"--callgrind-out-file={out}", python, "-m", "benchmarks.instructions",
            "--child", str(data),
        ]  # fmt: skip
        subprocess.run(cmd, check=True, cwd=ROOT, env=env, capture_output=True)
        expected = 2 * (len(SHAPES) * len(PIPELINES) + len(BREAKDOWN_SHAPES) * len(PARTS))
        parts = [_totals(Path(f"{out}.{i}")) for i in range(1, expected + 1)]
    counts: dict[str, dict[str, float]] = {}
    i = 0
    for shape in SHAPES:
        raw = {}
        for name in PIPELINES:
            raw[name] = parts[i + 1] / per_shape  # part i+1 ends at the loop's closing marker
            i += 2
        counts[shape] = {k: v - raw["noop"] for k, v in raw.items() if k != "noop"}
    breakdown: dict[str, dict[str, float]] = {}
    for shape in BREAKDOWN_SHAPES:
        raw = {}
        for name in PARTS:
            raw[name] = parts[i + 1] / per_shape
            i += 2
        breakdown[shape] = {k: max(v - raw["noop"], 0.0) for k, v in raw.items() if k != "noop"}
    try:
        import orjson  # noqa: F401
    except ImportError:
        for b in breakdown.values():
            b.pop("orjson.loads (for reference)")
    return {"counts": counts, "chars": chars, "per_shape": per_shape, "breakdown": breakdown}


def wall_clock(rounds: int = 15, per_shape: int = 100) -> dict[str, dict[str, float]]:
    """Interleaved wall-clock seconds per call of floor, verify and inline, per shape.

    The same loops as the counted ones, timed in this process: each round runs every
    shape's three loops, in alternating order, and the ratios are taken within a round
    before the median. These move with the machine's load; the counts do not.
    """
    import statistics

    from cognito_verify import CognitoVerifier
    from cognito_verify.testing import LocalUserPool

    pool = LocalUserPool(POOL_ID, (CLIENT_ID,))
    verifiers = {
        use: CognitoVerifier(POOL_ID, client_id=CLIENT_ID, token_use=use, jwks=pool.jwks)
        for use in ("id", "access")
    }
    source = verifiers["id"]._by_issuer[pool.issuer][1]
    keys = {k["kid"]: source.get(k["kid"]) for k in pool.jwks["keys"]}
    loop = asyncio.new_event_loop()
    jobs = []
    for shape in SHAPES:
        tokens = [mint(pool, shape, i) for i in range(per_shape)]
        verifier = verifiers[USE.get(shape, "id")]
        runs = _runs(shape, tokens, verifier, keys, pool.issuer, loop)
        for name in ("floor", "verify", "inline"):
            jobs.append((shape, name, runs[name], verifier, len(tokens)))
    samples: dict[tuple[str, str], list[float]] = {(s, n): [] for s, n, *_ in jobs}
    for r in range(rounds + 1):
        for shape, name, run, verifier, n in jobs if r % 2 else list(reversed(jobs)):
            verifier._cache.clear()
            gc.collect()
            gc.disable()
            start = time.perf_counter()
            run()
            elapsed = (time.perf_counter() - start) / n
            gc.enable()
            if r:  # round 0 warms up
                samples[(shape, name)].append(elapsed)
    loop.close()
    out: dict[str, dict[str, float]] = {}
    for shape in SHAPES:
        floor, ours, inline = (samples[(shape, n)] for n in ("floor", "verify", "inline"))
        out[shape] = {
            "floor_us": statistics.median(floor) * 1e6,
            "verify_us": statistics.median(ours) * 1e6,
            "inline_us": statistics.median(inline) * 1e6,
            "ratio": statistics.median(o / f for o, f in zip(ours, floor, strict=True)),
            "inline_ratio": statistics.median(i / f for i, f in zip(inline, floor, strict=True)),
            "vs_inline": statistics.median(o / i for o, i in zip(ours, inline, strict=True)),
        }
    return out


def wall_table(wall: dict[str, dict[str, float]]) -> str:
    lines = [
        "wall-clock per call (interleaved rounds, median; moves with the machine's load)",
        f"{'shape':<9} {'floor':>9} {'verify':>9} {'x floor':>8} {'inline':>9} "
        f"{'inline x':>8} {'/inline':>7} {'(<= 1.1)':8}",
    ]
    for shape, w in wall.items():
        lines.append(
            f"{shape:<9} {w['floor_us']:>7.1f}us {w['verify_us']:>7.1f}us {w['ratio']:>8.3f} "
            f"{w['inline_us']:>7.1f}us {w['inline_ratio']:>8.3f} {w['vs_inline']:>7.3f} "
            f"{'met' if w['vs_inline'] <= 1.1 else 'MISSED':8}"
        )
    return "\n".join(lines)


def rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per shape: counts, ratios, target and verdicts."""
    out = []
    for shape in SHAPES:
        c = result["counts"][shape]
        floor = c["floor"]
        target = TARGETS.get(shape, DEFAULT_TARGET)
        out.append(
            {
                "shape": shape,
                "label": LABELS[shape],
                "chars": result["chars"][shape],
                "floor": floor,
                "verify": c["verify"],
                "python": c["verify"] - floor,
                "ratio": c["verify"] / floor,
                "target": target,
                "met": c["verify"] / floor <= target,
                "inline": c["inline"] / floor,
                "vs_inline": c["verify"] / c["inline"],
                "averify": c["averify"] / c["verify"],
                "averify_met": c["averify"] / c["verify"] <= AVERIFY_TARGET,
                "hot": c["hot"] / floor,
                "hot_met": c["hot"] / floor <= HOT_TARGET,
            }
        )
    return out


def table(result: dict[str, Any]) -> str:
    lines = [
        "instructions per call (valgrind callgrind, deterministic); x = ratio to the RSA floor",
        f"{'shape':<9} {'chars':>5} {'floor':>8} {'verify':>8} {'x floor':>8} {'target':>7} "
        f"{'':6} {'inline x':>8} {'/inline':>7} {'averify/v':>9} {'':6} {'hot x':>6} {'':6}",
    ]
    for r in rows(result):
        lines.append(
            f"{r['shape']:<9} {r['chars']:>5} {r['floor'] / 1e3:>7.0f}k {r['verify'] / 1e3:>7.0f}k "
            f"{r['ratio']:>8.3f} {'<= ' + format(r['target'], '.1f'):>7} "
            f"{'met' if r['met'] else 'MISSED':6} {r['inline']:>8.3f} {r['vs_inline']:>7.3f} "
            f"{r['averify']:>9.3f} {'met' if r['averify_met'] else 'MISSED':6} "
            f"{r['hot']:>6.3f} {'met' if r['hot_met'] else 'MISSED':6}"
        )
    lines.append(
        "targets: verify x floor as shown; averify/verify <= 1.1; hot (token cache hit) "
        "<= 0.03x floor"
    )
    return "\n".join(lines)


def breakdown_table(result: dict[str, Any]) -> str:
    shapes = list(result["breakdown"])
    floors = {s: result["counts"][s]["floor"] for s in shapes}
    lines = [
        "where a cold verify's instructions go (per call, and x the RSA floor)",
        f"{'part':<40}" + "".join(f" {s:>18}" for s in shapes),
    ]
    for part in result["breakdown"][shapes[0]]:
        values = [result["breakdown"][s][part] for s in shapes]
        cells = "".join(
            f" {v / 1e3:>8.1f}k {v / floors[s]:>7.3f}x" for s, v in zip(shapes, values, strict=True)
        )
        lines.append(f"{part:<40}{cells}")
    return "\n".join(lines)


def markdown_section(counts: dict[str, Any] | str, wall: dict[str, dict[str, float]]) -> list[str]:
    """The docs/benchmarks.md section for the six shapes (used by ``make bench``)."""
    out = [
        "## Six token shapes: instructions and wall-clock",
        "",
        "`make bench-instructions` (`python -m benchmarks.instructions`) runs a child "
        "process under `valgrind --tool=callgrind` and counts the CPU instructions of "
        "each loop (`os.getppid()` marks where a loop starts and ends; the cost of an empty "
        "loop is subtracted; hash seed fixed). **Instruction counts are deterministic**: "
        "a re-run on this machine gives the same figures to well under 1%, whatever the "
        "load, so they are the figures of record for the targets. **Wall-clock times move "
        "with the load** of this shared machine and with the CPU; they are printed beside "
        "the counts for reference. Keys are given as a dict (`jwks=`), so the key lookup "
        "of a fetched key set is not in these figures.",
        "",
        "Shapes: ID token (one group, email), access token (one group), machine "
        "(`client_credentials`) token, access token of a user in 50 groups, ID token padded "
        "with custom attributes to 4 KB, and the realistic federated ID token used above. "
        '"inline" is a minimal pipeline written with the standard library only (split, '
        "`base64.urlsafe_b64decode`, `json.loads`, the RSA check, the same claim "
        "comparisons) and none of the hardening (strict base64url, duplicate names, "
        "nesting bound, claim types, size limits, the cache).",
        "",
    ]
    if isinstance(counts, str):
        out.append(f"Instruction counts: {counts}.")
    else:
        out += [
            "| shape | chars | RSA floor | cold verify | x floor | target | | inline x floor "
            "| verify / inline | averify / verify | hot x floor |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in rows(counts):
            out.append(
                f"| {r['label']} | {r['chars']} | {r['floor'] / 1e3:.0f}k | "
                f"{r['verify'] / 1e3:.0f}k | {r['ratio']:.3f} | <= {r['target']:.1f} | "
                f"{'met' if r['met'] else 'MISSED'} | {r['inline']:.3f} | "
                f"{r['vs_inline']:.3f} | {r['averify']:.3f} | {r['hot']:.3f} |"
            )
        shapes = list(counts["breakdown"])
        out += [
            "",
            "Where the instructions of a cold `verify` go (per call; x the RSA floor of "
            "the same token):",
            "",
            "| part | " + " | ".join(LABELS[s] for s in shapes) + " |",
            "|---|" + "---|" * len(shapes),
        ]
        for part in counts["breakdown"][shapes[0]]:
            out.append(
                f"| {part} | "
                + " | ".join(
                    f"{counts['breakdown'][s][part] / 1e3:.1f}k "
                    f"({counts['breakdown'][s][part] / counts['counts'][s]['floor']:.3f}x)"
                    for s in shapes
                )
                + " |"
            )
        rs = rows(counts)
        lo = min(r["inline"] for r in rs)
        hi = max(r["inline"] for r in rs)
        out += [
            "",
            f"**Why the cold-path targets are missed.** The minimal inline pipeline alone "
            f"costs {lo:.2f}x to {hi:.2f}x the RSA floor on these shapes, above the "
            "1.3x / 1.5x targets, and a hardened `verify` costs "
            f"{min(r['vs_inline'] for r in rs):.3f}x to {max(r['vs_inline'] for r in rs):.3f}x "
            "the inline pipeline. What stops the target is the standard library's own "
            "base64 and JSON decoding on this CPython build, which grow with the token's "
            "length (the breakdown above): base64url and JSON of the payload and the "
            "signature's base64url alone exceed the instructions the targets leave for "
            "Python. A faster JSON parser (orjson, in the breakdown when installed) would "
            "save the difference between its row and the hook's, minus an exact "
            "duplicate-name check over its result, which it cannot do itself. No such "
            "check was found that is provably exact against whitespace and escapes in the "
            "JSON text without re-scanning that text, and the bar is identical behaviour "
            "(tests/test_differential.py), so the core keeps the standard parser and no "
            "extra is offered.",
        ]
    out += [
        "",
        "Wall-clock, same loops, interleaved rounds (median; moves with load):",
        "",
        "| shape | RSA floor | cold verify | x floor | inline | inline x floor "
        "| verify / inline | target <= 1.1 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for shape, w in wall.items():
        out.append(
            f"| {LABELS[shape]} | {w['floor_us']:.1f} µs | {w['verify_us']:.1f} µs | "
            f"{w['ratio']:.2f} | {w['inline_us']:.1f} µs | {w['inline_ratio']:.2f} | "
            f"{w['vs_inline']:.2f} | {'met' if w['vs_inline'] <= 1.1 else 'MISSED'} |"
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.instructions", description=__doc__)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--per-shape", type=int, default=PER_SHAPE)
    parser.add_argument("--json", action="store_true", help="print the raw counts as JSON")
    args = parser.parse_args(argv)
    if args.child:
        child(args.child)
        return 0
    result = measure(per_shape=args.per_shape)
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        print(table(result))
        print()
        print(breakdown_table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
