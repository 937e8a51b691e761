# Symphony: every target installs what it needs, so each works as the first command on a fresh clone.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

ENV ?= dev
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CHECKOV_VENV := .venv-checkov

# The pinned Node 22 from package.json runs both the CDK CLI and the jsii kernel behind aws_cdk;
# nothing reaches the network at synth (no version check, no telemetry, no notices).
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)
export JSII_NODE := $(CURDIR)/node_modules/.bin/node
export CDK_DISABLE_VERSION_CHECK := 1
export CDK_DISABLE_CLI_TELEMETRY := true

.PHONY: help install synth test lint format demo clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@echo "==> Python dependencies into $(VENV) (first time: about 2 minutes)"
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	@echo "==> checkov into its own venv $(CHECKOV_VENV) (it pins old boto3/networkx)"
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	@echo "==> pinned CDK CLI and Node 22 from package-lock.json"
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(VENV)/.installed $(CHECKOV_VENV)/.installed node_modules/.installed ## venv, checkov venv, CDK CLI (idempotent)

synth: $(VENV)/.installed node_modules/.installed ## cdk synth ENV (default dev) into cdk.out, cdk-nag gate on
	npx cdk synth --quiet -c env=$(ENV)

lint: $(VENV)/.installed ## ruff (lint + format check) and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	@# Each handler folder is its own import root (handler.py, logic.py ... in every one).
	for folder in lambdas/*/; do $(VENV)/bin/mypy "$$folder"; done

format: $(VENV)/.installed ## apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

test: install lint ## every test: unit, infra (synth, cdk-nag, cfn-lint, checkov, graph), integration
	$(PY) -m pytest

demo: synth ## synthesize ENV and print its deployment plan and the night's schedule
	$(PY) -m simulator plan --env $(ENV) --cdk-out cdk.out

clean: ## remove build output (keeps the venvs and node_modules)
	rm -rf cdk.out build .pytest_cache .mypy_cache .ruff_cache
