# Two commands on a fresh machine: `make run` (install + start the app) and `make test` (install + all tests).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install install-browser run test test-unit lint bench load load-replicas clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

# Reinstall only when a requirements file changed: a second `make install` takes well under a second.
$(STAMP): requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

# Debian's chromium for the e2e tests (playwright's own browser download does not work offline).
install-browser:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -q && apt-get install -y -q chromium) \
	  || echo "Could not install chromium: e2e tests will be skipped (or fail under CI=true)."

run: install
	$(BIN)/streamlit run app.py

test: install install-browser
	$(BIN)/ruff check .
	$(BIN)/pytest -q

test-unit: install
	$(BIN)/pytest -q tests/unit

lint: install
	$(BIN)/ruff check .

bench: install
	$(BIN)/python -m resnet_viz bench

# Classroom load: SESSIONS protocol-level sessions through a scripted lecture against a real server.
SESSIONS ?= 12
load: install
	$(BIN)/python -m resnet_viz load --sessions $(SESSIONS) --json load.json

# Two replicas behind Debian's nginx with deploy/nginx.conf (loopback), the same load through it.
load-replicas: install
	deploy/replicas_test.sh

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
