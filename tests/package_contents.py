"""Checks a built wheel's contents (run by `nox -s package`): the package, its type
marker and console script are in; tests, docs and benchmarks are not."""

from __future__ import annotations

import sys
import zipfile


def main(wheel: str) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "cognito_verify/__init__.py" in names, names
    assert "cognito_verify/py.typed" in names, "py.typed missing: type checkers would ignore us"
    assert "cognito_verify/integrations/_http.py" in names
    assert not [n for n in names if n.startswith(("tests/", "docs/", "benchmarks/"))], names
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "cognito-verify = cognito_verify.cli:main" in text, text
    assert "cognito_verify = cognito_verify.pytest_plugin" in text, text
    print(f"{wheel}: {len(names)} files, contents as expected")


if __name__ == "__main__":
    main(sys.argv[1])
