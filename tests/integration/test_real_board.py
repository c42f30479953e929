"""The real agent on real drivers: a board config written from board_configs/README.md
alone, whose devices are peers on pseudo-terminals (tests/integration/peers): a PN532,
an OpenEVSE controller with an EV, an SDM630 served by pymodbus, a reader printing
reversed UIDs, and a GPIO contactor whose mirror contact the test plays on the sim
GPIO chip. What must come out is checked at the CSMS (DevCsms)."""

from __future__ import annotations

import asyncio

import pytest

from tests.integration.agent import RunningAgent, running_agent, write_site
from tests.integration.peers.modbus import cycle_values
from tests.integration.peers.rig import Rig, peer_rig

# A real agent with several ptys and sequential waits of up to 15-20 s each: on a loaded
# CI machine the whole test may take longer than the suite's 60 s hang guard.
pytestmark = pytest.mark.timeout(240)

COIL_PIN, FEEDBACK_PIN = 17, 27
UID4 = bytes.fromhex("DEADBEEF")
UID7 = bytes.fromhex("04A2B3C4D5E6F7")

# What a charger maker writes from board_configs/README.md for this rig (ports filled in
# by the rig). Short poll intervals and timeouts keep the test quick.
BOARD = """\
[board]
name = "Test rig: OpenEVSE pilot, relay contactor with mirror, SDM630, PN532, USB reader"

[gpio]
factory = "sim"                # the test plays the contactor's mirror contact

[[connector]]
id = 1
max_current_a = 32.0
phases = 3
nominal_voltage_v = 230.0
meter_poll_interval_s = 0.2
meter_failed_reads = 3

[connector.pilot]
driver = "openevse"
port = "{openevse}"
baudrate = 115200
poll_interval_s = 0.5
timeout_s = 0.5

[connector.contactor]
driver = "gpio"
coil_pin = 17
feedback_pin = 27
feedback_timeout_s = 0.3
feedback_active_low = false
feedback_bias = "pull-up"

[connector.meter]
driver = "sdm630"
port = "{meter}"
baudrate = 9600
parity = "N"
stopbits = 1
device_id = 1
timeout_s = 0.3
retries = 0

[[reader]]
name = "front"
driver = "pn532"
port = "{pn532}"
baudrate = 115200
poll_interval_s = 0.05
debounce_s = 0.3               # the test's taps stay away 8 polls (>= 0.4 s) between cards

[[reader]]
name = "desk"
driver = "line"
port = "{line}"
baudrate = 9600
format = "hex"
uid_reversed = true            # this reader prints the UID last byte first
"""

SAMPLED = "Energy.Active.Import.Register,Power.Active.Import,Current.Import,Voltage"


@pytest.fixture
async def rig():
    async with peer_rig() as r:
        yield r


def agent_on(rig: Rig, tmp_path, csms, board: str = BOARD, **defaults):
    site = write_site(tmp_path, csms.url, board=rig.write_board(tmp_path, board),
                      defaults=defaults)
    return running_agent(site)


async def ready(cp: RunningAgent, rig: Rig, csms) -> None:
    rig.wire_contactor(cp.agent, COIL_PIN, FEEDBACK_PIN)
    await csms.wait_for("StatusNotification", lambda f: f.payload["connectorId"] == 1
                        and f.payload["status"] == "Available", timeout_s=10)


def served_energies_wh(rig: Rig) -> set[int]:
    return {round(v["energy_wh"]) for v in rig.meter.served}


