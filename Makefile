# The two commands the README gives: `make demo` and `make test`.
# Each creates .venv with the interpreter found here (Python 3.11 or newer).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint typecheck unit compat bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Re-install when the project's metadata changes.
$(VENV)/.installed-base: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@ $(VENV)/.installed-base

demo: $(VENV)/.installed-base
	$(BIN)/python examples/demo.py

# lint-imports: the layer contract of [tool.importlinter] in pyproject.toml.
lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

# mypy, then pyright (basedpyright): [tool.mypy] and [tool.basedpyright] in pyproject.toml.
typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy
	$(BIN)/basedpyright --pythonpath $(BIN)/python

unit: $(VENV)/.installed-dev
	$(BIN)/python -m pytest --cov=asyncbridge --cov-branch --cov-report=term-missing:skip-covered

# asyncbridge.compat.asgiref judged by asgiref's own tests (compat/run_asgiref_suite.py).
compat: $(VENV)/.installed-dev
	$(BIN)/python compat/run_asgiref_suite.py

test: lint typecheck unit compat

bench: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .import_linter_cache .coverage htmlcov
