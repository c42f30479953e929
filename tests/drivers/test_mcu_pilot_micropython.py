"""The borne_mcu host driver against the MCU firmware running under real MicroPython (the
WebAssembly port in Node) on the far end of a pty: a charge closes the contactor, host
silence opens it within the MCU's keep-alive timeout, an RCD trip is a GroundFailure.
Skipped, saying why, when Node or the package is missing (.ci/run installs it)."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from drivers.pilot.mcu_pilot import CONTACTOR_SPEC, PILOT_SPEC
from drivers.registry import BuildContext
from firmware.mcu import protocol as fw
from hal.interfaces import PilotState
from hal.options import validate_table
from tests.drivers.mcu_wasm_peer import WasmMcu, skip_reason

pytestmark = [pytest.mark.skipif(skip_reason() is not None, reason=str(skip_reason())),
              pytest.mark.timeout(120)]
WAIT_S = 30.0
KEEPALIVE_TIMEOUT_MS = 2000      # firmware/mcu SafetyController's default


def build(spec, path, shared, **kw):
    options = {"port": path, "keepalive_interval_s": 0.2, "silence_timeout_s": 3.0, **kw}
    values, problems = validate_table(options, spec.options, f"connector[1].{spec.role}")
    assert not problems, problems
    return spec.build(BuildContext(name=f"connector 1 {spec.role}", connector_id=1,
                                   shared=shared), values)


@contextlib.asynccontextmanager
async def micropython_mcu(peer):
    sim = WasmMcu(peer)
    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(sim.run())
        try:
            async with asyncio.timeout(WAIT_S):
                while sim.turns == 0:                # node and the wasm module are up
                    await asyncio.sleep(0.05)
            yield sim
        finally:
            task.cancel()


async def until(predicate, timeout_s=WAIT_S):
    async with asyncio.timeout(timeout_s):
        while not predicate():
            await asyncio.sleep(0.01)


async def next_of(stream, timeout_s=WAIT_S):
    async with asyncio.timeout(timeout_s):
        return await anext(stream)


async def test_charge_host_silence_and_rcd_against_micropython(peer):
    async with micropython_mcu(peer) as mcu:
        shared: dict = {}
        pilot = build(PILOT_SPEC, peer.path, shared)
        contactor = build(CONTACTOR_SPEC, peer.path, shared, feedback_timeout_s=10.0)
        await asyncio.wait_for(pilot.open(), WAIT_S)      # version check and self-test
        await contactor.open()
        try:
            assert pilot.link.version.firmware and pilot.link.version.major == 1
            states, faults = pilot.states(), pilot.faults()
            assert await next_of(states) is PilotState.A
            assert await next_of(faults) is None
            mcu.ev = "B"
            assert await next_of(states) is PilotState.B
            await pilot.offer(16.0)
            mcu.ev = "C"
            await asyncio.wait_for(contactor.close_contactor(), WAIT_S)
            assert mcu.coil and contactor.is_closed
            # RCD: the MCU opens by itself; the host reports GroundFailure
            mcu.rcd = True
            fault = await next_of(faults)
            assert fault is not None and fault.error_code == "GroundFailure"
            await until(lambda: not mcu.coil)
            mcu.rcd = False
            assert await next_of(faults) is None
            await asyncio.wait_for(contactor.close_contactor(), WAIT_S)   # a new request
            assert mcu.coil
            # the host falls silent: the MCU opens within its keep-alive timeout
            mcu.deaf = True
            await until(lambda: not mcu.coil)
            assert mcu.opened_at_ms[-1] - mcu.last_host_rx_ms <= KEEPALIVE_TIMEOUT_MS + 100
            assert mcu.faults & fw.FAULT_HOST_SILENT
            mcu.deaf = False
        finally:
            await contactor.close()
            await pilot.close()
