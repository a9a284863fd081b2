# Everything a fresh machine with Python 3 and make needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: demo test lint typecheck unit bench bench-coldstart bench-instructions fuzz clean test-all test-pythons package

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime: pyproject.toml | $(BIN)/python
	$(PIP) install -e .
	touch $@

# uWSGI (a process model the key layer is tested under) is built from source: it needs a
# C compiler and Python's headers. Without them its test is skipped, saying why, and
# everything else still runs on a machine with only Python and make.
$(VENV)/.test: pyproject.toml | $(BIN)/python
	$(PIP) install -e '.[test]'
	$(PIP) install 'uwsgi>=2.0.28' || echo "uwsgi could not be built here (needs gcc and Python headers): its test will be skipped"
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

# Every supported Python found on this machine (PATH, then pyenv's versions folder):
# the whole suite on 3.10-3.13 with nox (noxfile.py), then the packaging check: wheel
# and sdist built, `twine check`, the wheel installed into a fresh venv and the smoke
# tests run against it. Interpreters not found are skipped (nox says so).
$(VENV)/.nox: | $(BIN)/python
	$(PIP) install 'nox>=2024.4'
	touch $@

test-all: $(VENV)/.nox
	$(BIN)/nox -s tests package

# What CI adds to `make test`: the suite (minus slow end-to-end tests) on the oldest
# and newest supported Python, and the packaging check. Missing interpreters fail here.
test-pythons: $(VENV)/.nox
	NOX_REQUIRE_ALL=1 $(BIN)/nox -s unit package

package: $(VENV)/.nox
	$(BIN)/nox -s package

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
	$(BENCH_VENV)/bin/python -m benchmarks.lambda_coldstart

# Lambda cold start against pyjwt (benchmarks/coldstart.py): fresh interpreters, a venv
# with the package installed as a wheel, as in a deployment package, plus the web
# frameworks (the `all` extra, never imported by the cold start) so each adapter's
# import time can be shown. About a minute. COLD_RUNS sets the interleaved runs.
COLD_VENV := .venv-cold
COLD_RUNS ?= 21
$(COLD_VENV)/bin/python:
	$(PYTHON) -m venv $(COLD_VENV)

bench-coldstart: | $(COLD_VENV)/bin/python
	$(COLD_VENV)/bin/python -m pip --disable-pip-version-check -q install '.[all]'
	$(COLD_VENV)/bin/python -m pip --disable-pip-version-check -q install --force-reinstall --no-deps .
	cd / && $(abspath $(COLD_VENV))/bin/python $(CURDIR)/benchmarks/coldstart.py $(COLD_RUNS)

# Deterministic CPU instruction counts (valgrind callgrind) of verify, averify, the token
# cache, the RSA floor and a minimal inline pipeline on six token shapes, with the
# targets' verdicts and where the instructions go. About 1-2 minutes; needs valgrind.
bench-instructions: $(VENV)/.test
	$(BIN)/python -m benchmarks.instructions

clean:
	rm -rf $(VENV) $(BENCH_VENV) $(COLD_VENV) .nox .pytest_cache .mypy_cache .ruff_cache .hypothesis build dist *.egg-info
