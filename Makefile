# Two entry points, each from nothing: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# PyTorch: a CPU build where one lies on local disk, else what the user's pip gives.
# Here, pip finds the CPU wheel torch==2.13.0 without any download (probed with --no-index);
# elsewhere that probe fails at once and pip installs TORCH_SPEC as the user's configuration
# resolves it (e.g. make setup TORCH_SPEC="torch --index-url https://download.pytorch.org/whl/cpu").
LOCAL_TORCH ?= torch==2.13.0
TORCH_SPEC ?= "torch>=2.3"

.PHONY: setup demo test test-min test-slow lint format docs bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -c "import torch" 2>/dev/null \
	  || if $(BIN)/python -m pip install -q --dry-run --no-index --no-deps "$(LOCAL_TORCH)" >/dev/null 2>&1; \
	     then $(BIN)/python -m pip install -q "$(LOCAL_TORCH)"; \
	     else $(BIN)/python -m pip install -q $(TORCH_SPEC); fi
	$(BIN)/python -m pip install -q -e ".[deep,dask,dev]"
	touch $@

demo: setup
	$(BIN)/python -m skhash compare --dataset digits --bits 16 32 64 --out results/

test: setup
	$(BIN)/python -m ruff check skhash tests benchmarks examples
	$(BIN)/python -m ruff format --check skhash tests benchmarks examples
	$(BIN)/python -m pytest -n 2

# The oldest versions pyproject.toml allows, in a venv of their own (torch and dask are left
# out: only the CPU torch of this machine can be installed offline; their tests skip).
MIN_VENV ?= .venv-min
MIN_DEPS := numpy==2.0.2 scipy==1.13.1 scikit-learn==1.6.1 joblib==1.2.0 threadpoolctl==3.1.0 \
	pandas==2.2.2 numba==0.60.0 tqdm==4.60.0 matplotlib==3.8.4 pillow==9.5.0 mlxtend==0.23.1

$(MIN_VENV)/.installed: pyproject.toml
	test -x $(MIN_VENV)/bin/python || $(PYTHON) -m venv $(MIN_VENV)
	$(MIN_VENV)/bin/python -m pip install -q $(MIN_DEPS) pytest pytest-xdist hypothesis faiss-cpu
	$(MIN_VENV)/bin/python -m pip install -q --no-deps -e .
	touch $@

test-min: $(MIN_VENV)/.installed
	$(MIN_VENV)/bin/python -m pytest -n 2 -q

test-slow: setup
	$(BIN)/python -m pytest -m slow

lint:
	$(BIN)/python -m ruff check --fix skhash tests benchmarks examples
	$(BIN)/python -m ruff format skhash tests benchmarks examples

docs: setup
	$(BIN)/python -m pip install -q -e ".[docs]"
	$(BIN)/python -m sphinx -W -b html docs docs/_build/html

bench: setup
	$(BIN)/python benchmarks/classic.py

clean:
	rm -rf $(VENV) $(MIN_VENV) docs/_build docs/auto_examples results
