# The one entry point for people and CI. Everything runs from the local venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST := $(BIN)/pytest
UNIT_FLAGS := --disable-socket --allow-unix-socket

.PHONY: install fmt lint test test-unit test-int test-e2e run migrate migration bench chaos multinode up down clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python -m tests.kubernetes_manifests

test: lint test-unit test-int test-e2e

test-unit: $(STAMP)
	$(PYTEST) tests/unit $(UNIT_FLAGS) -q

test-int: $(STAMP)
	$(PYTEST) tests/integration -q

test-e2e: $(STAMP)
	$(PYTEST) tests/e2e -q

run: $(STAMP)
	$(BIN)/helixq up

migrate: $(STAMP)
	$(BIN)/helixq migrate

migration: $(STAMP)
	$(BIN)/alembic revision --autogenerate -m "$(m)"

bench: $(STAMP)
	$(BIN)/python -m bench

chaos: $(STAMP)
	$(BIN)/python -m bench.chaos

multinode: $(STAMP)
	$(BIN)/python -m bench.multinode

up:
	docker compose up -d --build

down:
	docker compose down

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
