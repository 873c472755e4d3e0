# edge-ocr: every target sets up .venv itself when needed.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
export PYTHONDONTWRITEBYTECODE := 1
export TF_CPP_MIN_LOG_LEVEL := 3
export TF_ENABLE_ONEDNN_OPTS := 1
BENCH_ARGS ?=  # e.g. make bench BENCH_ARGS=--quick

.PHONY: demo test lint model bench clean setup setup-dev

$(VENV)/.base: pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "make: $(PYTHON) not found (set PYTHON=...)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e .
	touch $@

$(VENV)/.dev: $(VENV)/.base
	$(PY) -m pip install -q -c constraints.txt -e ".[train,dev,mqtt]"
	touch $@

setup: $(VENV)/.base
setup-dev: $(VENV)/.dev

## demo: the bundled int8 models on the bundled samples, then the built-in conveyor stream
demo: $(VENV)/.base
	$(VENV)/bin/edge-ocr demo

## lint: ruff and mypy
lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

## test: lint, the C tests of the firmware bridge, then pytest
test: lint
	$(MAKE) -C firmware_bridge/c test
	$(VENV)/bin/pytest

## model: retrain and re-export the bundled models from scratch (see README for times)
model: $(VENV)/.dev
	$(PY) -m training bundle

## bench: measure edge-ocr and its peers; results in bench/results/
bench: $(VENV)/.dev
	bash bench/install_peers.sh $(PY)
	$(PY) -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache firmware_bridge/c/build
