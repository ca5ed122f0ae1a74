# Two entry points: `make demo` (install + run the full pipeline on built-in demo data)
# and `make test` (install + run the test suite). Both create .venv if it is missing.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_VERSION ?= 2.13.0

$(BIN)/recaug: pyproject.toml
	@echo "[1/4] creating the virtual environment $(VENV)"
	$(PYTHON) -m venv $(VENV)
	@echo "[2/4] upgrading pip"
	$(BIN)/pip install --quiet --upgrade pip
	@echo "[3/4] installing torch $(TORCH_VERSION) (the CPU wheel on this machine; a minute or so)"
	$(BIN)/pip install --quiet torch==$(TORCH_VERSION)
	@echo "[4/4] installing recaug and its dependencies (.[dev])"
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(BIN)/recaug
	@echo "installed: $(BIN)/recaug"

.PHONY: install demo test lint
install: $(BIN)/recaug

demo: install
	$(BIN)/recaug demo --out demo_run --force

test: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/pytest
