"""Lambda cold start: cognito-verify against pyjwt doing the same job.

``make bench-coldstart`` (or ``python -m benchmarks.coldstart [runs]``). Each run is a
fresh interpreter that imports the library, builds its verifier (``CognitoVerifier``
/ ``PyJWKClient``), fetches the JWKS from a loopback HTTP/1.1 server and verifies
one access token (signature, ``iss``, ``exp``, ``iat``, client id and ``token_use``
for cognito-verify; pyjwt checks what ``jwt.decode`` is told to). Runs alternate
between the two (interleaved, so a busy neighbour slows both alike) and the medians
are reported, split into import and first fetch-and-verify. Times are measured
inside the child from the import on, so the interpreter's own start-up (the same
for both) is left out.

Two settings. "Lambda": before it imports your handler module, AWS's Python runtime
interface client (awslambdaric, ``bootstrap.py``) has already imported importlib,
json, logging, os, sys, time and traceback, so the child imports those first, as a
function's cold start does. "bare": a plain interpreter with nothing preloaded.

It also prints the import time of ``cognito_verify`` and of each adapter module, in
fresh interpreters. Wall-clock figures: they move with the machine's load; compare
the two columns of one run, not runs of different days.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

from cognito_verify.testing import LocalUserPool

ROOT = Path(__file__).resolve().parent.parent
# Children start outside the source tree, so they import the installed package (the
# make target installs it as a wheel, as a Lambda deployment package holds it).
CHILD_CWD = "/"

LAMBDA_PRELOAD = "import importlib, json, logging, os, sys, time, traceback\n"

OURS = r"""
import time
t0 = time.perf_counter()
from cognito_verify import CognitoVerifier
t1 = time.perf_counter()
import json, sys
url, token, pool_id, client = sys.argv[1:5]
verifier = CognitoVerifier(pool_id, client_id=client, token_use="access", jwks_url=url)
claims = verifier.verify(token)
t2 = time.perf_counter()
assert claims["client_id"] == client
print(json.dumps({"import": t1 - t0, "first": t2 - t1}))
"""

PYJWT = r"""
import time
t0 = time.perf_counter()
import jwt
t1 = time.perf_counter()
import json, sys
url, token, pool_id, client = sys.argv[1:5]
issuer = sys.argv[5]
jwks = jwt.PyJWKClient(url)
key = jwks.get_signing_key_from_jwt(token)
claims = jwt.decode(
    token, key.key, algorithms=["RS256"], issuer=issuer,
    options={"require": ["exp", "iat", "iss"]},
)
assert claims["client_id"] == client and claims["token_use"] == "access"
t2 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "first": t2 - t1}))
"""

ADAPTERS = ["cognito_verify"] + [
    f"cognito_verify.integrations.{p.stem}"
    for p in sorted((ROOT / "cognito_verify" / "integrations").glob("*.py"))
    if not p.stem.startswith("_")
]


def _child(script: str, args: list[str]) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        cwd=CHILD_CWD,
    )
    result: dict[str, float] = json.loads(out.stdout)
    return result


def _import_time(module: str) -> float | None:
    code = (
        "import time; t = time.perf_counter(); "
        f"import {module}; print(time.perf_counter() - t)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=CHILD_CWD
    )
    return float(out.stdout) if out.returncode == 0 else None


def main(runs: int = 15) -> int:
    pool = LocalUserPool("eu-west-1_ColdStart1", ("cold-client",))
    token = pool.access_token("cold")
    settings = {"Lambda": LAMBDA_PRELOAD, "bare": ""}
    samples: dict[tuple[str, str], list[dict[str, float]]] = {}
    with pool.serve() as server:
        args = [server.jwks_url, token, pool.user_pool_id, pool.client_id, pool.issuer]
        for i in range(runs):
            for setting, preload in settings.items():
                order = [("cognito-verify", OURS), ("pyjwt", PYJWT)]
                for name, script in order if i % 2 == 0 else order[::-1]:
                    row = _child(preload + script, args)
                    samples.setdefault((setting, name), []).append(row)
    print(f"Lambda cold start, median of {runs} interleaved fresh-process runs (ms)")
    print(f"{'':24}{'import':>10}{'build+fetch+verify':>20}{'total':>10}")
    totals = {}
    for (setting, name), rows in samples.items():
        imp = statistics.median(r["import"] for r in rows) * 1000
        first = statistics.median(r["first"] for r in rows) * 1000
        total = statistics.median(r["import"] + r["first"] for r in rows) * 1000
        totals[setting, name] = total
        print(f"{setting + ' ' + name:24}{imp:10.1f}{first:20.1f}{total:10.1f}")
    for setting in settings:
        ratio = totals[setting, "cognito-verify"] / totals[setting, "pyjwt"]
        # Each run's two children ran back to back: their ratio is the least blurred by
        # a neighbour's load, so the median of those ratios is printed too.
        pairs = zip(samples[setting, "cognito-verify"], samples[setting, "pyjwt"], strict=True)
        paired = statistics.median(
            (a["import"] + a["first"]) / (b["import"] + b["first"]) for a, b in pairs
        )
        verdict = "met" if ratio <= 1.0 else "missed"
        target = f" (target <= 1.00x: {verdict})" if setting == "Lambda" else ""
        print(
            f"{setting}: cognito-verify / pyjwt = {ratio:.2f}x of the medians{target}, "
            f"median of per-run ratios {paired:.2f}x"
        )
    print("\nimport time in a fresh interpreter, median of 5 (ms; frameworks included)")
    for module in ADAPTERS:
        times = [_import_time(module) for _ in range(5)]
        if any(t is None for t in times):
            print(f"  {module:44} (its framework is not installed)")
            continue
        print(f"  {module:44}{statistics.median(t for t in times if t) * 1000:8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 15))
