"""docs/examples/alb_app.py runs as written: the app and its no-AWS demo."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from _adapter_matrix import load_example
from fastapi.testclient import TestClient

from cognito_verify.testing import LocalAlb, LocalUserPool

EXAMPLE = Path(__file__).parent.parent / "docs" / "examples" / "alb_app.py"


def test_example_app_behind_a_local_load_balancer() -> None:
    module = load_example(EXAMPLE)
    pool = LocalUserPool("eu-west-1_ExamplePool", ("example-client",))
    alb = LocalAlb(pool=pool)
    with alb.serve() as keys, alb.verifier(keys.public_keys_url) as alb_verifier:
        client = TestClient(module.create_app(pool.verifier(token_use="access"), alb_verifier))
        assert client.get("/health").json() == {"ok": True}
        assert client.get("/me", headers=alb.headers("alice")).json() == {
            "username": "alice",
            "email": "alice@example.com",
        }
        assert client.get("/me").status_code == 401
        assert client.delete("/orders/7", headers=alb.headers()).status_code == 403


def test_example_demo_runs() -> None:
    out = subprocess.run(
        [sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    assert "200 {'username': 'alice'" in out
    assert "invalid_signer" in out and "missing_token" in out and "unknown_key" in out
