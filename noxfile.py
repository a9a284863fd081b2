"""Test sessions over every supported Python found on this machine (`make test-all`).

    nox -s tests            the whole suite on 3.10, 3.11, 3.12 and 3.13
    nox -s unit             the suite without slow end-to-end tests (CI: oldest, newest)
    nox -s package          build wheel + sdist, twine check, install the wheel into a
                            fresh venv and run the smoke tests against it

Interpreters are looked up as ``python3.X`` on PATH, then in pyenv's versions folder
(``$PYENV_ROOT/versions/3.X.*``, default ``~/.pyenv``); a version not found is skipped
(nox says so), unless ``NOX_REQUIRE_ALL=1``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import nox

SUPPORTED = ("3.10", "3.11", "3.12", "3.13")
ROOT = Path(__file__).parent

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = os.environ.get("NOX_REQUIRE_ALL") == "1"


def _works(python: str, version: str) -> bool:
    try:
        out = subprocess.run(
            [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and out.stdout.strip() == version


def interpreter(version: str) -> str:
    """A path to a working Python ``version``, or the bare version (nox then skips)."""
    found = shutil.which(f"python{version}")
    if found and _works(found, version):
        return found
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    for candidate in sorted(root.glob(f"versions/{version}.*/bin/python"), reverse=True):
        if _works(str(candidate), version):
            return str(candidate)
    return version


PYTHONS = [interpreter(v) for v in SUPPORTED]
OLDEST_AND_NEWEST = [PYTHONS[0], PYTHONS[-1]]


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The whole suite, installed (not editable) with the test extra."""
    session.install(".[test]")
    session.run("python", "-m", "pytest", "-q", "-p", "no:cacheprovider", *session.posargs)


@nox.session(python=OLDEST_AND_NEWEST)
def unit(session: nox.Session) -> None:
    """The suite without the slow end-to-end tests: CI runs it on the oldest and newest."""
    session.install(".[test]")
    session.run(
        "python",
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-m",
        "not slow",
        *session.posargs,
    )


@nox.session(python=PYTHONS[-1])
def package(session: nox.Session) -> None:
    """Build the wheel and sdist (the wheel from the sdist), check their metadata, then
    install the wheel into a fresh venv and run the smoke tests against it, away from
    the source tree so the installed copy is the one imported."""
    session.install("build>=1.2", "twine>=5")
    tmp = Path(session.create_tmp()).resolve()
    dist = tmp / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    session.run("python", "-m", "build", "--outdir", str(dist), str(ROOT))
    wheels, sdists = list(dist.glob("*.whl")), list(dist.glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, list(dist.iterdir())
    session.run("python", "-m", "twine", "check", "--strict", *map(str, wheels + sdists))
    session.run("python", str(ROOT / "tests" / "package_contents.py"), str(wheels[0]))

    venv = tmp / "fresh"
    shutil.rmtree(venv, ignore_errors=True)
    session.run("python", "-m", "venv", str(venv))
    python = str(venv / "bin" / "python")
    session.run(python, "-m", "pip", "install", "-q", str(wheels[0]), "pytest>=8", external=True)
    work = tmp / "smoke"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    for name in ("conftest.py", "test_smoke.py"):
        shutil.copy(ROOT / "tests" / name, work / name)
    # Its own config, so the repository's (which names test-only plugins) is not used.
    (work / "pytest.ini").write_text(
        "[pytest]\naddopts = --strict-markers\nfilterwarnings = error\n"
    )
    session.chdir(work)  # out of the source tree: only the installed copy can be imported
    session.run(
        python,
        "-c",
        "import cognito_verify, sys; assert 'site-packages' in cognito_verify.__file__, "
        "cognito_verify.__file__",
        external=True,
    )
    session.run(str(venv / "bin" / "cognito-verify"), "--version", external=True)
    session.run(
        python,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        str(work),
        "--rootdir",
        str(work),
        external=True,
    )
