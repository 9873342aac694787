# Troupe: every target sets up what it needs (virtualenv, dependencies, local Kafka and FerretDB).
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# The local servers' ports; the services and tests are pointed at them unless told otherwise.
export TROUPE_KAFKA_PORT ?= 9092
export TROUPE_KAFKA_CONTROLLER_PORT ?= 9093
export TROUPE_MONGO_PORT ?= 27017
export KAFKA_BOOTSTRAP_SERVERS ?= 127.0.0.1:$(TROUPE_KAFKA_PORT)
export MONGODB_URI ?= mongodb://127.0.0.1:$(TROUPE_MONGO_PORT)/
# The local gateway's first key: made once per checkout, kept in .troupe/ (git-ignored), readable by its owner
# only. Not exported: infra/services.sh hands it to the gateway alone, and the CLI reads the file.
ADMIN_KEY_FILE := .troupe/admin-api-key
ADMIN_KEY_MADE := $(shell mkdir -p .troupe && umask 077 && { test -s $(ADMIN_KEY_FILE) || $(PYTHON) -c 'import secrets; print("trp_local_" + secrets.token_urlsafe(24))' > $(ADMIN_KEY_FILE); } && chmod 600 $(ADMIN_KEY_FILE))
# The local trace store (infra/jaeger.sh) takes OTLP here; the services export to it when it runs.
export TROUPE_OTLP_PORT ?= 4318
export OTEL_EXPORTER_OTLP_ENDPOINT ?= http://127.0.0.1:$(TROUPE_OTLP_PORT)

.PHONY: help venv infra-up infra-down infra-status lint test test-unit faults contracts run stop bench bench-realistic eval clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@echo "==> python: creating $(VENV) and installing dependencies (first run ~1-2 min)"
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Troupe needs Python >= 3.11"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install --quiet --upgrade pip
	@$(BIN)/pip install --quiet --progress-bar off -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)  ## create the virtualenv and install Troupe with its dev tools

infra-up:  ## build (first run) and start local Kafka and FerretDB; returns when both answer
	@bash infra/stack.sh up

infra-down:  ## stop the local servers (data stays in .troupe/data)
	@bash infra/stack.sh down

infra-status:  ## say what is running and where
	@bash infra/stack.sh status

lint: venv  ## ruff and mypy
	@echo "==> lint: ruff and mypy"
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check --quiet .
	@$(BIN)/mypy .

contracts: venv  ## regenerate docs/schemas/*.json and docs/asyncapi.json from the models
	@$(BIN)/python -m troupe.export_contracts

test-unit: venv  ## fast tests only: no servers needed
	@$(BIN)/pytest tests/unit -q

test: venv lint infra-up  ## everything: lint, unit and integration tests against the real local servers
	@echo "==> tests: unit, integration and end-to-end"
	@$(BIN)/pytest -q

faults: venv infra-up  ## the long fault runs (~20 min): outages, kill -9 rounds, soak; figures in docs/reliability.md
	@echo "==> faults: broker and database outages, kill -9 rounds, soak"
	@TROUPE_FAULTS_REPORT_DIR=$${TROUPE_FAULTS_REPORT_DIR:-.troupe/faults} $(BIN)/pytest tests/faults -m long_fault -q -s -o timeout=3600

run: venv infra-up  ## bring up the stack and the four services, then run the demo task
	@bash infra/services.sh start
	@$(BIN)/troupe demo

stop:  ## stop the services and the local stack
	@bash infra/services.sh stop
	@bash infra/stack.sh down

bench: venv infra-up  ## benchmarks: Troupe vs the Kafka floor and Temporal, then bench-realistic; writes docs/benchmarks.md
	@$(BIN)/pip install --quiet --progress-bar off -e '.[bench]'
	@$(BIN)/python -m bench
	@$(BIN)/python -m bench realistic

bench-realistic: venv infra-up  ## tasks at once against an LLM taking 2 s a call (python -m bench realistic --help)
	@$(BIN)/pip install --quiet --progress-bar off -e '.[bench]'
	@$(BIN)/python -m bench realistic

clean: infra-down  ## stop the servers and delete the virtualenv and every local download, build and data
	rm -rf $(VENV) .troupe

eval: venv infra-up  ## call-graph tasks on pinned open-source projects through the pipeline; writes docs/eval.md
	@$(BIN)/python -m eval $(EVAL_ARGS)
