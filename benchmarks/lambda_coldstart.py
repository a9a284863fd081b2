"""Lambda cold start: import time of the adapter and the first verification in a fresh
process, as a new Lambda execution environment sees them.

    python -m benchmarks.lambda_coldstart [--runs N]

Each run is a new Python process (a cold start): it imports
``cognito_verify.integrations.aws_lambda``, builds the verifier and ``LambdaAuth`` at
module scope, then handles two API Gateway events. Keys come from a real loopback HTTP
JWKS server, so the first invocation pays a real key fetch (without the internet's
latency, which comes on top in AWS: see docs/aws-lambda.md). A second series hydrates
the keys during init instead. Medians over the runs are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, os, sys, time
t0 = time.perf_counter()
import cognito_verify
t1 = time.perf_counter()
from cognito_verify import CognitoVerifier
from cognito_verify.integrations.aws_lambda import LambdaAuth
t2 = time.perf_counter()
verifier = CognitoVerifier(os.environ["POOL"], client_id=os.environ["CLIENT"],
    token_use="access", jwks_url=os.environ["JWKS_URL"], allow_insecure_jwks_url=True)
auth = LambdaAuth(verifier)
hydrate = os.environ["HYDRATE"] == "1"
if hydrate:
    verifier.hydrate()
t3 = time.perf_counter()

@auth.required
def handler(event, context):
    return {"statusCode": 200, "body": auth.current_claims.username}

event = json.loads(os.environ["EVENT"])
assert handler(event, None)["statusCode"] == 200
t4 = time.perf_counter()
assert handler(event, None)["statusCode"] == 200
t5 = time.perf_counter()
print(json.dumps({"core": t1 - t0, "adapter": t2 - t1, "init": t3 - t2,
                  "first": t4 - t3, "warm": t5 - t4}))
"""


def _run(env: dict[str, str]) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=120
    )
    if out.returncode:
        raise SystemExit(f"child failed:\n{out.stderr}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="fresh processes per series")
    args = parser.parse_args(argv)

    from cognito_verify.testing import LocalUserPool

    pool = LocalUserPool("eu-west-1_ColdStart1")
    with pool.serve() as server:
        base = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        base |= {
            "POOL": pool.user_pool_id,
            "CLIENT": pool.client_id,
            "JWKS_URL": server.jwks_url,
            "PYTHONPATH": str(ROOT),
        }
        results = {}
        for hydrate in ("0", "1"):
            runs = []
            for _ in range(args.runs):
                event = pool.lambda_event("rest", pool.access_token(lifetime=3600))
                runs.append(_run(base | {"HYDRATE": hydrate, "EVENT": json.dumps(event)}))
            results[hydrate] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}

    ms = 1000.0
    lazy, eager = results["0"], results["1"]
    version = sys.version.split()[0]
    print(f"Lambda cold start, median of {args.runs} fresh processes (Python {version})")
    print(f"  import cognito_verify                        {lazy['core'] * ms:7.1f} ms")
    print(f"  + import integrations.aws_lambda            {lazy['adapter'] * ms:7.1f} ms")
    print(f"  verifier + LambdaAuth at module scope        {lazy['init'] * ms:7.1f} ms")
    print(f"  first invocation (key fetch + verify)        {lazy['first'] * ms:7.1f} ms")
    print(f"  second invocation (warm)                     {lazy['warm'] * ms:7.2f} ms")
    print("  with verifier.hydrate() during init:")
    print(f"    init incl. hydrate (loopback JWKS)         {eager['init'] * ms:7.1f} ms")
    print(f"    first invocation (verify only)             {eager['first'] * ms:7.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
