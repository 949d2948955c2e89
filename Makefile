# `make run` serves the CRM locally with demo data; `make test` runs lint and the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install install-dev run test lint format messages screenshots bench bench-full faults failover soak hostile clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

# Settings for this checkout only (git-ignored): debug on, a generated secret key and panel
# token, so that every `manage.py` command of the README works here. Production never reads it:
# values in the process environment win over the file, and production sets its own.
.env:
	@$(PYTHON) -c 'import secrets; print("DJANGO_DEBUG=true\nDJANGO_SECRET_KEY=" + secrets.token_urlsafe(50) + "\nPANEL_TOKEN=" + secrets.token_urlsafe(24))' > $@
	@echo "Wrote .env for local development (debug on)."

# A local, debug-mode server: production runs gunicorn (see docs/deploy.md).
run: install .env
	$(BIN)/python manage.py bootstrap --base-url http://$(HOST):$(PORT)
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/pytest

# Refresh the pictures in docs/img from the browser tests.
screenshots: install-dev
	UPDATE_SCREENSHOTS=1 $(BIN)/pytest tests/e2e

# Load the panel, its yardsticks and the admin under gunicorn with wrk, and compare them with the
# performance targets (docs/benchmarks.md, "Panel at 1M orders"); needs wrk and the local
# PostgreSQL and Redis. `make bench` is a quick look (2,000 customers, 20,000 orders);
# `make bench-full` the size of the targets (100,000 customers, 1,000,000 orders: a few minutes
# of seeding the first time). Each size keeps a database of its own, seeded once and reused.
# Options: make bench BENCH_ARGS="--duration 30 --json /tmp/bench.json" (`--reseed` replaces a
# seed of another size); see bench/run.py --help.
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/crm_bench
BENCH_FULL_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/crm_bench_full

bench: install-dev
	DATABASE_URL=$(BENCH_DATABASE_URL) $(BIN)/python bench/run.py $(BENCH_ARGS)

bench-full: install-dev
	DATABASE_URL=$(BENCH_FULL_DATABASE_URL) $(BIN)/python bench/run.py \
		--customers 100000 --orders 1000000 --duration 30 $(BENCH_ARGS)

# Time the panel's answers while Redis and PostgreSQL are down, stalled or locked (private
# instances, never the shared ones): docs/reliability.md, "Faults".
faults: install-dev
	$(BIN)/python bench/faults.py $(FAULTS_ARGS)

# Stop one of two app servers behind nginx under panel loads: none may fail (FAILOVER_ARGS="--rounds kill").
failover: install
	$(BIN)/python bench/failover.py $(FAILOVER_ARGS)

# Ten minutes of mixed load on gunicorn: no error, flat worker memory (SOAK_ARGS="--duration 300").
soak: install
	$(BIN)/python bench/soak.py $(SOAK_ARGS)

# 20,000 hostile requests to gunicorn in production settings (docs/reliability.md, "Hostile requests").
hostile: install-dev
	$(BIN)/python bench/hostile.py $(HOSTILE_ARGS)

format: install-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Regenerate and compile the zh-hans translations (needs GNU gettext).
messages: install .env
	$(BIN)/python manage.py makemessages -l zh_Hans --ignore=.venv --ignore=staticfiles --ignore=tests
	$(BIN)/python manage.py makemessages -d djangojs -l zh_Hans --ignore=.venv --ignore=staticfiles
	$(BIN)/python manage.py compilemessages -l zh_Hans

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache
