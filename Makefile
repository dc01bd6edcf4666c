# Two commands a newcomer runs: `make demo` and `make test`. Both set themselves up on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.embedlab-installed

.PHONY: setup demo test lint docs clean

# torch first, from the CPU wheel: anything that depends on torch installed before it would pull a CUDA build.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[all,dev]"
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(VENV)/bin/embedlab train configs/demo-stsb-minilm.yaml --overwrite

test: setup
	$(PY) -m pytest -ra

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks docs mkdocs_hooks
	$(VENV)/bin/ruff format --check src tests benchmarks docs mkdocs_hooks
	$(VENV)/bin/mypy src

docs: setup
	$(VENV)/bin/mkdocs build --strict --quiet

clean:
	rm -rf runs site .pytest_cache .ruff_cache
