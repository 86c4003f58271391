# InvoiceFlow backend. `make dev` runs the local stack; `make test` runs every test.
# Both set up what they need on a fresh machine (virtualenv, Python packages, the
# PostgreSQL 15 server and pgTAP from Debian).

VENV      := .venv
PYTHON    := $(VENV)/bin/python
STAMP     := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
PYTEST_ARGS ?=

.PHONY: setup system-deps test test-fast test-db test-clock reliability restore-drill lint format dev dev-reset bench package clean

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

# The inner loop, under a minute: the unit tests, the database (migrations, pgTAP, the SQL
# rules) and the API through each function's handler in process. Not the tests marked
# `slow`, nor those that start the API Gateway emulator over HTTP or moto (`whole_stack`:
# tests/conftest.py marks them from their fixtures). `make test` still runs everything.
test-fast: setup
	$(PYTHON) -m pytest tests/unit tests/db tests/api -m "not slow and not whole_stack" $(PYTEST_ARGS)

# Only the database: migrations and the pgTAP files.
test-db: setup
	$(PYTHON) -m pytest tests/db $(PYTEST_ARGS)

# The whole suite with the clock moved (CLOCK_OFFSET, libfaketime's relative form: +365d,
# +730d, -30d, +2y) for Python, its subprocesses and the PostgreSQL server the session starts,
# through Debian's libfaketime: no test may depend on the day it runs. The monotonic clock
# stays real (timeouts); tests/faketime/passthrough.c, preloaded first, hands the waits to
# libc (libfaketime 0.9.10's wrappers lose PostgreSQL's timeouts and Python's sleeps). Only
# pytest runs under it: `setup` (pip over TLS, certificates) runs first with the real clock.
CLOCK_OFFSET ?= +365d
FAKETIME_LIB ?= $(firstword $(wildcard /usr/lib/*/faketime/libfaketimeMT.so.1))
test-clock: setup
	@test -n "$(FAKETIME_LIB)" || { echo "libfaketime not found: install the Debian package faketime" >&2; exit 1; }
	@shim="$$(mktemp -d)" && trap 'rm -rf "$$shim"' EXIT && chmod 755 "$$shim" && \
	cc -shared -fPIC -O2 -o "$$shim/passthrough.so" tests/faketime/passthrough.c -ldl && \
	echo "pytest with the clock at $(CLOCK_OFFSET) (libfaketime)" && \
	LD_PRELOAD="$$shim/passthrough.so $(FAKETIME_LIB)" FAKETIME=$(CLOCK_OFFSET) \
		FAKETIME_DONT_FAKE_MONOTONIC=1 INVOICEFLOW_EXPECT_CLOCK_OFFSET=$(CLOCK_OFFSET) \
		$(PYTHON) -m pytest $(PYTEST_ARGS)

# The reliability suite (reliability/README.md): load, faults, concurrency, fuzzing and
# security against a whole local stack; minutes long, so not part of `make test`.
reliability: setup
	$(PYTHON) -m pytest reliability -p no:cacheprovider $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: setup
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# The restore drill (docs/security.md): a database with data dumped (pg_dumpall --roles-only,
# pg_dump), restored into a fresh cluster, its row counts and money invariants compared.
# SOURCE=<superuser URL> drills that database instead of a generated one.
restore-drill: setup
	$(PYTHON) -m devstack.restore_drill $(if $(SOURCE),--source "$(SOURCE)")

dev: setup
	$(PYTHON) -m devstack

dev-reset: setup
	$(PYTHON) -m devstack --reset

bench: setup
	$(PYTHON) -m bench

# The deployment CLI and its plugins (package.json, pinned by package-lock.json).
NODE_STAMP := node_modules/.installed-$(shell cksum package-lock.json | cut -d' ' -f1)
STAGE      ?= dev
PACKAGE_DIR ?= .serverless
MONITORING_PACKAGE_DIR ?= $(patsubst %/,%,$(PACKAGE_DIR))-monitoring

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@rm -f node_modules/.installed-*
	@touch $@

# The tests drive the pinned Supabase CLI from node_modules (tests/db/test_supabase_cli.py).
test test-db test-clock: $(NODE_STAMP)

# Every function's zip, the Python packages' layer and the CloudFormation template in
# $(PACKAGE_DIR), the monitoring stack's template beside it in $(MONITORING_PACKAGE_DIR)
# (.serverless and .serverless-monitoring by default), offline: placeholder AWS credentials,
# nothing is asked of AWS (docs/deploy.md). Both stacks are services of this directory, so
# the CLI builds each in ./.serverless, which it empties first, then moves it to --package
# unless that ends in .serverless: the monitoring stack goes first, and never inside
# $(PACKAGE_DIR) (.serverless/monitoring copied .serverless into itself without end).
# tests/deploy/test_package.py runs `make package` in a fresh clone and checks what it builds.
package: $(STAMP) $(NODE_STAMP)
	env -u AWS_PROFILE -u AWS_SESSION_TOKEN AWS_ACCESS_KEY_ID=offline AWS_SECRET_ACCESS_KEY=offline \
		AWS_EC2_METADATA_DISABLED=true SLS_TELEMETRY_DISABLED=1 SLS_NOTIFICATIONS_MODE=off \
		PYTHON_BIN=$(abspath $(PYTHON)) \
		sh -c 'node_modules/.bin/serverless package --config serverless.monitoring.yml \
			--stage $(STAGE) --package $(MONITORING_PACKAGE_DIR) && \
		node_modules/.bin/serverless package --stage $(STAGE) --package $(PACKAGE_DIR)'

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache node_modules .serverless \
		.serverless-monitoring
