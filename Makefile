# voicesmith: two commands set everything up on a fresh machine.
#   make serve   create .venv, install, start the service on 127.0.0.1:8000 (bundled voice, SQLite, local storage)
#   make test    create .venv with the test extras and Debian packages the tests need, run the whole suite
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# Debian packages the test suite uses: espeak-ng and flite make test recordings, chromium drives the console test,
# slurmctld + slurmd + slurm-client + munge make the one-node SLURM cluster of the SLURM backend test.
DEB_TEST_PACKAGES := espeak-ng flite chromium slurmctld slurmd slurm-client munge
# postgresql: the store, task and multi-node tests start a throwaway cluster (tests/pg.py).
DEB_TEST_PACKAGES += postgresql
# nodejs runs the AWS SDK for JavaScript (tests/js) against the server.
DEB_TEST_PACKAGES += nodejs
JS_TEST_DIR := tests/js
# curl and xxd run speech-dispatcher's mary-generic command line in the MaryTTS test.
DEB_TEST_PACKAGES += curl xxd
PYTEST_ARGS ?=

.PHONY: serve test install install-test deb-test js-test lint bench clean

$(BIN)/python:
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	@$(BIN)/pip install -q -e '.[server]'
	@touch $@

# s3fs comes last and without its pins: aiobotocore pins botocore to a release older than the one whose
# Polly model has CreateVoice/GetVoice (which the boto3 tests call); resolving both makes pip backtrack into
# sdists that do not build. aiobotocore runs on the newer botocore (the S3 tests check it).
S3FS_STACK := 's3fs>=2024.2' 'aiobotocore>=2.13'
$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	@$(BIN)/pip install -q -e '.[test]' 'aiohttp>=3.9' 'aioitertools>=0.11' 'wrapt>=1.10'
	@$(BIN)/pip install -q --no-deps $(S3FS_STACK)
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test deb-test js-test

# The npm packages the tests drive the server with (tests/js/package-lock.json), into tests/js/node_modules.
js-test: $(JS_TEST_DIR)/node_modules/.installed

$(JS_TEST_DIR)/node_modules/.installed: $(JS_TEST_DIR)/package-lock.json | deb-test
	@command -v npm >/dev/null || { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends npm >/dev/null; }
	@npm ci --prefix $(JS_TEST_DIR) --no-audit --no-fund --loglevel=error
	@touch $@

deb-test:
	@missing=""; for p in $(DEB_TEST_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

serve: install
	@$(BIN)/voicesmith serve --host $(HOST) --port $(PORT)

test: install-test
	@$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install-test
	@$(BIN)/python -m ruff check src tests benchmarks scripts sagemaker_entry.py
	@$(BIN)/python -m ruff format --check src tests benchmarks scripts sagemaker_entry.py

bench: install-test
	@$(BIN)/python benchmarks/synthesis.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info
