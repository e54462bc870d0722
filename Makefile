# Two entry points, each from nothing: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Here, pip finds the CPU build torch==2.13.0 on local disk (--no-index: no download).
# Elsewhere that fails fast and pip installs whatever torch your own pip configuration gives
# (set TORCH_SPEC, e.g. TORCH_SPEC="torch --index-url https://download.pytorch.org/whl/cpu").
LOCAL_TORCH ?= torch==2.13.0
TORCH_SPEC ?= torch>=2.2

.PHONY: setup demo test test-slow lint format docs bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -c "import torch" 2>/dev/null \
	  || $(BIN)/pip install -q --no-index "$(LOCAL_TORCH)" 2>/dev/null \
	  || $(BIN)/pip install -q $(TORCH_SPEC)
	$(BIN)/pip install -q -e ".[deep,dev]"
	touch $@

demo: setup
	$(BIN)/python -m skhash compare --dataset digits --bits 16 32 64 --out results/

test: setup
	$(BIN)/python -m ruff check skhash tests benchmarks examples
	$(BIN)/python -m ruff format --check skhash tests benchmarks examples
	$(BIN)/python -m pytest -n 2

test-slow: setup
	$(BIN)/python -m pytest -m slow

lint:
	$(BIN)/python -m ruff check --fix skhash tests benchmarks examples
	$(BIN)/python -m ruff format skhash tests benchmarks examples

docs: setup
	$(BIN)/pip install -q -e ".[docs]"
	$(BIN)/python -m sphinx -W -b html docs docs/_build/html

bench: setup
	$(BIN)/python benchmarks/classic.py

clean:
	rm -rf $(VENV) docs/_build docs/auto_examples results
