# `make demo` and `make test` work on a fresh machine with only Python 3.11+:
# each creates the virtual environment it needs on first use.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: demo test serve docs venv clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

demo: venv
	$(BIN)/latchkey demo

test: venv
	$(BIN)/python -m pytest -q

serve: venv
	$(BIN)/latchkey serve

# Regenerate the README's configuration reference from bot/config.py (a test checks it is current).
docs: venv
	$(BIN)/python -m bot.docs --write README.md

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
