# InvoiceFlow backend. `make dev` runs the local stack; `make test` runs every test.
# Both set up what they need on a fresh machine (virtualenv, Python packages, the
# PostgreSQL 15 server and pgTAP from Debian).

VENV      := .venv
PYTHON    := $(VENV)/bin/python
STAMP     := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
PYTEST_ARGS ?=

.PHONY: setup system-deps test test-db lint format dev dev-reset bench clean

setup: system-deps $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@

system-deps:
	@bash devstack/install-system-deps.sh

test: setup
	$(PYTHON) -m pytest $(PYTEST_ARGS)

# Only the database: migrations and the pgTAP files.
test-db: setup
	$(PYTHON) -m pytest tests/db $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: setup
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

dev: setup
	$(PYTHON) -m devstack

dev-reset: setup
	$(PYTHON) -m devstack --reset

bench: setup
	$(PYTHON) -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
