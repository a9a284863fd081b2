"""``make bench``: every scenario of the performance issue, printed and written down.

Scenarios (numbers as in docs/benchmarks.md):

1. raw floor: ``cryptography`` RSA-2048 PKCS#1 v1.5 SHA-256 verify of the signatures;
2. ``verify`` on distinct tokens (cold: the token cache is emptied before each pass);
3. ``averify`` on the same;
4. ``verify`` on one token repeated (hot);
5. the peers, same tokens, same keys (see benchmarks/peers.py);
6. FastAPI under uvicorn (own process) loaded from this process over 127.0.0.1;
7. import time against the dependencies alone, and the token cache's memory.

Timing: each contender verifies the same list of tokens once per round; rounds
interleave the contenders (A B C ... then ... C B A), every figure is the median
over rounds, and every ratio is taken within a round (same conditions) before the
median. Nothing here is asserted: targets are printed next to the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import gc
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cryptography
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.hashes import SHA256

import cognito_verify
from cognito_verify import CognitoVerifier, _token
from cognito_verify._cache import DEFAULT_CACHE_SIZE, MAX_CACHED_TOKEN_LENGTH
from cognito_verify.claims import Claims
from cognito_verify.testing import LocalUserPool

from . import instructions
from .load import LoadResult, load
from .peers import FACTORIES, Contender, Setup, Unavailable

ROOT = Path(__file__).resolve().parent.parent
POOL_ID = "eu-west-1_BenchPool1"
CLIENT_ID = "5ot9mbgu3bd1jd0aqkfla9h1ms"
WEB_FRAMEWORKS = ("fastapi", "starlette", "flask", "django", "werkzeug", "uvicorn", "quart")


# --- tokens ---------------------------------------------------------------------------


def realistic_id_token(pool: LocalUserPool, i: int) -> str:
    """An ID token shaped like a real federated Cognito user's, about 1,250 characters."""
    return pool.id_token(
        f"google_10{i:016d}",
        groups=["eu-west-1_BenchPool1_Google", "orders-admins", "support"],
        email=f"user{i}@example.com",
        client_id=CLIENT_ID,
        claims={
            "custom:tenant_id": "tenant-000042",
            "identities": [
                {
                    "userId": f"10{i:016d}",
                    "providerName": "Google",
                    "providerType": "Google",
                    "primary": "true",
                }
            ],
        },
    )


# --- timing ---------------------------------------------------------------------------


@dataclass
class Series:
    """Per-round seconds per call of one contender."""

    name: str
    per_call: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.per_call)


def time_sync(fn: Callable[[str], Any], tokens: list[str]) -> float:
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        for token in tokens:
            fn(token)
        return (time.perf_counter() - start) / len(tokens)
    finally:
        gc.enable()


def time_async(
    loop: asyncio.AbstractEventLoop, fn: Callable[[str], Any], tokens: list[str]
) -> float:
    async def run() -> float:
        start = time.perf_counter()
        for token in tokens:
            await fn(token)
        return (time.perf_counter() - start) / len(tokens)

    gc.collect()
    gc.disable()
    try:
        return loop.run_until_complete(run())
    finally:
        gc.enable()


def ratio_median(a: Series, b: Series) -> float:
    return statistics.median(x / y for x, y in zip(a.per_call, b.per_call, strict=True))


# --- scenario 6: FastAPI under uvicorn --------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(port: int, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"uvicorn exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"GET /adapter HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                data = b""
                while chunk := s.recv(4096):
                    data += chunk
                return str(json.loads(data.split(b"\r\n\r\n", 1)[1])["adapter"])
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("uvicorn did not answer")


@dataclass
class ServerRun:
    adapter: str
    results: dict[str, list[LoadResult]]
    uvicorn: str


def fastapi_scenario(
    pool: LocalUserPool, hot: list[str], cold: list[str], rounds: int, per_run: int
) -> ServerRun | str:
    try:
        import importlib.metadata

        uv_version = importlib.metadata.version("uvicorn")
        importlib.metadata.version("fastapi")
    except importlib.metadata.PackageNotFoundError as exc:
        return f"not run: {exc.name} is not installed in this environment"
    port = _free_port()
    env = dict(os.environ)
    env["BENCH_POOL"] = json.dumps(
        {"user_pool_id": pool.user_pool_id, "client_id": CLIENT_ID, "jwks": pool.jwks}
    )
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [
        sys.executable, "-m", "uvicorn", "benchmarks.app:app", "--host", "127.0.0.1",
        "--port", str(port), "--log-level", "warning", "--no-access-log", "--workers", "1",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT)
    try:
        adapter = _wait_for(port, proc)
        # Warm-up: imports, first requests, and the hot tokens enter the cache.
        load(port, "/public", hot, count=300)
        load(port, "/private", hot, count=300)
        results: dict[str, list[LoadResult]] = {
            "unprotected": [],
            "no-op dependency": [],
            "hot": [],
            "cold": [],
        }
        offset = 0
        for _ in range(rounds):
            # Every request carries the same Authorization header: only the route differs,
            # so the comparison is the cost of protecting it, not of a bigger request.
            results["unprotected"].append(load(port, "/public", hot, count=per_run))
            results["no-op dependency"].append(load(port, "/dependency", hot, count=per_run))
            results["hot"].append(load(port, "/private", hot, count=per_run))
            # Each cold token is sent once: no cache hit is possible.
            batch = cold[offset : offset + per_run]
            offset += per_run
            results["cold"].append(load(port, "/private", batch, count=len(batch)))
        for name, runs in results.items():
            failed = sum(r.failures for r in runs)
            if failed:
                raise RuntimeError(f"{failed} {name} requests were refused")
        return ServerRun(adapter, results, uv_version)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


