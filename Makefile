# Two commands on a fresh machine:
#   make run    install what the app needs (first time only) and serve it on http://localhost:8501
#   make test   install the test dependencies (Chromium too, where apt-get is available) and run every test
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PORT   ?= 8501
# `make test` also builds this virtualenv exactly as `make run` builds .venv (the app's requirements alone, no test
# packages) and runs the e2e server from it, so a missing app dependency fails the suite (tests/app/test_app_dependencies.py)
APP_VENV ?= .venv-app
REPLICAS ?= 3

.PHONY: run class test lint bench bench-load browser screenshots

run: $(VENV)/.app-installed
	$(PY) -m app_support.server.serve --server.port $(PORT)

# A class larger than one process holds: REPLICAS servers on ports PORT, PORT+1, … sharing one copy of the vectors
# and the model; put a sticky load balancer in front (README, "Serving a class")
class: $(VENV)/.app-installed
	$(PY) -m app_support.server.serve --replicas $(REPLICAS) --server.port $(PORT)

test: $(VENV)/.dev-installed $(APP_VENV)/.app-installed browser
	$(PY) -m ruff check .
	ATTNVIZ_APP_PYTHON=$(abspath $(APP_VENV))/bin/python $(PY) -m pytest

lint: $(VENV)/.dev-installed
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

bench: $(VENV)/.dev-installed
	$(PY) bench/bench_lessons.py

# A class of 1, 10, 30 and 60 students on the real server (about 8 minutes); the table is added to bench/RESULTS.md
bench-load: $(VENV)/.dev-installed
	$(PY) bench/bench_load.py --out bench/RESULTS.md

# what `make run` installs: the app's requirements alone (for .venv, and for the app-only $(APP_VENV) of `make test`)
%/.app-installed: requirements.txt requirements-nodeps.txt
	test -x $*/bin/python || $(PYTHON) -m venv $*
	$*/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt
	$*/bin/python -m pip install -q --disable-pip-version-check --no-deps -r requirements-nodeps.txt
	touch $@

$(VENV)/.dev-installed: requirements-dev.txt requirements.txt $(VENV)/.app-installed
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

# Debian's Chromium for the real-browser tests (Playwright cannot download its own browser here).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium not found: install Debian's chromium to run tests/e2e (they skip outside CI)"; fi; }
