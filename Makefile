# Two commands on a fresh machine: `make run` (install + start the app) and `make test` (install + all tests).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Debian packages (python3-venv, chromium, CJK fonts, redis-server) need root: apt-get as root, else through sudo
# if there is one.
APT := $(shell [ "$$(id -u)" = 0 ] && echo apt-get || (command -v sudo >/dev/null && echo sudo apt-get) || echo false)

.PHONY: install install-browser run test test-unit lint bench load load-classroom load-replicas clean

# Debian's python3 has no venv module until python3-venv is installed.
$(BIN)/python:
	$(PY) -m venv $(VENV) || { $(APT) install -y -q python3-venv && $(PY) -m venv --clear $(VENV); }

# Reinstall only when a requirements file changed: a second `make install` takes well under a second.
$(STAMP): requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

# Debian's chromium for the e2e tests (playwright's own browser download does not work offline); CJK fonts are
# optional (Chinese screenshots); Debian's redis-server for the class-room tests (each starts its own, on loopback).
install-browser:
	@command -v chromium >/dev/null 2>&1 || ($(APT) update -q && $(APT) install -y -q chromium) \
	  || echo "Could not install chromium: e2e tests will be skipped (or fail under CI=true)."
	@fc-list :lang=zh 2>/dev/null | grep -q . || $(APT) install -y -q fonts-noto-cjk >/dev/null 2>&1 \
	  || echo "No CJK fonts (optional): Chinese text in screenshots may show as boxes."
	@command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ] \
	  || ($(APT) update -q && $(APT) install -y -q redis-server) \
	  || echo "Could not install redis-server: the Redis room tests will be skipped (or fail under CI=true)."

run: install
	$(BIN)/streamlit run app.py

# ruff first, then every test; any non-zero pytest status (1 failed, 2 interrupted, 5 no tests collected) fails make.
test: install install-browser
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q --durations=15

test-unit: install
	$(BIN)/python -m pytest -q tests/unit

lint: install
	$(BIN)/ruff check .

bench: install
	$(BIN)/python -m tools bench

# Classroom load: SESSIONS protocol-level sessions through a scripted lecture against a real server.
SESSIONS ?= 12
load: install
	$(BIN)/python -m tools load --sessions $(SESSIONS) --json load.json

# A class question: one presenter's room, STUDENTS phones answering within 2 s (0 lost or double-counted).
STUDENTS ?= 60
load-classroom: install
	$(BIN)/python -m tools load --scenario classroom --sessions $(STUDENTS) --json load-classroom.json

# Two replicas behind Debian's nginx with deploy/nginx.conf (loopback), the same load through it.
load-replicas: install
	deploy/replicas_test.sh

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
