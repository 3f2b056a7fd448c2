# Gantry: `make run` starts the platform, `make test` runs the whole suite.
# Both set themselves up: virtual environment, pinned dependencies, generated gRPC code.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
GENERATED := generated/.stamp
ASSETS := services/console/assets
# npm ci runs again only when the lock file changed; vendor/ holds the only files served of it.
NPM_STAMP := $(ASSETS)/node_modules/.installed
VENDOR_STAMP := $(ASSETS)/vendor/.stamp
PROTOS := $(wildcard protos/gantry/v1/*.proto)
BENCH ?=

export PYTHONPATH := $(CURDIR):$(CURDIR)/generated

.PHONY: run test proto migrate lint format bench up down lock clean setup

setup: $(STAMP) $(GENERATED) $(VENDOR_STAMP)

$(STAMP): requirements-dev.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.lock
	# The project itself, for its commands (`gantry`, `kubectl-gantry`) in $(BIN).
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	@touch $@

$(GENERATED): $(STAMP) $(PROTOS) tools/protogen.py
	rm -rf generated
	$(BIN)/python tools/protogen.py generated
	@touch $@

proto: $(GENERATED)

$(NPM_STAMP): $(ASSETS)/package-lock.json $(ASSETS)/package.json
	@command -v npm >/dev/null || { echo "npm is needed for the console's and /docs' files (Debian: apt-get install npm)" >&2; exit 1; }
	cd $(ASSETS) && npm ci
	@touch $@

$(VENDOR_STAMP): $(NPM_STAMP) $(STAMP) services/kit/web_assets.py
	$(BIN)/python -m services.kit.web_assets
	@touch $@

migrate: setup
	$(BIN)/python tools/preflight.py amqp
	$(BIN)/python -m services.kit.migrate

run: setup
	$(BIN)/python tools/preflight.py amqp
	$(BIN)/python -m services.kit.migrate
	$(BIN)/python tools/run.py

test: setup
	$(BIN)/python tools/preflight.py amqp postgres redis
	tools/browser.sh
	$(BIN)/python tools/kubectl.py
	$(BIN)/pytest $(PYTEST_ARGS)

bench: setup
	$(BIN)/python tools/preflight.py amqp postgres redis
	$(BIN)/python -m bench $(BENCH)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

up:
	docker compose up -d --build

down:
	docker compose down

# Re-pins every dependency from the ranges in pyproject.toml.
lock: setup
	$(BIN)/pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml -o requirements.lock --python-version 3.11 --no-header -q
	$(BIN)/uv pip compile pyproject.toml --extra dev -c requirements.lock -o requirements-dev.lock --python-version 3.11 --no-header -q

clean:
	rm -rf $(VENV) generated var
