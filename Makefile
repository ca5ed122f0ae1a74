# Two entry points: `make demo` (install + run the full pipeline on built-in demo data)
# and `make test` (install + run the test suite). Both create .venv if it is missing.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_VERSION ?= 2.13.0

$(BIN)/recaug: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==$(TORCH_VERSION)
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(BIN)/recaug

.PHONY: install demo test lint
install: $(BIN)/recaug

demo: install
	$(BIN)/recaug demo --out demo_run --force

test: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/pytest
