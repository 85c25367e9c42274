# The two commands: `make run` (the dev stack of DESIGN.md) and `make test` (everything CI checks).
# Each first runs deploy/install-deps.sh, which installs only what is missing and is quick when nothing is.

VENV := .venv
BIN  := $(VENV)/bin

.PHONY: run test lint bench clean deps deps-test

run: deps
	$(BIN)/python -m intrablog.devstack

test: deps-test
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest

lint: deps-test
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# Every benchmark under bench/ at full size, one table of ratios against raw baselines (also as JSON).
bench: deps-test
	$(BIN)/python -m bench

deps:
	bash deploy/install-deps.sh

deps-test:
	bash deploy/install-deps.sh --test

# Removes caches, build output and the dev stack's data (var/); keeps .venv (rm -rf .venv to rebuild it).
clean:
	rm -rf var build test-artifacts .pytest_cache .mypy_cache .ruff_cache .hypothesis *.egg-info
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -exec rm -rf {} +