# --- scenario 7 -----------------------------------------------------------------------


# Bytecode caching on, as in any installed deployment: the dependencies were compiled
# by pip at install time, so our modules are compiled once up front too.
_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _run_python(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, cwd="/", env=_ENV)
    return time.perf_counter() - start


def import_scenario(runs: int) -> dict[str, Any]:
    """Wall time of a fresh interpreter importing us vs. importing our dependencies."""
    import compileall

    compileall.compile_dir(str(Path(cognito_verify.__file__).parent), quiet=1)
    probe = subprocess.run(
        [sys.executable, "-c", "import sys, cognito_verify; print(' '.join(sorted(sys.modules)))"],
        check=True,
        capture_output=True,
        text=True,
        cwd="/",
    ).stdout.split()
    stdlib = set(sys.stdlib_module_names)
    # Private top-level names (_openssl, _distutils_hack, the editable-install finder)
    # are loaded as side effects of the packages themselves, not imported by name.
    third = sorted(
        {m.split(".")[0] for m in probe if not m.startswith("_")}
        - stdlib
        - {"cognito_verify", "builtins"}
    )
    # The exact third-party modules cognito_verify pulls in, deepest names included.
    deps = sorted(m for m in probe if m.split(".")[0] in third)
    frameworks = sorted({m.split(".")[0] for m in probe} & set(WEB_FRAMEWORKS))
    ours_code = "import cognito_verify"
    deps_code = "import " + ", ".join(deps)
    base_code = "pass"
    base, ours, theirs = [], [], []
    for i in range(runs):
        order = [(base, base_code), (ours, ours_code), (theirs, deps_code)]
        for bucket, code in order if i % 2 == 0 else reversed(order):
            bucket.append(_run_python(code))
    b = statistics.median(base)
    ratios = [(o - b) / (d - b) for o, d in zip(ours, theirs, strict=True)]
    # Our own share: the time of `import cognito_verify` once its dependencies are in.
    probe_own = (
        deps_code + "\nimport sys, time\nbefore = set(sys.modules)\nt = time.perf_counter()\n"
        "import cognito_verify\nprint(time.perf_counter() - t)\n"
        "print(' '.join(sorted(m for m in set(sys.modules) - before "
        "if not m.startswith('cognito_verify'))))"
    )
    own, extra_modules = [], ""
    for _ in range(max(5, runs // 3)):
        out = subprocess.run(
            [sys.executable, "-c", probe_own],
            check=True,
            capture_output=True,
            text=True,
            cwd="/",
            env=_ENV,
        ).stdout.splitlines()
        own.append(float(out[0]))
        extra_modules = out[1] if len(out) > 1 else ""
    return {
        "own_ms": statistics.median(own) * 1e3,
        "own_extra_modules": extra_modules.split(),
        "ours_ms": (statistics.median(ours) - b) * 1e3,
        "deps_ms": (statistics.median(theirs) - b) * 1e3,
        "ratio": statistics.median(ratios),
        "deps": sorted(third),
        "frameworks": frameworks,
    }


def cache_memory(pool: LocalUserPool, tokens: list[str]) -> dict[str, float]:
    """Bytes held by a full cache at the default size: typical and limit-sized tokens."""
    out: dict[str, float] = {}
    verifier = CognitoVerifier(
        pool.user_pool_id, client_id=CLIENT_ID, token_use="id", jwks=pool.jwks
    )
    assert verifier._cache.size == DEFAULT_CACHE_SIZE
    # Typical: real verifications of distinct realistic tokens (copies owned by the cache).
    copies = [t[:-1] + t[-1] for t in tokens[:DEFAULT_CACHE_SIZE]]
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    for t in copies:
        verifier.verify(t)
    del copies
    gc.collect()
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    out["typical_tokens"] = len(verifier._cache)
    out["typical_mb"] = (current - base) / 2**20
    out["typical_peak_mb"] = (peak - base) / 2**20
    out["typical_token_chars"] = len(tokens[0])
    # Worst case: every entry a token at the longest cacheable length. Entries are put
    # straight into the cache (signing thousands of 6 KiB tokens would take minutes);
    # the Claims are built from a real payload padded to that size, as verify builds them.
    verifier = CognitoVerifier(
        pool.user_pool_id, client_id=CLIENT_ID, token_use="id", jwks=pool.jwks
    )
    template = verifier.verify(tokens[0]).to_dict()
    source = verifier._by_issuer[pool.issuer][1]
    overhead = len(tokens[0]) - len(json.dumps(template, separators=(",", ":"))) * 4 // 3
    pad = (MAX_CACHED_TOKEN_LENGTH - overhead) * 3 // 4 - len(json.dumps(template)) - 20
    verifier._cache.clear()
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    for i in range(DEFAULT_CACHE_SIZE):
        payload = dict(template, jti=f"{i:036d}", blob="x" * pad)
        token = f"{i:08d}".ljust(MAX_CACHED_TOKEN_LENGTH, "A")
        verifier._cache.put(token, Claims(payload), 0.0, source, source.version)
    gc.collect()
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    out["limit_tokens"] = len(verifier._cache)
    out["limit_mb"] = (current - base) / 2**20
    out["limit_token_chars"] = MAX_CACHED_TOKEN_LENGTH
    return out


def lookup_costs() -> dict[str, float]:
    """The cache's read path (one dict.get) against cachetools' LRU/TTL caches."""
    import cachetools

    keys = [f"token-{i:04d}-" + "x" * 1200 for i in range(1024)]
    plain: dict[str, int] = {}
    lru: cachetools.LRUCache[str, int] = cachetools.LRUCache(maxsize=2048)
    ttl: cachetools.TTLCache[str, int] = cachetools.TTLCache(maxsize=2048, ttl=3600)
    for k in keys:
        plain[k] = lru[k] = ttl[k] = 1
    out = {}
    for name, get in (
        ("dict.get", plain.get),
        ("LRUCache.get", lru.get),
        ("TTLCache.get", ttl.get),
    ):
        best = min(time_sync(get, keys) for _ in range(7))
        out[name] = best * 1e9
    return out


# --- report ---------------------------------------------------------------------------


def machine() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import ssl

        openssl = ssl.OPENSSL_VERSION
    except ImportError:  # pragma: no cover
        openssl = "?"
    from cryptography.hazmat.backends.openssl.backend import backend

    return {
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "os": f"{platform.system()} {platform.release()}",
        "cpu": f"{cpu}, {os.cpu_count()} logical cores",
        "cryptography": f"{cryptography.__version__} ({backend.openssl_version_text()})",
        "python ssl": openssl,
        "cognito-verify": cognito_verify.__version__,
    }


def us(seconds: float) -> str:
    return f"{seconds * 1e6:.1f} µs"


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--tokens", type=int, default=200, help="distinct tokens per round")
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds")
    parser.add_argument("--server-rounds", type=int, default=5)
    parser.add_argument("--server-requests", type=int, default=2000, help="per load run")
    parser.add_argument("--import-runs", type=int, default=31)
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument(
        "--quick", action="store_true", help="scenarios 1-4 only, printed, nothing written"
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()

    info = machine()
    print("cognito-verify benchmarks")
    for k, v in info.items():
        print(f"  {k:15s} {v}")

    print("\nminting tokens ...", flush=True)
    pool = LocalUserPool(POOL_ID, (CLIENT_ID,))
    cold_needed = args.server_rounds * args.server_requests
    tokens = [realistic_id_token(pool, i) for i in range(max(args.tokens, DEFAULT_CACHE_SIZE))]
    bench_tokens = tokens[: args.tokens]
    server_cold = tokens + [
        realistic_id_token(pool, i) for i in range(len(tokens), cold_needed + len(tokens))
    ]
    server_cold = server_cold[len(tokens) :] if cold_needed else []
    hot_token = bench_tokens[0]
    token_chars = statistics.median(len(t) for t in bench_tokens)
    print(f"  {len(bench_tokens)} distinct ID tokens of ~{token_chars:.0f} characters")

    with pool.serve() as server:
        setup = Setup(
            POOL_ID, POOL_ID.split("_")[0], CLIENT_ID, pool.issuer, pool.jwks, server.jwks_url
        )
        verifier = CognitoVerifier(
            POOL_ID, client_id=CLIENT_ID, token_use="id", jwks_url=server.jwks_url
        )
        verifier.hydrate()

        # Scenario 1: the floor, on exactly the signatures and signing inputs of the tokens.
        key = verifier._remote[server.jwks_url].get(pool.kid)
        pad, sha = PKCS1v15(), SHA256()
        pairs = {}
        for t in bench_tokens:
            head, payload, sig = t.split(".")
            pairs[t] = (
                cognito_verify.testing.base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4)),
                f"{head}.{payload}".encode(),
            )

        def floor(token: str) -> None:
            sig, data = pairs[token]
            key.verify(sig, data, pad, sha)

        def cold(token: str) -> Any:
            return verifier.verify(token)

        def parse_only(token: str) -> Any:
            return _token.parse(token)

        async def acold(token: str) -> Any:
            return await verifier.averify(token)

        loop = asyncio.new_event_loop()
        contenders: list[tuple[str, Callable[[], float]]] = []
        series: dict[str, Series] = {}

        def clear_then(fn: Callable[[], float]) -> Callable[[], float]:
            def run() -> float:
                verifier._cache.clear()  # cold: nothing from an earlier pass is reused
                return fn()

            return run

        hot_list = [hot_token] * len(bench_tokens)
        verifier.verify(hot_token)
        contenders += [
            ("raw RSA floor", lambda: time_sync(floor, bench_tokens)),
            ("verify (cold)", clear_then(lambda: time_sync(cold, bench_tokens))),
            ("averify (cold)", clear_then(lambda: time_async(loop, acold, bench_tokens))),
            ("verify (hot)", lambda: time_sync(cold, hot_list)),
            ("parse only (steps 1-2)", lambda: time_sync(parse_only, bench_tokens)),
        ]
        # Keep the hot token cached across the cold passes' clearing.
        hot_idx = 3
        base_hot = contenders[hot_idx][1]
        contenders[hot_idx] = (
            "verify (hot)",
            lambda: (verifier.verify(hot_token), base_hot())[1],
        )

        peers: list[Contender] = []
        unavailable: dict[str, str] = {}
        sample = bench_tokens[1]
        bad = sample[:-6] + ("AAAAAA" if not sample.endswith("AAAAAA") else "BBBBBB")
        for factory in [] if args.quick else FACTORIES:
            name = factory.__name__.replace("_", "-")
            try:
                peer = factory(setup)
                # Sanity: it accepts a good token (same sub) and refuses a forged one,
                # otherwise its number would measure a broken set-up.
                run1 = (
                    loop.run_until_complete(peer.call(sample))  # type: ignore[arg-type]
                    if peer.is_async
                    else peer.call(sample)
                )
                sub = run1.get("sub") if isinstance(run1, dict) else getattr(run1, "sub", None)
                if sub is not None and sub != verifier.verify(sample).sub:
                    raise Unavailable("returned the wrong subject")
                try:
                    if peer.is_async:
                        loop.run_until_complete(peer.call(bad))  # type: ignore[arg-type]
                    else:
                        peer.call(bad)
                except Exception:
                    pass
                else:
                    raise Unavailable("accepted a token with a forged signature")
            except Unavailable as exc:
                unavailable[name] = str(exc)
                print(f"  peer {name}: not measured: {exc}")
                continue
            except Exception as exc:  # a peer failing offline is reported, not faked
                unavailable[name] = f"failed to run offline: {type(exc).__name__}: {exc}"
                print(f"  peer {name}: not measured: {unavailable[name]}")
                continue
            peers.append(peer)
            fn = peer.call
            if peer.is_async:
                contenders.append(
                    (peer.name, lambda fn=fn: time_async(loop, fn, bench_tokens))  # type: ignore[misc]
                )
            else:
                contenders.append((peer.name, lambda fn=fn: time_sync(fn, bench_tokens)))  # type: ignore[misc]

        print(f"\ntiming {len(contenders)} contenders x {args.rounds} rounds ...", flush=True)
        for name, fn in contenders:  # warm-up pass
            fn()
            series[name] = Series(name)
        for r in range(args.rounds):
            order = contenders if r % 2 == 0 else list(reversed(contenders))
            for name, fn in order:
                series[name].per_call.append(fn())
        loop.close()
        verifier.close()

    floor_s = series["raw RSA floor"]
    cold_s, acold_s, hot_s = (
        series["verify (cold)"],
        series["averify (cold)"],
        series["verify (hot)"],
    )
    figures = {
        "cold_floor": ratio_median(cold_s, floor_s),
        "acold_cold": ratio_median(acold_s, cold_s),
        "hot_floor": ratio_median(hot_s, floor_s),
    }
    peer_ratios = {p.name: ratio_median(series[p.name], cold_s) for p in peers}
    if args.quick:
        for name, s in series.items():
            print(f"{name:<20} {us(s.median):>12}   {s.median / floor_s.median:6.3f}x floor")
        print({k: round(v, 3) for k, v in figures.items()})
        return 0

    print("\nscenario 6: FastAPI under uvicorn ...", flush=True)
    hot_tokens = bench_tokens[:16]
    server_run = fastapi_scenario(
        pool, hot_tokens, server_cold, args.server_rounds, args.server_requests
    )
    print("scenario 7: imports and cache memory ...", flush=True)
    imports = import_scenario(args.import_runs)
    memory = cache_memory(pool, tokens)
    lookups = lookup_costs()
    print("scenario 8: six token shapes, instruction counts (callgrind) ...", flush=True)
    shapes = shape_scenario(args.rounds)
    elapsed = time.perf_counter() - started

    report = render(
        info, args, token_chars, series, figures, peers, peer_ratios, unavailable,
        server_run, imports, memory, lookups, elapsed, shapes,
    )  # fmt: skip
    print()
    print(report.table)
    if not args.no_write:
        (ROOT / "docs").mkdir(exist_ok=True)
        (ROOT / "docs" / "benchmarks.md").write_text(report.markdown)
        chart(series, peers, ROOT / "docs" / "benchmarks.png")
        readme = ROOT / "README.md"
        if readme.exists() and README_START in readme.read_text():
            text = readme.read_text()
            head, rest = text.split(README_START, 1)
            _, tail = rest.split(README_END, 1)
            readme.write_text(head + README_START + "\n" + report.summary + README_END + tail)
            print("updated the Performance section of README.md")
        print("wrote docs/benchmarks.md and docs/benchmarks.png")
    print(f"done in {elapsed:.0f} s")
    return 0


def shape_scenario(rounds: int) -> dict[str, Any]:
    """Scenario 8: the six token shapes, counted by callgrind and timed interleaved."""
    out: dict[str, Any] = {}
    try:
        out["counts"] = instructions.measure()
    except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
        out["counts"] = f"not run: {exc}"
    print("  ... and timed, interleaved", flush=True)
    out["wall"] = instructions.wall_clock(rounds=rounds)
    return out


README_START = "<!-- bench:start (written by make bench) -->"
README_END = "<!-- bench:end -->"


@dataclass
class Report:
    table: str
    markdown: str
    summary: str  # the README's Performance lines


def render(
    info: dict[str, str],
    args: argparse.Namespace,
    token_chars: float,
    series: dict[str, Series],
    figures: dict[str, float],
    peers: list[Contender],
    peer_ratios: dict[str, float],
    unavailable: dict[str, str],
    server_run: ServerRun | str,
    imports: dict[str, Any],
    memory: dict[str, float],
    lookups: dict[str, float],
    elapsed: float,
    shapes: dict[str, Any],
) -> Report:
    floor = series["raw RSA floor"].median
    rows: list[tuple[str, str, str, str]] = []  # figure, measured, target, verdict

    def add(figure: str, measured: str, target: str, ok: bool | None) -> None:
        rows.append((figure, measured, target, "" if ok is None else verdict(ok)))

    c = figures["cold_floor"]
    add(
        "cold verify / raw RSA floor (wall-clock, moves with load)",
        f"{c:.2f}",
        "see the instruction rows",
        None,
    )
    counts = shapes["counts"]
    if isinstance(counts, dict):
        for r in instructions.rows(counts):
            add(
                f"instructions: cold verify / RSA floor, {r['label']}",
                f"{r['ratio']:.3f}",
                f"<= {r['target']:.1f}",
                r["met"],
            )
        worst_a = max(r["averify"] for r in instructions.rows(counts))
        add(
            "instructions: averify / verify (worst shape)",
            f"{worst_a:.3f}",
            "<= 1.1",
            worst_a <= 1.1,
        )
        worst_h = max(r["hot"] for r in instructions.rows(counts))
        add(
            "instructions: hot verify / RSA floor (worst shape)",
            f"{worst_h:.3f}",
            "<= 0.03",
            worst_h <= 0.03,
        )
    else:
        add("instructions (callgrind)", counts, "", False)
    worst_w = max(w["vs_inline"] for w in shapes["wall"].values())
    add(
        "wall-clock: cold verify / minimal inline pipeline (worst shape)",
        f"{worst_w:.2f}",
        "<= 1.1",
        worst_w <= 1.1,
    )
    a = figures["acold_cold"]
    add("cold averify / cold verify", f"{a:.2f}", "<= 1.1", a <= 1.1)
    h = figures["hot_floor"]
    add("hot verify / raw RSA floor", f"{h:.3f}", "<= 0.03", h <= 0.03)
    slowest_margin = min(peer_ratios.values()) if peer_ratios else float("nan")
    closest = min(peer_ratios, key=lambda k: peer_ratios[k]) if peer_ratios else ""
    add(
        "cold verify vs each peer",
        f"fastest peer ({closest}) takes {slowest_margin:.2f}x our time"
        if peer_ratios
        else "no peer ran",
        "every peer slower (> 1.00x)",
        bool(peer_ratios) and slowest_margin > 1.0,
    )
    if isinstance(server_run, ServerRun):
        rps = {k: [r.rps for r in v] for k, v in server_run.results.items()}
        fr = statistics.median(h / u for h, u in zip(rps["hot"], rps["unprotected"], strict=True))
        add("FastAPI protected / unprotected rps (hot)", f"{fr:.2f}", ">= 0.9", fr >= 0.9)
        nd = statistics.median(
            h / n for h, n in zip(rps["hot"], rps["no-op dependency"], strict=True)
        )
        add("  (protected / route with a no-op dependency)", f"{nd:.2f}", "(for reference)", None)
    else:
        add("FastAPI protected / unprotected rps (hot)", server_run, ">= 0.9", False)
    ir = imports["ratio"]
    add(
        "import cognito_verify / its dependencies",
        f"{ir:.2f}",
        "<= 1.1, no web framework",
        ir <= 1.1 and not imports["frameworks"],
    )
    mb = max(memory["typical_mb"], memory["limit_mb"])
    add(
        f"token cache at default size ({DEFAULT_CACHE_SIZE})",
        f"{memory['typical_mb']:.1f} MB typical, {memory['limit_mb']:.1f} MB at limit",
        "<= 32 MB",
        mb <= 32,
    )

    width = max(len(r[0]) for r in rows)
    mwidth = max(len(r[1]) for r in rows)
    lines = ["targets", "-" * 7]
    for f, m, t, v in rows:
        lines.append(f"{f:<{width}}  {m:<{mwidth}}  {t:<28} {v}")
    lines += ["", "per call (median of rounds)", "-" * 27]
    for name, s in series.items():
        lines.append(f"{name:<20} {us(s.median):>12}   {s.median / floor:6.2f}x floor")
    for name, why in unavailable.items():
        lines.append(f"{name:<20} not measured: {why}")
    if isinstance(server_run, ServerRun):
        lines += ["", f"FastAPI under uvicorn {server_run.uvicorn} ({server_run.adapter})"]
        for k, runs in server_run.results.items():
            r = statistics.median(x.rps for x in runs)
            lat = sorted(x for run in runs for x in run.latencies)
            p99 = lat[int(len(lat) * 0.99) - 1] * 1e3
            lines.append(f"  {k:<12} {r:8.0f} req/s   p99 {p99:6.2f} ms   ({len(lat)} requests)")
    lines += [
        "",
        f"import: cognito_verify {imports['ours_ms']:.0f} ms, its dependencies "
        f"({', '.join(imports['deps'])}) {imports['deps_ms']:.0f} ms; web frameworks "
        f"imported: {', '.join(imports['frameworks']) or 'none'}",
        "cache lookup: " + ", ".join(f"{k} {v:.0f} ns" for k, v in lookups.items()),
        "",
        instructions.table(shapes["counts"])
        if isinstance(shapes["counts"], dict)
        else f"instructions: {shapes['counts']}",
        "",
        instructions.wall_table(shapes["wall"]),
    ]
    table = "\n".join(lines)
    page = markdown(
        info, args, token_chars, rows, series, peers, peer_ratios,
        unavailable, server_run, imports, memory, lookups, elapsed, shapes,
    )  # fmt: skip
    fastest = min(peer_ratios, key=lambda k: peer_ratios[k]) if peer_ratios else None
    summary = (
        f"Measured by `make bench` on {info['cpu']}, {info['python']} "
        f"({datetime.date.today().isoformat()}; full table: "
        "[docs/benchmarks.md](docs/benchmarks.md)):\n\n"
        f"* a cold `verify` (new token, keys cached) costs "
        f"{figures['cold_floor']:.2f}x one bare RSA-2048 signature check "
        f"({us(series['verify (cold)'].median)} vs {us(floor)}); `averify` "
        f"{figures['acold_cold']:.2f}x `verify`;\n"
        f"* a repeated token (the token cache) costs {figures['hot_floor']:.3f}x that check "
        f"({us(series['verify (hot)'].median)});\n"
    )
    if fastest is not None:
        summary += (
            f"* the fastest peer measured, {fastest}, takes {peer_ratios[fastest]:.2f}x "
            "our cold `verify`; pyjwt takes "
            f"{peer_ratios.get('pyjwt', float('nan')):.2f}x;\n"
        )
    summary += f"* token cache at its default size: at most {memory['limit_mb']:.0f} MB;\n"
    if isinstance(shapes["counts"], dict):
        shape_rows = instructions.rows(shapes["counts"])
        summary += (
            "* counted in CPU instructions (valgrind callgrind, deterministic, unlike the "
            "times above, which move with the machine's load), a cold `verify` costs "
            + ", ".join(f"{r['ratio']:.2f}x ({r['shape']})" for r in shape_rows)
            + " the RSA check, and "
            + f"{min(r['vs_inline'] for r in shape_rows):.2f}-"
            + f"{max(r['vs_inline'] for r in shape_rows):.2f}x a minimal inline "
            "standard-library pipeline doing the same checks without the hardening.\n"
        )
    return Report(table, page, summary)


def markdown(
    info: dict[str, str],
    args: argparse.Namespace,
    token_chars: float,
    rows: list[tuple[str, str, str, str]],
    series: dict[str, Series],
    peers: list[Contender],
    peer_ratios: dict[str, float],
    unavailable: dict[str, str],
    server_run: ServerRun | str,
    imports: dict[str, Any],
    memory: dict[str, float],
    lookups: dict[str, float],
    elapsed: float,
    shapes: dict[str, Any],
) -> str:
    floor = series["raw RSA floor"].median
    cold = series["verify (cold)"].median
    parse_share = series["parse only (steps 1-2)"].median / floor
    out = [
        "# Benchmarks",
        "",
        "Generated by `make bench` (`python -m benchmarks` in the `.venv-bench` "
        "environment); every number on this page was printed by that command on the "
        "machine below. Re-run it to get yours: the figures move with the CPU, the "
        "OpenSSL build and the load on the machine.",
        "",
        "## Machine",
        "",
    ]
    out += [f"* {k}: {v}" for k, v in info.items()]
    out += [
        "",
        f"Tokens: realistic Cognito ID tokens of about {token_chars:.0f} characters "
        "(federated user, three groups, email, custom attribute, `identities`), RS256, "
        f"2048-bit key; {args.tokens} distinct tokens per round, {args.rounds} rounds.",
        "",
        "## Targets",
        "",
        "| figure | measured | target | |",
        "|---|---|---|---|",
    ]
    out += [f"| {f} | {m} | {t} | {v} |" for f, m, t, v in rows]
    out += [
        "",
        "![per-call time of each verifier](benchmarks.png)",
        "",
        "## Per call",
        "",
        "| contender | version | per call | x floor | x our cold verify | keys |",
        "|---|---|---|---|---|---|",
    ]
    ours = {
        "raw RSA floor": "`RSAPublicKey.verify` (cryptography)",
        "verify (cold)": "cognito-verify, keys from the loopback JWKS URL, cached",
        "averify (cold)": "same verifier, inside a running event loop",
        "verify (hot)": "the same token every call (token cache hit)",
        "parse only (steps 1-2)": "split, base64url, JSON, header checks: no key, no RSA",
    }
    for name, s in series.items():
        peer = next((p for p in peers if p.name == name), None)
        version = peer.version if peer else info["cognito-verify"]
        if name == "raw RSA floor":
            version = info["cryptography"].split(" ")[0]
        keys = peer.keys if peer else ours[name]
        if peer and peer.note:
            keys += f"; {peer.note}"
        out.append(
            f"| {name} | {version} | {us(s.median)} | {s.median / floor:.2f} | "
            f"{s.median / cold:.2f} | {keys} |"
        )
    for name, why in unavailable.items():
        out.append(f"| {name} | | not measured | | | {why} |")
    out += [
        "",
        "How each peer is called is in `benchmarks/peers.py`: the documented entry "
        "point, the same tokens and keys, and the Cognito checks the peer lacks "
        "(`token_use`, for some the issuer) added by hand where the peer allows it. "
        "Before timing, each peer must accept a valid token and refuse one with a "
        "forged signature, or it is reported as not measured. cognitojwt and "
        "fastapi-cognito do not check `iss` or `iat`, and pycognito does not check `iat`, "
        "so they do less work than we do.",
        "",
        "## FastAPI under uvicorn",
        "",
    ]
    if isinstance(server_run, ServerRun):
        out += [
            f"uvicorn {server_run.uvicorn}, one worker, in its own process; the load comes "
            "from the benchmark process over 127.0.0.1 (8 keep-alive connections, "
            f"{args.server_requests} requests per run, {args.server_rounds} interleaved "
            f"rounds). The protected route uses {server_run.adapter}. Every request carries "
            "a bearer token, also to the unprotected routes, so only the route differs. "
            "Hot: 16 tokens reused (cache hits); cold: every request a token never seen "
            "before.",
            "",
            "| route | requests/s (median) | p99 latency |",
            "|---|---|---|",
        ]
        for k, runs in server_run.results.items():
            r = statistics.median(x.rps for x in runs)
            lat = sorted(x for run in runs for x in run.latencies)
            p99 = lat[int(len(lat) * 0.99) - 1] * 1e3
            label = {"unprotected": "/public (unprotected)", "hot": "/private, hot tokens",
                     "cold": "/private, cold tokens",
                     "no-op dependency": "/dependency (a dependency that checks nothing)",
                     }[k]  # fmt: skip
            out.append(f"| {label} | {r:.0f} | {p99:.2f} ms |")
        noop = statistics.median(
            n / u
            for n, u in zip(
                [r.rps for r in server_run.results["no-op dependency"]],
                [r.rps for r in server_run.results["unprotected"]],
                strict=True,
            )
        )
        out.append(
            "\nThe machine has few cores and the load generator shares them with the "
            "server, so absolute requests per second are low; the ratio is the figure. "
            f"A route with a dependency that checks nothing runs at {noop:.2f}x the "
            "unprotected route's rate: most of what the protected route loses is FastAPI "
            "resolving a dependency, not verification (a hot `averify` is well under a "
            "microsecond, see above)."
        )
    else:
        out.append(str(server_run))
    out += [
        "",
        "## Import time and memory",
        "",
        f"* `import cognito_verify` in a fresh interpreter: {imports['ours_ms']:.0f} ms "
        f"above an empty interpreter; importing only the third-party modules it pulls "
        f"in ({', '.join(imports['deps'])}): {imports['deps_ms']:.0f} ms (median of "
        f"{args.import_runs} interleaved runs). Web frameworks imported: "
        f"{', '.join(imports['frameworks']) or 'none'}. With those already imported, "
        f"`import cognito_verify` takes {imports['own_ms']:.1f} ms: its own modules, plus "
        f"from the standard library only {', '.join(imports['own_extra_modules']) or 'nothing'}"
        ". Most of that is building classes at import time (each dataclass costs about half "
        "a millisecond); when the ratio is near 1.1, that is what decides it.",
        f"* Token cache at its default size ({DEFAULT_CACHE_SIZE} entries), measured with "
        f"tracemalloc: {memory['typical_mb']:.1f} MB for "
        f"{memory['typical_token_chars']:.0f}-character tokens (real verifications), "
        f"{memory['limit_mb']:.1f} MB when every entry is a token at the "
        f"{MAX_CACHED_TOKEN_LENGTH}-character cacheable limit (longer tokens are verified "
        "but not cached).",
        "* Cache read path: "
        + ", ".join(f"`{k}` {v:.0f} ns" for k, v in lookups.items())
        + " per lookup. The cache reads with a plain `dict.get` (an `OrderedDict`, "
        "FIFO eviction under a lock) because cachetools' caches run Python code on every "
        "read, which alone would use most of the hot path's budget.",
        "",
        "## The verified-token cache",
        "",
        f"`CognitoVerifier(..., cache_size={DEFAULT_CACHE_SIZE})` is the default; "
        "`cache_size=0` turns it off.",
        "",
        "* Key: the exact token string, so any changed byte is a miss. Tokens passed as "
        "bytes, and tokens longer than "
        f"{MAX_CACHED_TOKEN_LENGTH} characters, are verified but never cached.",
        "* Bounded in entries; the oldest entry is evicted first. The memory figures "
        "above are the ceiling at the default size.",
        "* On every hit: the key set version of the key source that verified the token "
        "must be unchanged (a refreshed JWKS with different keys drops every entry it "
        "vouched for), and `max(iat, nbf) - leeway - clock_skew <= now < exp + leeway` is checked "
        "against the verifier's clock, so an entry never outlives the token. A failed "
        "re-check drops the entry and verifies the token from scratch, which raises "
        "exactly the error an uncached verifier raises.",
        "* Group and scope requirements (the verifier's and the call's) and "
        "`custom_check` run on every hit. When there are none, the hit is one dict "
        "lookup, one version compare, one clock call and one comparison.",
        "* The cached `Claims` is immutable (nested lists are tuples, objects are "
        "read-only mappings), so one request cannot alter what the next one sees.",
        "* Thread-safe: reads are a single `dict.get` of an immutable tuple; writes "
        "and evictions take a lock.",
        "* Only successes are cached. Failures are not: anyone can send junk tokens "
        "for free, so a failure cache would let them evict the good entries, and "
        "would pin time-dependent refusals (expired, not yet valid, keys unreachable). "
        "A refused token costs at most one parse and one RSA check anyway. A valid "
        "token can only be minted by the pool, so the cache cannot be flooded from "
        "outside. A token that verifies but fails the call's group/scope rule (403) is "
        "not cached either.",
        "",
        "## Where the cold path's time goes",
        "",
        f"Of a cold `verify` of the realistic token ({cold / floor:.2f}x the floor in "
        f"wall-clock time), the RSA check is 1.00x and parsing (steps 1-2: the segments, "
        f"base64url of the payload and signature, the payload JSON with duplicate-name "
        f"detection, the header checks) is {parse_share:.2f}x; the rest (pool and key "
        f"lookup, claim checks, `Claims`, the cache insert) is about "
        f"{max(cold / floor - 1 - parse_share, 0):.2f}x.",
        "",
        *instructions.markdown_section(shapes["counts"], shapes["wall"]),
        "",
        f"_Run time of `make bench`: {elapsed:.0f} s._",
        "",
    ]
    return "\n".join(out)


def chart(series: dict[str, Series], peers: list[Contender], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(series)
    values = [series[n].median * 1e6 for n in names]
    colors = [
        "#777777" if n == "raw RSA floor" else "#d95f02" if any(p.name == n for p in peers)
        else "#1b9e77"
        for n in names
    ]  # fmt: skip
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(names) + 1.2))
    ax.barh(names[::-1], values[::-1], color=colors[::-1])
    for y, v in enumerate(values[::-1]):
        ax.text(v, y, f" {v:.1f}", va="center", fontsize=8)
    ax.set_xlabel("microseconds per verification (median of rounds, lower is better)")
    ax.set_title("Verifying one Cognito ID token (RS256, 2048-bit)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
