"""firmware/mcu/main.py's Firmware under real MicroPython: the WebAssembly port (npm
@micropython/micropython-webassembly-pyscript in .mcu-node/, see test_micropython_wasm.py)
runs tests/mcu/micropython/firmware_checks.py with the stand-in `machine` and `time` of
sim.py, written in MicroPython-compatible Python; the same script under CPython must print
the same lines (same simulated timings). Skipped, saying why, when Node or the package is
missing."""

from __future__ import annotations

import shutil
import sys

import pytest

from tests.mcu.test_micropython_wasm import INSTALL, PACKAGE, REPO, RUNNER, _run

CHECKS = REPO / "tests" / "mcu" / "micropython" / "firmware_checks.py"


@pytest.fixture(scope="module")
def micropython_lines() -> list[str]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: firmware/mcu/main.py cannot run under MicroPython "
                    "(WebAssembly) here")
    if not (PACKAGE / "micropython.mjs").is_file():
        pytest.skip(f"the MicroPython WebAssembly package is missing: {INSTALL}")
    return _run([node, str(RUNNER), str(PACKAGE), str(REPO), str(CHECKS)])


def test_main_firmware_checks_pass_under_micropython(micropython_lines):
    assert micropython_lines[0] == "impl micropython"
    oks = [line for line in micropython_lines if line.startswith("ok ")]
    assert "ok coil pin lowered first" in oks
    assert "ok stalled turn: no feed, WDT reset drops the coil" in oks
    assert len(oks) == 13
    for line in micropython_lines:
        if line.startswith("took c_to_b ") or line.startswith("took rcd "):
            assert int(line.split()[-1]) <= 100_000  # µs, IEC 61851-1 seq. 8.1


def test_main_firmware_same_timings_under_cpython(micropython_lines):
    cpython = _run([sys.executable, str(CHECKS)])
    assert cpython[0] == "impl cpython"
    assert micropython_lines[1:] == cpython[1:]
