# `make demo` and `make test` work on a fresh machine with only Python 3.11+:
# each creates the virtual environment it needs on first use.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: demo test serve docs bench venv clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

demo: venv
	$(BIN)/latchkey demo

# Most tests wait on sockets, not the CPU: four workers roughly halve the time on 2 cores.
# The crash, replica and fault tests time real processes, so they run on their own afterwards.
test: venv
	$(BIN)/python -m pytest -q -n 4 --ignore=tests/resilience
	$(BIN)/python -m pytest -q tests/resilience

serve: venv
	$(BIN)/latchkey serve

# Benchmarks of the real `latchkey serve` against the sandboxes (bench/README.md), about 5
# minutes; writes bench/results/results.md and plot.png.  Not part of `make test`.
bench: $(VENV)/.bench-installed
	$(BIN)/python -m bench

$(VENV)/.bench-installed: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $@

# Regenerate the README's configuration reference from bot/config.py (a test checks it is current).
docs: venv
	$(BIN)/python -m bot.docs --write README.md

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
