# Borne: two commands on a fresh machine (make run, make test); make bench for the figures.
# Every target bootstraps .venv itself from the pinned dependencies in pyproject.toml.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test lint bench chaos check-config clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

# Development CSMS on 127.0.0.1:9000 plus the agent on the simulated board; console on this terminal.
# OCPP=2.0.1 runs the agent on a copy of dev/site.toml saying protocol = "ocpp2.0.1" (default: the
# file's own protocol, ocpp1.6); the CSMS speaks both.
OCPP ?=
run: $(STAMP)
	$(PY) -m devcsms.devrun --config dev/site.toml $(if $(OCPP),--ocpp $(OCPP))

test: $(STAMP) lint
	$(PY) -m pytest

# Static checks (part of make test): ruff's small bug-finding rule set on everything,
# mypy strict on firmware/core and hal (pyproject.toml [tool.ruff], [tool.mypy]).
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

bench: $(STAMP)
	$(PY) -m bench

chaos: $(STAMP)
	BORNE_CHAOS_CYCLES=$${BORNE_CHAOS_CYCLES:-200} $(PY) -m pytest -m chaos -s tests/chaos

check-config: $(STAMP)
	$(VENV)/bin/borne check-config --config dev/site.toml

clean:
	rm -rf $(VENV) .dev bench-results.json
