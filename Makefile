# One command each: `make run` (quick start), `make test` (whole suite), `make bench`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-fast lint bench migration clean

# The compiled modules are rebuilt when their sources change (gateway/compiled.py).
COMPILED := $(shell sed -n 's/^    "\(gateway\/.*\.py\)",$$/\1/p' gateway/compiled.py)

$(STAMP): pyproject.toml setup.py $(COMPILED)
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) (or PYTHON=python3 make ...)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test,speed]"
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/ewg db upgrade
	$(VENV)/bin/ewg serve --demo

test: $(STAMP)
	bash scripts/test-all

test-fast: $(STAMP)
	$(VENV)/bin/pytest -q -m "not slow"

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: $(STAMP)
	bash bench/run-all

# Developers: regenerate the initial migration from the models (before the first release only).
migration: $(STAMP)
	rm -f /tmp/ewg-alembic-gen.db
	$(VENV)/bin/alembic -x url=sqlite+aiosqlite:////tmp/ewg-alembic-gen.db upgrade head
	$(VENV)/bin/alembic revision --autogenerate -m "$(MSG)"

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis
