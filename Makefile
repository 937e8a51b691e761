# Symphony: every target installs what it needs, so each works as the first command on a fresh clone.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

ENV ?= dev
# pytest workers: a module's tests (and its module fixtures: a synthesized app, a local cloud, a
# SparkSession per worker) stay together in one worker (--dist loadscope).
TEST_WORKERS ?= 2
# The venvs' interpreter: the system's CPython 3.11 where the machine has one that makes venvs
# (Debian's and Ubuntu's builds are optimized, pyenv's default build is not: the 2,900-store night
# took 157 s on Debian's 3.11.2 against 181 s on pyenv's 3.11.7 here, side by side), else python3.
# An existing .venv keeps its interpreter: `rm -rf .venv` to change it; PYTHON=... to choose.
SYSTEM_PYTHON := $(shell /usr/bin/python3.11 -c 'import ensurepip, venv' 2>/dev/null && echo /usr/bin/python3.11)
PYTHON ?= $(or $(SYSTEM_PYTHON),python3)
VENV := .venv
PY := $(VENV)/bin/python
CHECKOV_VENV := .venv-checkov

# The pinned Node 22 from package.json runs both the CDK CLI and the jsii kernel behind aws_cdk;
# nothing reaches the network at synth (no version check, no telemetry, no notices).
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)
export JSII_NODE := $(CURDIR)/node_modules/.bin/node
export CDK_DISABLE_VERSION_CHECK := 1
export CDK_DISABLE_CLI_TELEMETRY := true

.PHONY: help install java synth test lint format demo bench clean

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

# Local Spark (the Glue jobs' tests) needs Java 17 on PATH; Debian's package when it is missing.
JAVA_PACKAGE := openjdk-17-jre-headless
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

java: ## Java 17 for local Spark: apt-get installs it when `java` is not 17 (idempotent)
	@case "$$(java -version 2>&1 || true)" in *'version "17.'*) ;; *) \
		echo "==> Java 17 for local Spark ($(JAVA_PACKAGE))"; \
		$(SUDO) apt-get update -qq; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(JAVA_PACKAGE) >/dev/null; \
		case "$$(java -version 2>&1 || true)" in *'version "17.'*) ;; *) \
			echo "java on PATH is not Java 17 after installing $(JAVA_PACKAGE): pick it with update-alternatives --config java" >&2; \
			exit 1;; esac;; \
	esac

node_modules/.installed: package.json package-lock.json
	@echo "==> pinned CDK CLI and Node 22 from package-lock.json"
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: java $(VENV)/.installed $(CHECKOV_VENV)/.installed node_modules/.installed ## Java 17, venv, checkov venv, CDK CLI (idempotent)

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

# The installs and lint in parallel (lint waits only for the venv: the checkov venv and npm ci go
# on meanwhile); each target's output kept together.
test: ## every test: unit, infra (synth, cdk-nag, cfn-lint, checkov, graph), integration
	$(MAKE) --no-print-directory -j3 --output-sync=target install lint
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadscope

# The night of `make demo`: NIGHT_STORES stores (the whole chain), every drill, the report into
# report/. 2,900 stores take 136-170 s here (README, "The night simulation"); NIGHT_STORES=290
# for a quicker look (about a minute). Above 150 stores the POS stream is a stated sample
# (README, "Samples").
NIGHT_STORES ?= 2900
NIGHT_ARGS ?= --stores $(NIGHT_STORES) --inject all
demo: synth ## synthesize ENV, print its plan, then simulate a night with every drill; report in report/
	$(PY) -m simulator plan --env $(ENV) --cdk-out cdk.out
	$(PY) -m simulator night --env $(ENV) --cdk-out cdk.out $(NIGHT_ARGS) --report report

# benchmarks/run.py: every figure, its baseline and target; BENCH_QUICK=1 for small sizes and 2
# runs, BENCH_MAKE_TEST=1 to time `make test` too, BENCH_ARGS for more (e.g. --only detect_fraud).
bench: java $(VENV)/.installed node_modules/.installed ## every benchmark: benchmarks/results.json, .md and the README table
	$(PY) benchmarks/run.py $(BENCH_ARGS)

clean: ## remove build output (keeps the venvs and node_modules)
	rm -rf cdk.out build .pytest_cache .mypy_cache .ruff_cache
