"""The real agent on the Pi + Pico board (board_configs/pi5-pico-mcu-sdm630-pn532.toml): the
pilot and contactor are the borne_mcu driver, and on the far end of its pty runs the MCU
firmware's own logic (firmware/mcu McuApp + SafetyController in CPython, tests/drivers/
mcu_peer.py) with a simulated EV. What must come out is checked at the CSMS (DevCsms)."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from tests.drivers.mcu_peer import SimulatedMcu
from tests.drivers.ptys import LinkedPtys, PtyPeer
from tests.integration.agent import running_agent, write_site
from tests.integration.peers.modbus import Sdm630Peer
from tests.integration.peers.pn532 import Pn532Peer

pytestmark = pytest.mark.timeout(240)     # a real agent and several ptys on a loaded machine

UID4 = bytes.fromhex("DEADBEEF")

BOARD = """\
[board]
name = "Test rig: Pico safety MCU, SDM630, PN532"

[[connector]]
id = 1
max_current_a = 32.0
meter_poll_interval_s = 0.2

[connector.pilot]
driver = "borne_mcu"
port = "{mcu}"
baudrate = 115200
keepalive_interval_s = 0.2
silence_timeout_s = 1.5
fault_clear_s = 0.5

[connector.contactor]
driver = "borne_mcu"           # the contactor the MCU switches: same port, same link keys
port = "{mcu}"
baudrate = 115200
keepalive_interval_s = 0.2
silence_timeout_s = 1.5
feedback_timeout_s = 5.0

[connector.meter]
driver = "sdm630"
port = "{meter}"
timeout_s = 0.3

[[reader]]
name = "front"
driver = "pn532"
port = "{pn532}"
poll_interval_s = 0.05
debounce_s = 0.3
"""


@contextlib.asynccontextmanager
async def mcu_rig(tmp_path):
    mcu_pty, pn532_pty = PtyPeer(), PtyPeer()
    link = LinkedPtys()
    meter = Sdm630Peer(link)
    mcu = SimulatedMcu(mcu_pty)
    pn532 = Pn532Peer(pn532_pty)
    board = tmp_path / "pico.toml"
    board.write_text(BOARD.format(mcu=mcu_pty.path, meter=meter.port, pn532=pn532_pty.path))
    try:
        await meter.start()
        async with asyncio.TaskGroup() as tasks:
            peers = [tasks.create_task(mcu.run()), tasks.create_task(pn532.run())]
            try:
                yield mcu, pn532, board
            finally:
                for task in peers:
                    task.cancel()
    finally:
        await meter.stop()
        link.close()
        for pty in (mcu_pty, pn532_pty):
            pty.close()


async def ev_asks_once_offered(mcu: SimulatedMcu) -> None:
    """The EV: plugged in (B), asks for energy (C) as soon as the PWM offers some."""
    async with asyncio.timeout(20):
        while mcu.ctl.offer_da == 0:
            await asyncio.sleep(0.01)
    mcu.ev = "C"


async def charging(csms, mcu, pn532):
    await csms.wait_for("StatusNotification", lambda f: f.payload["connectorId"] == 1
                        and f.payload["status"] == "Available", timeout_s=15)
    mcu.ev = "B"
    asks = asyncio.create_task(ev_asks_once_offered(mcu))
    await pn532.tap(UID4)
    start = await csms.wait_for("StartTransaction", timeout_s=10)
    await asks
    await csms.wait_for("StatusNotification", lambda f: f.payload["status"] == "Charging",
                        timeout_s=10)
    return start


async def test_agent_charges_through_the_mcu_and_the_ev_ends_it(csms, tmp_path):
    async with mcu_rig(tmp_path) as (mcu, pn532, board):
        async with running_agent(write_site(tmp_path, csms.url, board=board)) as cp:
            start = await charging(csms, mcu, pn532)
            assert start.payload["idTag"] == "DEADBEEF"
            assert mcu.ctl.contactor and mcu.ctl.offer_da == 320     # the connector's 32 A
            mcu.ev = "A"                                             # unplugged
            stop = await csms.wait_for("StopTransaction", timeout_s=10)
            assert stop.payload["reason"] == "EVDisconnected"
            assert not mcu.ctl.contactor
            await cp.until(lambda: not cp.station.connectors[1].contactor_closed)


@pytest.mark.parametrize("fault, error_code, vendor", [
    ("rcd", "GroundFailure", "McuRcd"),
    ("welded", "PowerSwitchFailure", "McuMirror"),
    ("diode", "EVCommunicationError", "McuDiode"),
    ("pilot_e", "EVCommunicationError", "McuPilotE"),
    ("host_silent", "OtherError", "McuHostSilent"),
])
async def test_an_mcu_fault_during_a_charge_reaches_the_csms_with_its_error_code(
        csms, tmp_path, fault, error_code, vendor):
    async with mcu_rig(tmp_path) as (mcu, pn532, board):
        async with running_agent(write_site(tmp_path, csms.url, board=board)):
            await charging(csms, mcu, pn532)
            mark = csms.mark()
            if fault == "rcd":
                mcu.rcd = True
            elif fault == "welded":
                mcu.welded = True       # the mirror stays closed once the MCU opens the coil
                mcu.ev = "B"
            elif fault == "diode":
                mcu.diode_ok = False    # the PWM's low phase no longer reaches -12 V
            elif fault == "pilot_e":
                mcu.ev = "E"            # CP shorted to PE
            else:
                mcu.deaf = True         # the MCU stops hearing the Pi (its RX wire broke)
            faulted = await csms.wait_for(
                "StatusNotification", lambda f: f.payload["status"] == "Faulted"
                and f.payload["errorCode"] == error_code, after=mark, timeout_s=10)
            assert faulted.payload["vendorErrorCode"] == vendor
            assert not mcu.ctl.contactor                 # the MCU opened by itself
            stop = await csms.wait_for("StopTransaction", after=mark, timeout_s=10)
            assert stop.payload["reason"] == "Other"     # the EV is still plugged in


async def test_a_silent_mcu_faults_the_connector_until_it_answers_again(csms, tmp_path):
    async with mcu_rig(tmp_path) as (mcu, _, board):
        async with running_agent(write_site(tmp_path, csms.url, board=board)):
            await csms.wait_for("StatusNotification", lambda f: f.payload["connectorId"] == 1
                                and f.payload["status"] == "Available", timeout_s=15)
            mark = csms.mark()
            mcu.mute = True
            faulted = await csms.wait_for("StatusNotification", lambda f: f.payload["status"]
                                          == "Faulted", after=mark, timeout_s=15)
            assert faulted.payload["vendorErrorCode"] == "PilotLinkLost"
            mcu.mute = False
            await csms.wait_for("StatusNotification", lambda f: f.payload["status"] ==
                                "Available", after=faulted.seq, timeout_s=15)
