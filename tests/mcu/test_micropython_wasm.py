"""firmware/mcu under real MicroPython: the official WebAssembly port (npm
@micropython/micropython-webassembly-pyscript, installed into .mcu-node/ by .ci/run) runs tests/mcu/micropython/checks.py with Node, and the same script runs
under CPython: same checks, same answer bytes. The host driver's codec then decodes what
the firmware sent under MicroPython. Skipped, saying why, when Node or the package is
missing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from drivers.pilot import mcu_codec as mc

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / ".mcu-node" / "node_modules" / "@micropython" / "micropython-webassembly-pyscript"
RUNNER = REPO / "tests" / "mcu" / "micropython" / "run.mjs"
CHECKS = REPO / "tests" / "mcu" / "micropython" / "checks.py"
INSTALL = ("npm install --prefix .mcu-node "
           "@micropython/micropython-webassembly-pyscript@1.27.0")


def _run(argv: list[str]) -> list[str]:
    # this checkout's firmware/mcu, never one an installed package points at
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done.stdout.splitlines()


@pytest.fixture(scope="module")
def micropython_lines() -> list[str]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: firmware/mcu cannot run under MicroPython "
                    "(WebAssembly) here")
    if not (PACKAGE / "micropython.mjs").is_file():
        pytest.skip(f"the MicroPython WebAssembly package is missing: {INSTALL}")
    return _run([node, str(RUNNER), str(PACKAGE), str(REPO), str(CHECKS)])


def test_firmware_checks_pass_under_micropython(micropython_lines):
    assert micropython_lines[0] == "impl micropython"
    oks = [line for line in micropython_lines if line.startswith("ok ")]
    assert "ok C->B opens within 100 ms" in oks and "ok host silence drops the offer" in oks
    assert len(oks) >= 15


def test_micropython_and_cpython_agree(micropython_lines):
    cpython = _run([sys.executable, str(CHECKS)])
    assert cpython[0] == "impl cpython"
    assert micropython_lines[1:] == cpython[1:]


def test_host_codec_decodes_what_the_firmware_sent_under_micropython(micropython_lines):
    [wire] = [line[5:] for line in micropython_lines if line.startswith("wire ")]
    decoder = mc.FrameDecoder()
    frames = decoder.feed(bytes.fromhex(wire))
    assert decoder.errors == 0
    acks = [f for f in frames if f.kind == mc.MSG_ACK]
    assert [a.payload for a in acks] == [bytes([0, mc.ACK_OK]), bytes([1, mc.ACK_OK]),
                                         bytes([2, mc.ACK_OK])]
    [version] = [mc.decode_version(f.payload) for f in frames if f.kind == mc.MSG_VERSION]
    assert version.major == mc.PROTOCOL_MAJOR
    [state] = [mc.decode_state(f.payload) for f in frames if f.kind == mc.MSG_STATE]
    assert state.offered_da == 160 and not state.contactor and not state.energy_allowed