def cycle_of(sampled: list[dict]) -> int:
    """The meter cycle every value of one MeterValues element comes from (one read)."""
    wanted = {(v["measurand"], v.get("phase")): float(v["value"]) for v in sampled}
    keys = {("Energy.Active.Import.Register", None): ("energy_wh", 0),
            ("Power.Active.Import", None): ("power_w", 1),
            **{("Current.Import", f"L{n}"): (f"current_l{n}_a", 2) for n in (1, 2, 3)},
            **{("Voltage", f"L{n}-N"): (f"voltage_l{n}_v", 2) for n in (1, 2, 3)}}
    assert set(wanted) == set(keys), sorted(wanted)
    for n in range(200):
        values = cycle_values(n)
        if all(round(values[name], digits) == wanted[key] for key, (name, digits) in keys.items()):
            return n
    raise AssertionError(f"no meter cycle served {wanted}")


async def test_cards_become_canonical_id_tags_and_meter_values_come_from_the_meter(
        csms, tmp_path, rig):
    async with agent_on(rig, tmp_path, csms, MeterValueSampleInterval=1,
                        MeterValuesSampledData=SAMPLED) as cp:
        await ready(cp, rig, csms)
        rig.evse.plug()
        await csms.wait_for("StatusNotification", lambda f: f.payload["status"] == "Preparing",
                            timeout_s=5)
        # A 4-byte UID on the PN532.
        await rig.pn532.tap(UID4)
        authorize = await csms.wait_for("Authorize", timeout_s=5)
        assert authorize.payload == {"idTag": "DEADBEEF"}
        start = await csms.wait_for("StartTransaction", timeout_s=5)
        assert start.payload["idTag"] == "DEADBEEF"
        assert start.payload["meterStart"] in served_energies_wh(rig)
        await csms.wait_for("StatusNotification", lambda f: f.payload["status"] == "Charging",
                            timeout_s=5)
        assert rig.contact.closed and rig.evse.ev == "C"
        # MeterValues carry one Modbus read: energy, power, 3 currents, 3 voltages.
        first = await csms.wait_for("MeterValues", timeout_s=5)
        later = await csms.wait_for("MeterValues", lambda f: f.seq > first.seq, timeout_s=5)
        cycles = [cycle_of(f.payload["meterValue"][0]["sampledValue"]) for f in (first, later)]
        assert cycles[1] > cycles[0]                     # the values moved between reads
        units = {v["measurand"]: v["unit"] for v in first.payload["meterValue"][0]["sampledValue"]}
        assert units == {"Energy.Active.Import.Register": "Wh", "Power.Active.Import": "W",
                         "Current.Import": "A", "Voltage": "V"}
        await rig.pn532.tap(UID4)
        stop = await csms.wait_for("StopTransaction", timeout_s=5)
        assert stop.payload["reason"] == "Local" and stop.payload["idTag"] == "DEADBEEF"
        assert stop.payload["meterStop"] in served_energies_wh(rig)
        assert stop.payload["meterStop"] > start.payload["meterStart"]
        await csms.wait_for("StatusNotification", lambda f: f.payload["status"] == "Finishing",
                            after=stop.seq, timeout_s=5)
        assert not rig.contact.closed
        # A 7-byte UID on the PN532 starts; the same card on the desk reader, which prints
        # it reversed, is the same idTag and stops the session without an Authorize.
        mark = csms.mark()
        await rig.pn532.tap(UID7)
        start7 = await csms.wait_for("StartTransaction", after=mark, timeout_s=5)
        assert start7.payload["idTag"] == "04A2B3C4D5E6F7"
        assert [f.payload for f in csms.messages("Authorize", after=mark)] == [
            {"idTag": "04A2B3C4D5E6F7"}]
        await csms.wait_for("StatusNotification", lambda f: f.payload["status"] == "Charging",
                            after=start7.seq, timeout_s=5)
        rig.print_uid("F7E6D5C4B3A204")
        stop7 = await csms.wait_for("StopTransaction", after=mark, timeout_s=5)
        assert stop7.payload["idTag"] == "04A2B3C4D5E6F7" and stop7.payload["reason"] == "Local"
        assert len(csms.messages("Authorize", after=mark)) == 1


