# Deskpulse: `make demo` shows the whole system; `make test` runs every check CI runs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-dev
APT    := DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends

.PHONY: edge-install demo test lint typecheck pytest bench faults fuzz install system-deps ensure-mosquitto ensure-chromium ensure-postgresql ensure-promtool clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

install: $(STAMP)

# The Pi's install alone, in a fresh .venv-edge: none of the hub's packages may come with it.
edge-install:
	rm -rf .venv-edge && $(PYTHON) -m venv .venv-edge
	.venv-edge/bin/python -m pip install -q '.[edge]' && rm -rf build  # pip builds in-tree
	@if .venv-edge/bin/python -m pip list 2>/dev/null | grep -iE '^(fastapi|uvicorn|psycopg|pillow|amqtt|opencv)'; \
	then echo "error: the [edge] install brought the packages above" >&2; exit 1; fi
	.venv-edge/bin/deskpulse edge run --help >/dev/null && echo "edge install OK: $$(du -sh .venv-edge | cut -f1)"

demo: $(STAMP)
	$(BIN)/deskpulse demo $(DEMO_ARGS)

ensure-mosquitto:
	@if command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then echo "Installing mosquitto (Debian package)"; \
	  apt-get update -qq && $(APT) mosquitto mosquitto-clients; \
	else echo "error: mosquitto is missing; install it with 'sudo apt-get install mosquitto' and run 'make test' again" >&2; exit 1; fi

ensure-chromium:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then echo "Installing chromium (Debian package) for the browser tests"; \
	  apt-get update -qq && $(APT) chromium chromium-driver fonts-dejavu-core; \
	else echo "error: chromium is missing; install it with 'sudo apt-get install chromium chromium-driver' and run 'make test' again" >&2; exit 1; fi

# tests/pg.py starts a throw-away cluster with these binaries (never the system server).
ensure-postgresql:
	@if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ]; then echo "Installing postgresql (Debian package) for the PostgreSQL store tests"; \
	  apt-get update -qq && $(APT) postgresql; \
	else echo "error: PostgreSQL is missing; install it with 'sudo apt-get install postgresql' and run 'make test' again" >&2; exit 1; fi

# promtool checks deploy/prometheus (tests/api/test_prometheus_alerts.py).
ensure-promtool:
	@if command -v promtool >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ]; then echo "Installing prometheus (Debian package) for promtool"; \
	  apt-get update -qq && $(APT) prometheus; \
	else echo "error: promtool is missing; install it with 'sudo apt-get install prometheus' and run 'make test' again" >&2; exit 1; fi

system-deps: ensure-mosquitto ensure-chromium ensure-postgresql ensure-promtool

lint: $(STAMP)
	$(BIN)/ruff check edge hub firmware_sim tests bench
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

# The suite runs on PYTEST_WORKERS processes (pytest-xdist); --dist loadgroup keeps each
# xdist_group on one worker (tests/conftest.py says which). PYTEST_WORKERS=0 runs in one
# process. pytest-cov combines the workers' coverage.
PYTEST_WORKERS ?= 2
pytest: $(STAMP) system-deps
	$(BIN)/pytest -q -p no:cacheprovider -n $(PYTEST_WORKERS) --dist loadgroup --cov --cov-report=term:skip-covered

test: lint typecheck pytest

# The fault-injection suite in full (a shortened run is part of `make test`);
# DESKPULSE_FAULT_SEED=<n> replays a run (each run prints its seed).
faults: $(STAMP) ensure-mosquitto
	DESKPULSE_FAULTS=full $(BIN)/pytest tests/faults -q -p no:cacheprovider -s

# The fuzzers (tests/fuzz) with large example budgets; `make test` runs them briefly.
fuzz: $(STAMP)
	DESKPULSE_FUZZ=long $(BIN)/pytest tests/fuzz -q -p no:cacheprovider --timeout=0

bench: $(STAMP) ensure-mosquitto ensure-postgresql
	$(BIN)/python -m bench.run --out bench/results.json

clean:
	rm -rf $(VENV) .venv-edge .mypy_cache .ruff_cache .pytest_cache .coverage
