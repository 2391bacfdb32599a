# The two commands of the README: `make run` and `make test`. Both install everything first.
PYTHON ?= python3
PIP := $(PYTHON) -m pip

.PHONY: install run test lint bench

# torch first, pinned to the CPU build on this machine's disk; without it pip would pull
# a multi-GB CUDA build to satisfy the project's torch range.
install:
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e '.[test]'

run: install
	$(PYTHON) -m connectors.cli demo

lint:
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .

test: install lint
	$(PYTHON) -m pytest

bench: install
	$(PYTHON) bench/retrieval.py