async def test_a_silent_meter_raises_power_meter_failure_after_the_configured_reads(
        csms, tmp_path, rig):
    async with agent_on(rig, tmp_path, csms) as cp:
        await ready(cp, rig, csms)
        hardware = cp.agent.runtime.hardware[1]
        failures_when_faulted: list[int] = []

        def watch(effects) -> None:
            if not failures_when_faulted and cp.station.connectors[1].status() == "Faulted":
                failures_when_faulted.append(hardware.meter_failures)

        cp.agent.runtime.observe(watch)
        mark = csms.mark()
        rig.meter.silent = True
        faulted = await csms.wait_for("StatusNotification", lambda f: f.payload["status"] ==
                                      "Faulted", after=mark, timeout_s=10)
        assert faulted.payload["errorCode"] == "PowerMeterFailure"
        assert faulted.payload["vendorErrorCode"] == "MeterNoAnswer"
        assert failures_when_faulted == [3]              # meter_failed_reads = 3
        # The technician sees why.
        reply = await cp.agent.console.execute("test meter 1")
        assert len(reply) == 1 and reply[0].startswith("ERROR: connector 1 meter (modbus-sdm630")
        assert "no valid answer" in reply[0]
        meter_line = next(line for line in await cp.console("hw") if line.startswith("meter "))
        assert "no valid answer" in meter_line and "failed_reads=" in meter_line
        # A new session is refused while the meter is lost.
        rig.evse.plug()
        await rig.pn532.tap(UID4)
        await cp.until(lambda: len(cp.agent.runtime.decisions) >= 1)
        assert cp.agent.runtime.decisions[-1].why == "no-free-connector"
        assert csms.messages("StartTransaction", after=mark) == []
        rig.evse.unplug()
        # It answers again: the fault clears at the next good reading.
        rig.meter.silent = False
        cleared = await csms.wait_for("StatusNotification", lambda f: f.payload["errorCode"] ==
                                      "NoError", after=faulted.seq, timeout_s=10)
        assert cleared.payload["status"] == "Available"


async def test_a_contactor_that_does_not_pull_in_faults_until_a_technician_test_passes(
        csms, tmp_path, rig):
    async with agent_on(rig, tmp_path, csms) as cp:
        await ready(cp, rig, csms)
        rig.contact.pulls_in = False                     # coil supply lost
        rig.evse.plug()
        await rig.pn532.tap(UID4)
        await csms.wait_for("StartTransaction", timeout_s=5)
        faulted = await csms.wait_for("StatusNotification", lambda f: f.payload["status"] ==
                                      "Faulted", timeout_s=5)
        assert faulted.payload["errorCode"] == "PowerSwitchFailure"
        assert faulted.payload["vendorErrorCode"] == "ContactorNoPullIn"
        assert not cp.agent.board.gpio.level(COIL_PIN)   # the coil was switched off again
        await cp.until(lambda: rig.evse.ev == "B")       # the offer was withdrawn
        # While plugged in, the technician test is refused.
        reply = await cp.agent.console.execute("test contactor 1")
        assert reply[0].startswith("ERROR: connector 1: refused: a vehicle is plugged in")
        # A contactor fault ends the session's right to energy: stopped as Other, never
        # EVDisconnected while the EV is still plugged in (issue #8 A, 5).
        stop = await csms.wait_for("StopTransaction", timeout_s=5)
        assert stop.payload["reason"] == "Other"
        rig.evse.unplug()
        # Plug again and tap another card: refused, the connector stays Faulted.
        mark = csms.mark()
        rig.evse.plug()
        await rig.pn532.tap(UID7)
        await cp.until(lambda: any(d.id_tag == "04A2B3C4D5E6F7"
                                   for d in cp.agent.runtime.decisions))
        refused = [d for d in cp.agent.runtime.decisions if d.id_tag == "04A2B3C4D5E6F7"]
        assert [(d.accepted, d.why) for d in refused] == [(False, "no-free-connector")]
        assert csms.messages("StartTransaction", after=mark) == []
        assert cp.station.connectors[1].status() == "Faulted"
        # Repaired and tested by the technician: the fault clears, sessions start again.
        rig.evse.unplug()
        await cp.until(lambda: cp.station.connectors[1].pilot.value == "A")
        rig.contact.pulls_in = True
        lines = await cp.console("test contactor 1")
        assert lines[-1] == "connector 1: contactor fault ContactorNoPullIn cleared"
        assert rig.contact.switches >= 2 and not rig.contact.closed
        await csms.wait_for("StatusNotification", lambda f: f.payload["status"] == "Available"
                            and f.payload["errorCode"] == "NoError", after=mark, timeout_s=5)
        rig.evse.plug()
        await rig.pn532.tap(UID7)
        start = await csms.wait_for("StartTransaction", after=mark, timeout_s=5)
        assert start.payload["idTag"] == "04A2B3C4D5E6F7"
        await csms.wait_for("StatusNotification", lambda f: f.payload["status"] == "Charging",
                            after=start.seq, timeout_s=5)
        assert rig.contact.closed


