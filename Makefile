# The two commands a newcomer needs: `make run` and `make test`. Everything else is theirs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
VENDOR := app/static/vendor
PG_TEST_URL ?= postgresql://postgres@127.0.0.1:5432/lastmile_test

.PHONY: run test test-sqlite test-postgres install assets migrate seed migration clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

install: $(VENV)/.installed

# Front-end packages from the npm registry (pinned in package.json), copied where Flask
# serves them. Not committed.
$(VENDOR)/.installed: package.json
	npm install --no-audit --no-fund --loglevel=error
	mkdir -p $(VENDOR)
	cp node_modules/htmx.org/dist/htmx.min.js $(VENDOR)/htmx.min.js
	cp node_modules/htmx-ext-sse/dist/sse.min.js $(VENDOR)/sse.js
	cp node_modules/@picocss/pico/css/pico.min.css $(VENDOR)/pico.min.css
	# axe-core: only the browser tests load it (accessibility checks); no page links it.
	cp node_modules/axe-core/axe.min.js $(VENDOR)/axe.min.js
	touch $@

assets: $(VENDOR)/.installed

migrate: install
	$(BIN)/flask --app wsgi db upgrade

seed: migrate
	$(BIN)/flask --app wsgi seed demo

# Runs web + worker (+ an embedded Redis when REDIS_URL is unset) on SQLite in instance/
# unless DATABASE_URL says otherwise.
run: install assets seed
	$(BIN)/python -m scripts.run_dev

# The whole suite on SQLite, then again on PostgreSQL when one answers on 127.0.0.1:5432.
test: install assets test-sqlite test-postgres

test-sqlite:
	$(BIN)/python -m pytest -p no:cacheprovider $(PYTEST_ARGS)

test-postgres:
	@if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then \
		TEST_DATABASE_URL=$(PG_TEST_URL) $(BIN)/python -m pytest -p no:cacheprovider $(PYTEST_ARGS); \
	else \
		echo "PostgreSQL is not reachable on 127.0.0.1:5432: the PostgreSQL pass is skipped."; \
	fi

# After changing a model (before the first release): regenerate the one migration.
migration: install
	./scripts/regenerate_migration.sh

clean:
	rm -rf $(VENV) node_modules $(VENDOR)
