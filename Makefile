# The two commands of the quick start: `make demo` and `make test`. Both work on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck rules unit bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/alerter demo

lint: $(STAMP)
	$(BIN)/ruff check alerter tests bench
	$(BIN)/ruff format --check alerter tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/python -m pytest

rules: $(STAMP)
	$(BIN)/alerter check rules/
	$(BIN)/alerter test rules/

# pytest runs last so its summary closes the output.
test: lint typecheck rules unit

# Benchmarks print their figures beside a baseline measured in the same run (minutes).
bench: $(STAMP)
	$(BIN)/python bench/bench_source_memory.py
	$(BIN)/python bench/bench_wakeups.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
