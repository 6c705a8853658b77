# One task runner: `make demo` sets everything up and runs the main job,
# `make test` runs the tests (installing first when needed).
PYTHON ?= python3
VENV   ?= .venv
DATA   ?= ../shared/data
DB     ?= sqlite:///$(CURDIR)/.segassist/demo.db
BIN     = $(VENV)/bin

.PHONY: install test test-fast lint format bench bench-import demo clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

install: $(BIN)/.installed

test: install
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q -rs

test-fast: install
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q -rs -m "not postgres"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: bench-import

bench-import: install
	$(BIN)/python benchmarks/bench_import.py --data $(DATA)

demo: install
	$(BIN)/segassist --db $(DB) init
	$(BIN)/segassist --db $(DB) import amazon $(DATA)/amazon/reviews_Musical_Instruments_5.json.gz
	$(BIN)/segassist --db $(DB) status

clean:
	rm -rf $(VENV) .segassist .pytest_cache .ruff_cache
