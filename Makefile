# The two commands of the README: `make run` (the daemon with ./config.toml) and `make test`.
# Both create the virtual environment and install pinned dependencies on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format bench demo check clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,postgres]'
	touch $(STAMP)

run: $(STAMP)
	@test -f config.toml || $(BIN)/policywatch init
	$(BIN)/policywatch run

demo: $(STAMP)
	$(BIN)/policywatch demo

bench: $(STAMP)
	$(BIN)/python -m bench.differ
	$(BIN)/python -m bench.web
	$(BIN)/python -m bench.replay
	$(BIN)/python -m bench.export
	$(BIN)/python -m bench.realpages
	$(BIN)/python -m bench.scale
	$(BIN)/python -m bench.fetchers
	$(BIN)/python -m bench.startup
	$(BIN)/python -m bench.topics
	$(BIN)/python -m bench.workers

check: $(STAMP)
	$(BIN)/policywatch check

# The suite on SQLite, then the tests that touch the database again on a throwaway PostgreSQL
# cluster (skipped, with one line, where PostgreSQL is not installed).
PG_TESTS := tests/archive tests/evidence tests/storage tests/check tests/alerting tests/web tests/cli tests/scenarios tests/config

test: $(STAMP)
	$(BIN)/pytest -q
	$(BIN)/python -m tests.pg run -- $(BIN)/pytest -q $(PG_TESTS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
