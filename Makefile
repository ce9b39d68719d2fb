# The two commands that matter: `make up` runs TokenTrail with demo data, `make test` checks it.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_WORKERS ?= 2

.PHONY: up install lint test test-sdk-isolated test-fast bench clean

$(STAMP): pyproject.toml sdk/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e "./sdk[test]" -e ".[dev,instrumentation]"
	touch $(STAMP)

install: $(STAMP)

up: install
	$(BIN)/tokentrail up --demo

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint test-sdk-isolated
	$(BIN)/pytest -n $(PYTEST_WORKERS) -p no:cacheprovider -q --durations=25

# The SDK alone (plus pytest) in a fresh venv: proves it needs nothing from the server.
test-sdk-isolated:
	PYTHON=$(PYTHON) sdk/scripts/test_isolated.sh

test-fast: install
	$(BIN)/pytest -x -q

bench: install
	$(BIN)/python bench/sdk_overhead.py
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/queries.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache test-artifacts
