# What CI runs is what a person runs.
PY := .venv/bin/python
PORT ?= 9070
DATA ?= ./loam-data

.PHONY: setup setup-dev run test check bench format

setup:
	scripts/setup

setup-dev:
	scripts/setup --dev

run: setup
	.venv/bin/loam serve --port $(PORT) --data-dir $(DATA) --echo-function-logs

test: setup-dev
	$(PY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

check: setup-dev
	.venv/bin/ruff check loam tests
	.venv/bin/mypy

format:
	.venv/bin/ruff format loam tests
	.venv/bin/ruff check --fix loam tests

# Every benchmark; each rewrites its own section of docs/performance.md.
bench: setup-dev
	$(PY) -m benchmarks.cold_start
	$(PY) -m benchmarks.warm
	$(PY) -m benchmarks.routing
	$(PY) -m benchmarks.density -n 1000 --memory 128 1536
	$(PY) -m benchmarks.burst -n 100 500 --runs 2
	$(PY) -m benchmarks.async_ingest
	$(PY) -m benchmarks.sqs_source
	$(PY) -m benchmarks.function_url