async def test_technician_diagnostics_on_real_drivers(csms, tmp_path, rig):
    async with agent_on(rig, tmp_path, csms) as cp:
        await ready(cp, rig, csms)
        lines = await cp.console("hw")
        assert lines[0].startswith('board "Test rig: OpenEVSE pilot, relay contactor') and \
            lines[0].endswith("board.toml gpio=sim")
        lines = lines[1:]
        by_role = {}
        for line in lines:
            by_role.setdefault(line.split()[0], []).append(line)
        assert f'port="{rig.ports["openevse"]} 115200 8N1"' in by_role["pilot"][0]
        assert "backend=openevse" in by_role["pilot"][0]
        contactor = by_role["contactor"][0]
        assert "backend=gpio" in contactor and "line 17" in contactor and "line 27" in contactor
        assert f'port="{rig.ports["meter"]} 9600 8N1 id 1"' in by_role["meter"][0]
        assert "backend=modbus-sdm630" in by_role["meter"][0]
        assert [line.split()[1] for line in by_role["rfid"]] == ["front:", "desk:"]
        assert "backend=pn532" in by_role["rfid"][0] and "backend=line" in by_role["rfid"][1]
        assert all("last_error=-" in line for line in lines), lines
        # test meter: one read, every value with its unit, straight from the meter.
        before = len(rig.meter.served)
        lines = await cp.console("test meter 1")
        values = dict(line.split(" = ", 1) for line in lines[1:])
        served = [cycle_values(n) for n in range(before, len(rig.meter.served))]
        assert any(values["energy_wh"].startswith(f"{v['energy_wh']:.1f} Wh") and
                   values["power_w"] == f"{v['power_w']:.1f} W" and
                   values["current_l1_a"] == f"{v['current_l1_a']:.3f} A" and
                   values["voltage_l3_v"] == f"{v['voltage_l3_v']:.2f} V" for v in served), values
        assert values["frequency_hz"] == "50.00 Hz"
        # test rfid: the card is shown, not presented to the station.
        mark = csms.mark()
        lines = await run_test_rfid(cp, lambda: rig.pn532.tap(UID7))
        assert lines[0] == "reader front (ISO14443A): raw ATQA=0044 SAK=00 UID=04A2B3C4D5E6F7"
        assert lines[2].startswith("idTag 04A2B3C4D5E6F7 ")
        lines = await run_test_rfid(cp, lambda: rig.print_uid("EFBEADDE"))
        assert lines[0] == "reader desk (ISO14443A): raw EFBEADDE"
        assert lines[1] == "uid bytes EFBEADDE (4 bytes, as read)"
        assert lines[2].startswith("idTag DEADBEEF ")          # uid_reversed applied
        assert csms.messages("Authorize", after=mark) == []
        assert list(cp.agent.runtime.decisions) == []
        # test contactor on the GPIO contactor: closes and opens through the mirror.
        lines = await cp.console("test contactor 1")
        assert len(lines) == 2 and rig.contact.switches == 2 and not rig.contact.closed


