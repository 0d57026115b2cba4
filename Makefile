# The two commands: `make run` and `make test`. Both bootstrap .venv on first use.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint bench fuzz replay clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Tempodesk needs Python 3.11+; found " + sys.version.split()[0])'
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/tempodesk dev

# Two processes (pytest-xdist), each a file at a time: most tests wait on servers and
# timers, so two share two cores well (docs/operations.md, "The suite").
PYTEST_WORKERS ?= 2

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports  # the import rules (.importlinter, docs/architecture.md)
	$(VENV)/bin/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

bench: $(STAMP)
	$(VENV)/bin/python bench/sla_bench.py
	$(VENV)/bin/python bench/intake_bench.py
	$(VENV)/bin/python bench/email_bench.py
	$(VENV)/bin/python bench/files_bench.py
	$(VENV)/bin/python bench/pages_bench.py
	$(VENV)/bin/python bench/revoke_bench.py
	$(VENV)/bin/python bench/preview_bench.py
	$(VENV)/bin/python bench/drill_worker_kill.py
	$(VENV)/bin/python bench/drill_cluster.py
	$(VENV)/bin/python bench/scale_bench.py

fuzz: $(STAMP)
	TEMPODESK_FUZZ_RANDOM=1 TEMPODESK_FUZZ_EXAMPLES=200 $(VENV)/bin/python -m pytest tests/test_fuzz_api.py

# The HTTP tests on workers that cache no ticket: every task replays the ticket's whole
# history, and updates arrive in one task with the result before them (as after any cache
# miss). The route matrix is left out: its concurrent queries to one uncached ticket time out.
replay: $(STAMP)
	TEMPODESK_MAX_CACHED_WORKFLOWS=0 $(VENV)/bin/python -m pytest tests/web \
		--deselect tests/web/test_security_matrix.py::test_route_matrix

clean:
	rm -rf $(VENV) .data .pytest_cache .hypothesis .ruff_cache .import_linter_cache .grimp_cache *.egg-info
