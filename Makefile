# `make demo` and `make test` work on a fresh machine with only Python 3.11+:
# each creates the virtual environment it needs on first use.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: demo test unit lint lock serve docs bench venv clean browser

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dev]'
	touch $@

demo: venv
	$(BIN)/latchkey demo

# Most tests wait on sockets, not the CPU: four workers roughly halve the time on 2 cores.
# The crash, replica and fault tests time real processes, so they run on their own afterwards.
test: venv browser
	$(BIN)/python -m pytest -q -n 4 --ignore=tests/resilience
	$(BIN)/python -m pytest -q tests/resilience

# The review report's page is checked in a real browser (tests/support/browser.py): Debian's
# Chromium and its driver, installed with apt-get when missing, so that the test runs, never skips.
browser:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; \
	  else \
	    echo "make test: the report page's test needs Debian's chromium and chromium-driver" \
	         "(sudo apt-get install chromium chromium-driver)" >&2; \
	  fi; \
	fi

# The fast loop while changing a rule or a use case: in memory, no sandbox, no database, seconds.
unit: venv
	$(BIN)/python -m pytest -q tests/unit

# ruff (lint, import order) and mypy (strict on the domain), as configured in pyproject.toml.
lint: venv
	$(BIN)/ruff check .
	$(BIN)/mypy

# The image installs exactly the versions (and hashes) of requirements.lock.  Re-run after
# changing the dependencies in pyproject.toml; `make lock LOCK_FLAGS=--upgrade` takes the
# newest releases the ranges allow.
lock: venv
	CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe \
		--strip-extras --no-emit-index-url --no-emit-find-links $(LOCK_FLAGS) \
		--output-file requirements.lock pyproject.toml

serve: venv
	$(BIN)/latchkey serve

# Benchmarks of the real `latchkey serve` against the sandboxes (bench/README.md), about 5½
# minutes; writes bench/results/results.md and plot.png.  Not part of `make test`.
bench: $(VENV)/.bench-installed
	$(BIN)/python -m bench

$(VENV)/.bench-installed: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $@

# Regenerate the README's configuration reference from bot/config/ (a test checks it is current).
docs: venv
	$(BIN)/python -m bot.docs --write README.md

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