async def run_test_rfid(cp: RunningAgent, present) -> list[str]:
    waiting = asyncio.create_task(cp.agent.console.execute("test rfid 30"))
    try:
        async with asyncio.timeout(20):  # deadlines for a hang, not measures
            while not any(r.diverting for r in cp.agent.readers):
                await asyncio.sleep(0.01)
        presented = present()
        if presented is not None:
            await presented
        reply = await asyncio.wait_for(waiting, 20)
    finally:
        waiting.cancel()
    assert reply[-1] == "OK", reply
    return reply[:-1]


# The Pi 4 layout of board_configs/pi4-openevse-sdm630-pn532.toml: the OpenEVSE
# controller switches its own relay (contactor driver "openevse" on the pilot's port).
BOARD_OPENEVSE_RELAY = """\
[board]
name = "Test rig: OpenEVSE with its own relay, SDM630, PN532"

[[connector]]
id = 1
max_current_a = 32.0
meter_poll_interval_s = 0.2

[connector.pilot]
driver = "openevse"
port = "{openevse}"
poll_interval_s = 0.5
timeout_s = 0.5

[connector.contactor]
driver = "openevse"            # the controller's own relay: same port, same settings
port = "{openevse}"
poll_interval_s = 0.5
timeout_s = 0.5
feedback_timeout_s = 1.0

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


async def test_openevse_relay_view_charges_and_cannot_be_self_tested(csms, tmp_path, rig):
    site = write_site(tmp_path, csms.url,
                      board=rig.write_board(tmp_path, BOARD_OPENEVSE_RELAY, "pi4.toml"))
    async with running_agent(site) as cp:
        await csms.wait_for("StatusNotification", lambda f: f.payload["connectorId"] == 1
                            and f.payload["status"] == "Available", timeout_s=10)
        reply = await cp.agent.console.execute("test contactor 1")
        assert reply == ["ERROR: connector 1: not supported: the OpenEVSE controller closes "
                         "its own relay only for an EV in state C: test it with an EV "
                         "simulator on the socket"]
        rig.evse.plug()
        await rig.pn532.tap(UID4)
        start = await csms.wait_for("StartTransaction", timeout_s=5)
        assert start.payload["idTag"] == "DEADBEEF"
        await csms.wait_for("StatusNotification", lambda f: f.payload["status"] == "Charging",
                            timeout_s=5)
        assert rig.evse.status_fields()[3] == "0140"     # EV connected, relay closed
        rig.evse.unplug()
        stop = await csms.wait_for("StopTransaction", timeout_s=5)
        assert stop.payload["reason"] == "EVDisconnected"
        await cp.until(lambda: not cp.station.connectors[1].contactor_closed)
        # The $FS goes out from the connector's hardware worker: wait for the peer to get it.
        await rig.evse.wait_until(lambda: rig.evse.sleeping)  # offer withdrawn ($FS)


async def test_a_silent_controller_faults_the_connector_until_it_answers_again(
        csms, tmp_path, rig):
    quick = BOARD.replace("poll_interval_s = 0.5\ntimeout_s = 0.5",
                          "poll_interval_s = 0.2\ntimeout_s = 0.2\nmax_missed_polls = 2")
    assert quick != BOARD
    async with agent_on(rig, tmp_path, csms, board=quick) as cp:
        await ready(cp, rig, csms)
        mark = csms.mark()
        rig.evse.silent = True
        faulted = await csms.wait_for("StatusNotification", lambda f: f.payload["status"] ==
                                      "Faulted", after=mark, timeout_s=10)
        assert faulted.payload["vendorErrorCode"] == "PilotLinkLost"
        rig.evse.silent = False
        cleared = await csms.wait_for("StatusNotification", lambda f: f.payload["status"] ==
                                      "Available", after=faulted.seq, timeout_s=10)
        assert cleared.payload["errorCode"] == "NoError"


async def test_openevse_relay_that_does_not_close_stays_faulted_until_unplugged(
        csms, tmp_path, rig):
    site = write_site(tmp_path, csms.url,
                      board=rig.write_board(tmp_path, BOARD_OPENEVSE_RELAY, "pi4.toml"))
    async with running_agent(site) as cp:
        await csms.wait_for("StatusNotification", lambda f: f.payload["connectorId"] == 1
                            and f.payload["status"] == "Available", timeout_s=10)
        rig.evse.relay_can_close = False
        rig.evse.plug()
        await rig.pn532.tap(UID4)
        faulted = await csms.wait_for("StatusNotification", lambda f: f.payload["status"] ==
                                      "Faulted", timeout_s=5)
        assert faulted.payload["vendorErrorCode"] == "ContactorNoPullIn"
        # The idle relay agrees with "open", but that says nothing about closing: the
        # connector must not re-offer and fault again while the vehicle stays.
        await checked_twice(cp)
        assert cp.station.connectors[1].status() == "Faulted"
        assert csms.messages("StatusNotification", after=faulted.seq + 1) == []
        rig.evse.unplug()
        await csms.wait_for("StatusNotification", lambda f: f.payload["status"] == "Available",
                            after=faulted.seq, timeout_s=5)


async def checked_twice(cp: RunningAgent, connector_id: int = 1) -> None:
    """Wait until the runtime's periodic contactor check has run twice more (the real
    check runs; it is only counted)."""
    contactor = cp.agent.runtime.hardware[connector_id].contactor
    original = contactor.check
    passes: asyncio.Queue = asyncio.Queue()

    async def counted() -> None:
        await original()
        passes.put_nowait(None)

    contactor.check = counted
    try:
        async with asyncio.timeout(5):
            for _ in range(2):
                await passes.get()
    finally:
        del contactor.check


@pytest.mark.parametrize("code, error_code", [(0x06, "GroundFailure"),
                                              (0x0A, "HighTemperature"),
                                              (0x0B, "OverCurrentFailure")])
async def test_a_controller_fault_during_a_charge_reaches_the_csms_as_itself_issue_8_item_5(
        csms, tmp_path, rig, code, error_code):
    """GFCI trip, over-temperature, over-current: reported when they happen with their own
    errorCode and the controller's code; the session ends as Other, never EVDisconnected
    while the EV is still plugged ([16] §7.6, §7.7)."""
    site = write_site(tmp_path, csms.url,
                      board=rig.write_board(tmp_path, BOARD_OPENEVSE_RELAY, "pi4.toml"))
    async with running_agent(site):
        await csms.wait_for("StatusNotification", lambda f: f.payload["connectorId"] == 1
                            and f.payload["status"] == "Available", timeout_s=10)
        rig.evse.plug()
        await rig.pn532.tap(UID4)
        await csms.wait_for("StatusNotification", lambda f: f.payload["status"] == "Charging",
                            timeout_s=5)
        mark = csms.mark()
        rig.evse.set_fault(code)
        faulted = await csms.wait_for("StatusNotification", lambda f: f.payload["status"] ==
                                      "Faulted", after=mark, timeout_s=5)
        assert faulted.payload["errorCode"] == error_code
        assert faulted.payload["vendorErrorCode"] == f"OpenEVSE {code:02X}"
        stop = await csms.wait_for("StopTransaction", after=mark, timeout_s=5)
        assert stop.payload["reason"] == "Other"
        rig.evse.set_fault(None)
        rig.evse.unplug()
        await csms.wait_for("StatusNotification", lambda f: f.payload["status"] == "Available"
                            and f.payload["errorCode"] == "NoError", after=stop.seq,
                            timeout_s=5)
