"""Supply chain: a small, range-pinned runtime dependency tree with no python-jose/ecdsa.

``pytest -s tests/test_supply_chain.py`` prints the resolved runtime tree.
"""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
# Packages with a history of JWT vulnerabilities or unmaintained crypto: python-jose
# (algorithm confusion CVE-2024-33663), ecdsa (timing side channel, no fix planned).
BANNED = {"python-jose", "jose", "ecdsa", "pycrypto", "python-jwt", "jwcrypto"}
# httpcore, anyio and certifi are httpx's own dependencies, used directly by the key
# fetch (docs/keys.md): declared, so a change in httpx's tree cannot remove them.
DIRECT = {"pyjwt", "cryptography", "httpx", "cachetools", "httpcore", "anyio", "certifi"}


def runtime_requirements() -> list[Requirement]:
    if sys.version_info < (3, 11):
        pytest.skip("tomllib needs Python 3.11")
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(r) for r in project["dependencies"]]


def tree(name: str, extras: frozenset[str] = frozenset(), depth: int = 0) -> dict[str, int]:
    """Installed runtime closure of ``name``: canonical name -> depth first seen."""
    seen: dict[str, int] = {}

    def walk(dist_name: str, dist_extras: frozenset[str], level: int) -> None:
        key = canonicalize_name(dist_name)
        if key in seen and not dist_extras:
            seen[key] = min(seen[key], level)
            return
        seen[key] = min(seen.get(key, level), level)
        for text in metadata.requires(dist_name) or []:
            req = Requirement(text)
            envs = [{"extra": e} for e in dist_extras] or [{"extra": ""}]
            if req.marker is None or any(req.marker.evaluate(env) for env in envs):
                walk(req.name, frozenset(req.extras), level + 1)

    walk(name, extras, depth)
    return seen


def test_runtime_dependencies_are_the_documented_ones_with_ranges() -> None:
    reqs = runtime_requirements()
    assert {canonicalize_name(r.name) for r in reqs} == DIRECT
    for req in reqs:
        # Every dependency has a floor (known-good, with security fixes we rely on).
        assert any(s.operator in (">=", "~=", "==") for s in req.specifier), req
    capped = {
        canonicalize_name(r.name) for r in reqs if any(s.operator == "<" for s in r.specifier)
    }
    # pyjwt, httpx and httpcore are capped below their next major (API breaks).
    # cryptography and cachetools are deliberately not: cryptography ships security
    # fixes in new majors, and capping it would hold users on vulnerable OpenSSL builds.
    assert {"pyjwt", "httpx", "httpcore"} <= capped


def test_runtime_tree_has_no_banned_packages() -> None:
    resolved = tree("cognito-verify")
    print("\nruntime dependency tree of cognito-verify:")
    for name, level in sorted(resolved.items(), key=lambda kv: (kv[1], kv[0])):
        version = metadata.version(name) if level else metadata.version("cognito-verify")
        print(f"  {'  ' * level}{name} {version}")
    assert DIRECT <= set(resolved)
    assert not BANNED & set(resolved), BANNED & set(resolved)
    # The tree is small: a new transitive dependency should be a conscious decision.
    assert len(resolved) <= 16, sorted(resolved)


def test_importing_the_library_pulls_in_no_banned_or_web_modules() -> None:
    code = (
        "import sys, cognito_verify, cognito_verify.testing;"
        "print(','.join(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    loaded = set(out.split(","))
    assert not loaded & {"jose", "ecdsa", "Crypto"}, loaded
    assert not loaded & {"flask", "django", "fastapi", "starlette", "rest_framework"}, loaded


def test_pip_check_passes() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", "check"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
