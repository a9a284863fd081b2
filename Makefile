# Everything a fresh machine with Python 3 and make needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: demo test lint typecheck unit bench bench-instructions fuzz clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime: pyproject.toml | $(BIN)/python
	$(PIP) install -e .
	touch $@

$(VENV)/.test: pyproject.toml | $(BIN)/python
	$(PIP) install -e '.[test]'
	touch $@ $(VENV)/.runtime

demo: $(VENV)/.runtime
	$(BIN)/cognito-verify demo

lint: $(VENV)/.test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check cognito_verify

typecheck: $(VENV)/.test
	$(BIN)/mypy

unit: $(VENV)/.test
	$(BIN)/python -m pytest

test: lint typecheck unit

# A long fuzz campaign: hypothesis with HYPOTHESIS_PROFILE=long (FUZZ_EXAMPLES examples
# per property), then coverage-guided atheris for FUZZ_SECONDS. atheris (the `fuzz`
# extra) is installed only from a prebuilt wheel: building it needs clang/libFuzzer.
# Findings: crash-* files in the working directory.
FUZZ_EXAMPLES ?= 4000
FUZZ_SECONDS  ?= 300
fuzz: $(VENV)/.test
	HYPOTHESIS_PROFILE=long FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest -q \
		-p no:cacheprovider --hypothesis-show-statistics tests/test_fuzz.py
	@$(BIN)/python -c "import atheris" 2>/dev/null || \
		$(PIP) install --only-binary=atheris 'atheris>=2.3' || true
	@if $(BIN)/python -c "import atheris" 2>/dev/null; then \
		$(BIN)/python tests/fuzz_atheris.py -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1; \
	else echo "atheris is not installed: pip install -e '.[fuzz]' for the coverage-guided stage"; fi

# Benchmarks (docs/benchmarks.md): a separate venv, so the peers it installs never
# reach .venv or the runtime dependencies. Prints every figure, rewrites the docs page
# and chart. About 3-5 minutes; BENCH_ARGS=--quick for scenarios 1-4 only.
BENCH_VENV := .venv-bench
BENCH_ARGS ?=
$(BENCH_VENV)/.bench: pyproject.toml
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip --disable-pip-version-check -q install -e '.[bench]'
	touch $@

bench: $(BENCH_VENV)/.bench
	$(BENCH_VENV)/bin/python -m benchmarks $(BENCH_ARGS)

# Deterministic CPU instruction counts (valgrind callgrind) of verify, averify, the token
# cache, the RSA floor and a minimal inline pipeline on six token shapes, with the
# targets' verdicts and where the instructions go. About 1-2 minutes; needs valgrind.
bench-instructions: $(VENV)/.test
	$(BIN)/python -m benchmarks.instructions

clean:
	rm -rf $(VENV) $(BENCH_VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis build *.egg-info
