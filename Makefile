# Fraud-world engine — every target sets itself up (uv + the lock file) first.
SHELL := /bin/bash
PYTHON ?= python3
UV := $(PYTHON) -m uv
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
export FWE_DATA_ROOT ?= $(CURDIR)/data
PROFILE ?= small
SEED ?= 42
PYTEST_ARGS ?=

.PHONY: setup run test ui bench lint clean

setup: .venv/.synced
	@mkdir -p "$(DAGSTER_HOME)"
	@test -f "$(DAGSTER_HOME)/dagster.yaml" || cp dagster.yaml "$(DAGSTER_HOME)/dagster.yaml"

.venv/.synced: pyproject.toml uv.lock
	@$(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet "uv>=0.5"
	$(UV) sync --frozen
	@touch $@

run: setup
	$(UV) run --frozen python -m dagster_project.run_world --profile $(PROFILE) --seed $(SEED) --data-root "$(FWE_DATA_ROOT)"

test: setup
	$(UV) run --frozen pytest -q -n 2 $(PYTEST_ARGS)

ui: setup
	$(UV) run --frozen dagster dev -w workspace.yaml -p 3000

bench: setup
	$(UV) run --frozen python bench/rng.py
	$(UV) run --frozen python bench/world.py
	$(UV) run --frozen python bench/layer2.py --profiles small reference
	$(UV) run --frozen python bench/layer3_6a.py --profiles small reference
	$(UV) run --frozen python bench/layer3_6b.py --profiles small reference

lint: setup
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen lint-imports

clean:
	rm -rf .venv .pytest_cache data .dagster_home
