"""Every Python snippet in README.md and docs/*.md runs as written, so a doc cannot rot.

Pages are found when the tests are collected (a new page is picked up by itself). The
blocks of one page run in order, in one namespace, in a fresh interpreter (a page may
configure Django or start an app). A block is marked by an HTML comment on the line
just before its fence, visible in the page's source:

    <!-- docs-test: skip: <why> -->     not run; reported as a skipped test with the why
    <!-- docs-test: pytest -->          a test module: run with pytest, which must pass
    <!-- docs-test: pytest with myapp=docs/examples/fastapi_app.py -->
                                        the same, with that example app importable as
                                        ``myapp`` (the snippet imports what it uses)

A skip needs a reason (a real pool, a server, a placeholder the reader fills in), so
nothing is skipped silently.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
MARKER = re.compile(r"<!--\s*docs-test:\s*(?P<kind>skip|pytest)(?P<rest>[^>]*)-->")
FENCE = re.compile(r"^```python\s*$")
TIMEOUT = 300


@dataclass(frozen=True)
class Block:
    page: str
    line: int  # 1-based line of the fence
    source: str
    kind: str  # "run", "skip", "pytest"
    detail: str  # the skip reason, or the example app for pytest

    @property
    def label(self) -> str:
        return f"{self.page}:{self.line}"


def blocks(page: Path) -> list[Block]:
    lines = page.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        if FENCE.match(lines[i]):
            start = i
            j = i + 1
            while j < len(lines) and lines[j].strip() != "```":
                j += 1
            marker = MARKER.search(lines[start - 1]) if start else None
            kind, detail = "run", ""
            if marker:
                kind = marker["kind"]
                rest = marker["rest"].strip()
                detail = rest.removeprefix(":").strip() if kind == "skip" else rest
                if kind == "pytest" and detail:
                    detail = detail.removeprefix("with").strip()
            source = "\n".join(lines[start + 1 : j]) + "\n"
            rel = str(page.relative_to(ROOT))
            found.append(Block(rel, start + 1, source, kind, detail))
            i = j
        i += 1
    return found


ALL = [b for page in PAGES for b in blocks(page)]

_RUNNER = """
import json, sys, traceback, types
# A real module, as a page read into a file would be: frameworks that resolve type
# hints look the handler's module up in sys.modules (Litestar, FastAPI).
module = types.ModuleType("__docs__")
sys.modules["__docs__"] = module
ns = module.__dict__
for label, source in json.load(open(sys.argv[1])):
    try:
        exec(compile(source, label, "exec"), ns)
    except BaseException:
        print(f"docs snippet {label} failed:", file=sys.stderr)
        traceback.print_exc()
        sys.exit(1)
"""


def run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT, env=_env(cwd)
    )


def _env(cwd: Path) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("COGNITO_")}
    env["PYTHONPATH"] = str(cwd)
    # What the example apps read, as `cognito-verify local-pool` prints them; the
    # snippets' tests swap in their own verifier.
    env["COGNITO_USER_POOL_ID"] = "eu-west-1_AbCdEf123"
    env["COGNITO_CLIENT_ID"] = "4tg7fhidb5adr5jc1bna4me2i6"
    return env


def test_every_page_is_found() -> None:
    names = {p.name for p in PAGES}
    assert {"README.md", "testing.md", "flask.md", "django.md"} <= names
    assert len([b for b in ALL if b.kind == "run"]) > 20


@pytest.mark.parametrize("block", [b for b in ALL if b.kind == "skip"], ids=lambda b: b.label)
def test_skipped_blocks_say_why(block: Block) -> None:
    assert len(block.detail) >= 10, f"{block.label}: a docs-test skip needs a reason"
    pytest.skip(f"{block.label}: {block.detail}")


@pytest.mark.slow
@pytest.mark.parametrize(
    "page", sorted({b.page for b in ALL if b.kind == "run"}), ids=lambda page: page
)
def test_page_snippets_run(page: str, tmp_path: Path) -> None:
    todo = [(b.label, b.source) for b in ALL if b.page == page and b.kind == "run"]
    (tmp_path / "blocks.json").write_text(json.dumps(todo))
    (tmp_path / "runner.py").write_text(_RUNNER)
    result = run([sys.executable, "runner.py", "blocks.json"], tmp_path)
    assert result.returncode == 0, result.stderr[-4000:]


@pytest.mark.slow
@pytest.mark.parametrize("block", [b for b in ALL if b.kind == "pytest"], ids=lambda b: b.label)
def test_pytest_snippets_pass(block: Block, tmp_path: Path) -> None:
    for pair in filter(None, block.detail.replace(",", " ").split()):
        module, _, path = pair.partition("=")
        example = ROOT / path
        assert module.isidentifier() and example.is_file(), f"{block.label}: {pair}"
        (tmp_path / f"{module}.py").write_text(example.read_text())
    (tmp_path / "test_snippet.py").write_text(block.source)
    result = run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_snippet.py"],
        tmp_path,
    )
    assert result.returncode == 0, f"{block.label}\n{result.stdout[-4000:]}"
    assert " passed" in result.stdout


def test_no_doc_imports_a_private_module() -> None:
    private = re.compile(r"(from|import)\s+cognito_verify(\.\w+)*\._\w+")
    for page in PAGES:
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
            assert not private.search(line), f"{page.name}:{number}: {line.strip()}"


def test_markers_are_well_formed() -> None:
    # A misspelt marker would leave its block unmarked and run (or fail) by surprise.
    loose = re.compile(r"<!--\s*docs-test")
    for page in PAGES:
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
            if loose.search(line):
                assert MARKER.search(line), f"{page.name}:{number}: {line.strip()}"
