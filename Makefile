# newsflow — `make help` lists the targets.
SHELL := /bin/bash
UV ?= uv
# `make up`/`run`/`down`/`logs` use Docker Compose when a Docker engine answers, else the
# local runner (Kafka from Maven Central jars + PostgreSQL as local processes).
DOCKER_ENGINE := $(shell docker info >/dev/null 2>&1 && echo yes)
COMPOSE ?= $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)
PYTEST_ARGS ?=

.PHONY: help sync jars up run down logs status test test-cluster lint format schemas eval train-stance bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

sync: ## install the workspace (uv.lock) into .venv
	$(UV) sync --frozen

up: sync ## start the whole stack in the background; returns when ingest and enrich are ready
ifeq ($(DOCKER_ENGINE),yes)
	$(COMPOSE) up -d --build --wait
else
	$(UV) run --frozen newsflow-local up
endif

run: sync ## run the whole stack in the foreground (Ctrl-C stops it)
ifeq ($(DOCKER_ENGINE),yes)
	$(COMPOSE) up --build
else
	$(UV) run --frozen newsflow-local run
endif

down: ## stop everything `make up` started
ifeq ($(DOCKER_ENGINE),yes)
	$(COMPOSE) down
endif
	@if [ -d .venv ]; then $(UV) run --frozen newsflow-local down; fi

logs: ## follow the logs of every component
ifeq ($(DOCKER_ENGINE),yes)
	$(COMPOSE) logs -f
else
	$(UV) run --frozen newsflow-local logs -f
endif

jars: sync ## fetch the Kafka broker jars from Maven Central (once; cached in .local/cache)
	$(UV) run --frozen newsflow-local jars

status: ## what is running (local runner)
	$(UV) run --frozen newsflow-local status

test: sync ## unit, integration (real Kafka + PostgreSQL), fault, e2e (not tests/cluster: make test-cluster)
	$(UV) run --frozen pytest $(PYTEST_ARGS)

test-cluster: sync ## broker failover on a 3-node Kafka cluster under load (~10 min); prints the A/D/E table
	$(UV) run --frozen pytest tests/cluster $(PYTEST_ARGS)

lint: sync ## ruff (lint + format check), mypy strict, JSON Schema drift
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen mypy libs/schema/src libs/cli/src services/ingest/src services/enrich/src deploy/local/src bench
	$(UV) run --frozen python -m newsflow_schema.jsonschema --check

format: ## apply ruff's fixes and formatting
	$(UV) run --frozen ruff check --fix .
	$(UV) run --frozen ruff format .

schemas: ## re-export the events' JSON Schemas to libs/schema/jsonschema/
	$(UV) run --frozen python -m newsflow_schema.jsonschema

eval: sync ## NLP quality: entities, quotes, stance on the gold set and held-out NewsMTSC, vs raw spaCy and VADER
	$(UV) run --frozen python -m newsflow_enrich.training.evaluate

# The `train` group (torch, ~5 GB) is installed only here: `make sync` removes it again.
train-stance: ## retrain the stance models from ../shared/data/newsmtsc (fixed seed; ~8 min on 2 idle cores, 45 under load)
	HF_HUB_OFFLINE=1 $(UV) run --frozen --group train nice -n 10 python -m newsflow_enrich.training.train_stance
	$(UV) run --frozen python -m newsflow_enrich.training.train_logreg

bench: sync ## benchmarks on a stack of their own; results in bench/results/, table in bench/README.md (BENCH_ARGS=--quick)
	$(UV) run --frozen --group bench python -m bench $(BENCH_ARGS)

clean: down ## remove the local runner's state (keeps the Kafka jar cache)
	rm -rf .local/stack .local/test-*
