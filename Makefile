# Two commands do all setup on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
STAMP := $(VENV)/.installed

.PHONY: venv demo run test test-reliability lint lock spec-doc clean

venv: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip sync --quiet --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $(STAMP)

# Re-resolve every pin after changing pyproject.toml.
lock: $(BIN)/python
	$(BIN)/uv pip compile --python-version 3.11 pyproject.toml --extra dev \
		-o requirements.lock --no-header --no-annotate

demo: venv
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python scripts/demo.py

# Any spec through Airflow for one day: make run SPEC=path/to/spec.yaml DS=2026-11-30
run: venv
	@test -n "$(SPEC)" -a -n "$(DS)" || { echo "usage: make run SPEC=<spec.yaml> DS=<YYYY-MM-DD>"; exit 2; }
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python scripts/run_pipeline.py --spec "$(SPEC)" --ds "$(DS)"

lint: venv
	$(BIN)/ruff check dags plugins tasks tests bench scripts
	$(BIN)/ruff format --check dags plugins tasks tests bench scripts
	$(BIN)/mypy dags plugins/retune tasks bench scripts

test: venv lint
	PATH="$(CURDIR)/$(BIN):$$PATH" scripts/with_test_mysql.sh scripts/run_tests.sh

# The fault-injection, hostile-input and security suite alone (also part of `make test`),
# printing each case's figures (also kept in var/reliability/results.jsonl).
test-reliability: venv
	set -o pipefail; PATH="$(CURDIR)/$(BIN):$$PATH" scripts/with_test_mysql.sh \
		$(BIN)/pytest -rA tests/reliability | grep -E '^reliability:|passed|failed|skipped|error'

# docs/spec.md from the spec models (tests/unit/test_spec_reference.py fails while it is stale).
spec-doc: venv
	$(BIN)/python scripts/spec_reference.py

clean:
	rm -rf $(VENV) var
