# landtwin: the two commands of the README are `make demo` and `make test`.
# Both set everything up first (idempotent: a second run only checks stamps).

PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
NODE_DIRS := viewer/web tools/validators
PYTEST_ARGS ?=

.PHONY: setup demo test lint system-deps node clean-data help

help:
	@echo "make demo   - set up, build the sample district and serve it at http://127.0.0.1:8000"
	@echo "make test   - set up (incl. system packages when root) and run the whole test suite"

$(STAMP): pyproject.toml Makefile
	@command -v uv >/dev/null 2>&1 || $(PY) -m pip install --quiet --disable-pip-version-check uv
	@test -x $(BIN)/python || uv venv --quiet -p $(PY) $(VENV)
	uv pip install --quiet --compile-bytecode -p $(BIN)/python -e '.[dev]'
	@touch $(STAMP)

node:
	@for d in $(NODE_DIRS); do \
	  if [ -f $$d/package.json ]; then \
	    if [ ! -d $$d/node_modules ] || [ $$d/package-lock.json -nt $$d/node_modules/.stamp ]; then \
	      (cd $$d && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.stamp) || exit 1; \
	    fi; \
	    if grep -q '"build"' $$d/package.json; then (cd $$d && npm run --silent build) || exit 1; fi; \
	  fi; \
	done

setup: $(STAMP) node

system-deps:
	@bash scripts/system-deps.sh

demo: setup
	$(BIN)/twin demo

lint: setup
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy

test: system-deps setup lint
	bash scripts/run-tests.sh $(PYTEST_ARGS)
