# Asman — the two commands: `make run` and `make test`.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
export UV_PROJECT_ENVIRONMENT := $(VENV)
DOCKER_DIR ?= /tmp/asman-docker

.PHONY: install run test test-unit lint bench clean

$(BIN)/asman: pyproject.toml uv.lock
	@command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet uv
	uv sync --frozen --all-extras
	@touch $(BIN)/asman

install: $(BIN)/asman

run: install
	bash scripts/run-local.sh

test: install
	bash scripts/test.sh

test-unit: install
	$(BIN)/pytest tests/unit -q

lint: install
	$(BIN)/ruff check src tests bench scripts docs/examples
	$(BIN)/ruff format --check src tests bench scripts docs/examples
	$(BIN)/mypy
	$(BIN)/python scripts/unasync.py --check

bench: install
	bash scripts/bench.sh

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
