# Two commands do all set-up on a fresh clone: `make demo` and `make test`. Both create .venv and install.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint format schemas docs bench clean chaos

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "wardlink needs Python >= 3.11 (set PYTHON=python3.x)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

demo: $(STAMP)  ## broker, simulators, edge and gateway on embedded defaults; SECURE=1: production broker accounts and ACLs
	$(BIN)/wardlink demo $(if $(SECURE),--secure)

TEST_WORKERS ?= 3
test: $(STAMP)  ## the whole suite (embedded defaults and the real Mosquitto and PostgreSQL), on TEST_WORKERS processes
	$(BIN)/pytest -n $(TEST_WORKERS) --dist worksteal

lint: $(STAMP)  ## ruff, the architecture contracts (import-linter) and the type checker (mypy)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

schemas: $(STAMP)  ## regenerate docs/schemas from the models
	$(BIN)/wardlink schemas export docs/schemas

docs: schemas  ## regenerate docs/schemas and the register/topic map tables in docs/devices.md
	$(BIN)/wardlink profiles reference --update docs/devices.md

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .import_linter_cache build *.egg-info

NETWORK ?= 1
NETWORK_SPECIMENS ?= 10000000
NETWORK_SITES ?= 30
bench: $(STAMP)  ## throughput, latency, edge capacity, memory (benchmarks/results.json); then the network of sites (benchmarks/network-results.json; NETWORK=0 skips it)
	$(BIN)/python -m benchmarks.ingest
ifneq ($(NETWORK),0)
	$(BIN)/python -m benchmarks.network --specimens $(NETWORK_SPECIMENS) --sites $(NETWORK_SITES)
endif

CHAOS_RUNS ?= 100
CHAOS_PARALLEL ?= 3
chaos: $(STAMP)  ## randomised fault runs on the real processes (CHAOS_RUNS, CHAOS_SEED); figures in benchmarks/chaos-results.json
	$(BIN)/python -m tests.chaos --runs $(CHAOS_RUNS) --parallel $(CHAOS_PARALLEL) $(if $(CHAOS_SEED),--seed $(CHAOS_SEED))
