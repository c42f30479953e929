"""Technician diagnostics (`hw`, `test rfid`, `test meter`, `test contactor`) on the
simulated board, run through the real agent's console against a real DevCsms."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import pytest
from ocpp.v16 import call

from devcsms import DevCsms
from tests.integration.agent import RunningAgent, running_agent, write_site


@pytest.fixture
async def csms() -> AsyncIterator[DevCsms]:
    async with DevCsms(host="127.0.0.1", port=0, boot_interval_s=300) as server:
        yield server
        assert server.violations == [], "\n".join(server.violations)


async def started(cp: RunningAgent, csms: DevCsms) -> None:
    await csms.wait_for("StatusNotification", lambda f: f.payload["connectorId"] == 1,
                        timeout_s=10)


async def until_diverting(cp: RunningAgent) -> None:
    """Yield to the loop until the console's `test rfid` has armed the readers (it does
    so before its first await, so this takes one or two loop turns)."""
    async with asyncio.timeout(5):
        while not any(r.diverting for r in cp.agent.readers):
            await asyncio.sleep(0)


async def checked_twice(cp: RunningAgent, connector_id: int = 1) -> None:
    """Wait until the runtime's periodic contactor check has run twice more (the real
    check runs; it is only counted)."""
    contactor = cp.agent.runtime.hardware[connector_id].contactor
    original = contactor.check
    passes = asyncio.Queue()

    async def counted() -> None:
        await original()
        passes.put_nowait(None)

    contactor.check = counted
    try:
        async with asyncio.timeout(5):
            for _ in range(2):
                await passes.get()
    finally:
        contactor.check = original


def status_of(cp: RunningAgent, connector_id: int = 1) -> str:
    return cp.station.connectors[connector_id].status()


async def test_hw_lists_every_device_with_backend_port_and_error(csms, tmp_path):
    async with running_agent(write_site(tmp_path, csms.url)) as cp:
        await started(cp, csms)
        lines = await cp.console("hw")
    board = lines.pop(0)
    assert board.startswith('board "Simulated AC charger, 1 connector": config=') and \
        board.endswith("sim.toml gpio=-")
    roles = [line.split()[0] for line in lines]
    assert roles == ["pilot", "contactor", "meter", "lock", "indicator", "rfid"]
    assert all("backend=sim" in line and "port=-" in line and "last_error=-" in line
               for line in lines), lines
    assert lines[0].startswith('pilot "connector 1 pilot":')
    assert "failed_reads=0/3" in lines[2]
    assert lines[5].startswith("rfid front:") and "connector=0" in lines[5]


async def test_test_meter_prints_every_value_with_its_unit_or_the_reason(csms, tmp_path):
    async with running_agent(write_site(tmp_path, csms.url)) as cp:
        await started(cp, csms)
        lines = await cp.console("test meter")
        assert lines[0].startswith("connector 1 meter (sim): read in ")
        values = dict(line.split(" = ", 1) for line in lines[1:])
        assert values["energy_wh"].startswith("0.0 Wh")
        assert values["power_w"] == "0.0 W"
        assert [values[f"voltage_l{n}_v"] for n in (1, 2, 3)] == ["230.00 V"] * 3
        assert [values[f"current_l{n}_a"] for n in (1, 2, 3)] == ["0.000 A"] * 3
        assert values["frequency_hz"] == "50.00 Hz" and values["power_factor"] == "n/a"
        assert await cp.agent.console.execute("test meter 2") == [
            "ERROR: no connector 2 (connectors: 1)"]
        await cp.console("sim fault 1 meter-offline")
        reply = await cp.agent.console.execute("test meter 1")
    assert len(reply) == 1 and reply[0].startswith("ERROR: connector 1 meter (sim): read failed")
    assert "offline" in reply[0]


async def test_test_rfid_takes_the_card_away_from_the_station(csms, tmp_path):
    async with running_agent(write_site(tmp_path, csms.url)) as cp:
        await started(cp, csms)
        mark = csms.mark()
        waiting = asyncio.create_task(cp.agent.console.execute("test rfid 10"))
        try:
            await until_diverting(cp)
            assert (await cp.console("sim tap 04:a2:b3:c4")) == [
                "card 04A2B3C4 presented on reader front"]
            reply = await asyncio.wait_for(waiting, 20)
        finally:
            waiting.cancel()
        assert reply[-1] == "OK", reply
        assert reply[0] == "reader front (ISO14443A): raw 04A2B3C4"
        assert reply[1] == "uid bytes 04A2B3C4 (4 bytes, as read)"
        assert reply[2].startswith("idTag 04A2B3C4 ")
        assert reply[3:-1] == cp.agent.auth.lookup_lines("04A2B3C4", cp.agent.runtime.clock.now())
        assert not any(r.diverting for r in cp.agent.readers)
        # The card never reached the station: no decision, no authorization, no Authorize.
        assert list(cp.agent.runtime.decisions) == []
        assert cp.station.connectors[1].authorization is None
        # The next card is the station's again.
        await cp.console("sim tap 04A2B3C4")
        authorize = await csms.wait_for("Authorize", after=mark, timeout_s=5)
        assert authorize.payload == {"idTag": "04A2B3C4"}
        assert [f.payload for f in csms.messages("Authorize", after=mark)] == [authorize.payload]


async def test_test_rfid_times_out_with_an_error(csms, tmp_path):
    async with running_agent(write_site(tmp_path, csms.url)) as cp:
        await started(cp, csms)
        assert await cp.agent.console.execute("test rfid 1") == ["ERROR: no card within 1 s"]
        assert not any(r.diverting for r in cp.agent.readers)
        assert (await cp.agent.console.execute("test rfid 0"))[0].startswith("ERROR: SECONDS")


async def test_test_contactor_cycles_and_is_refused_while_in_use(csms, tmp_path):
    site = write_site(tmp_path, csms.url, defaults={"StopTransactionOnEVSideDisconnect": False})
    async with running_agent(site) as cp:
        await started(cp, csms)
        lines = await cp.console("test contactor 1")
        assert lines[0].startswith("connector 1 contactor: closed, feedback confirmed in ")
        assert lines[1].startswith("connector 1 contactor: opened, feedback confirmed in ")
        assert len(lines) == 2 and status_of(cp) == "Available"
        assert not cp.agent.board.sim.connectors[1].coil_on

        async def refused(why: str) -> None:
            reply = await cp.agent.console.execute("test contactor 1")
            assert len(reply) == 1 and reply[0].startswith("ERROR: connector 1: refused: "), reply
            assert why in reply[0]

        # authorization pending: a card tapped before the cable comes
        await cp.console("sim tap 0A0B0C0D")
        await cp.until(lambda: cp.station.connectors[1].authorization is not None)
        await refused("an authorization is pending")
        # a vehicle plugged in (the session starts with the authorization above)
        await cp.console("sim plug 1")
        await csms.wait_for("StatusNotification", lambda f: f.payload["status"] == "Charging",
                            timeout_s=5)
        await refused("a vehicle is plugged in (pilot state C)")
        # the cable is gone but the transaction runs on (StopTransactionOnEVSideDisconnect off)
        await cp.console("sim unplug 1")
        await cp.until(lambda: cp.station.connectors[1].pilot.value == "A")
        assert cp.station.connectors[1].tx is not None
        await refused("a transaction is running")
        assert await cp.agent.console.execute("test contactor 7") == [
            "ERROR: no connector 7 (connectors: 1)"]


async def test_stuck_contactor_faults_and_stays_faulted_until_a_test_passes(csms, tmp_path):
    async with running_agent(write_site(tmp_path, csms.url)) as cp:
        await started(cp, csms)
        mark = csms.mark()
        await cp.console("sim fault 1 contactor-stuck")
        reply = await cp.agent.console.execute("test contactor 1")
        assert len(reply) == 1 and reply[0].startswith(
            "ERROR: connector 1 contactor: ContactorNoPullIn: "), reply
        assert reply[0].endswith("connector 1 is Faulted")
        faulted = await csms.wait_for("StatusNotification", lambda f: f.payload["status"] ==
                                      "Faulted", after=mark, timeout_s=5)
        assert faulted.payload["errorCode"] == "PowerSwitchFailure"
        assert faulted.payload["vendorErrorCode"] == "ContactorNoPullIn"
        assert not cp.agent.board.sim.connectors[1].coil_on
        # A new session is refused while the fault stands.
        await cp.console("sim tap 0A0B0C0D")
        await cp.until(lambda: len(cp.agent.runtime.decisions) == 1)
        decision = cp.agent.runtime.decisions[-1]
        assert (decision.accepted, decision.why) == (False, "no-free-connector")
        # The coil is repaired; an idle contactor always agrees with its feedback, so
        # only a passing test clears a coil that did not pull in.
        await cp.console("sim fault 1 clear")
        await checked_twice(cp)
        contactor_line = (await cp.console("hw"))[2]
        assert "fault=\"ContactorNoPullIn (latched until `test contactor`)\"" in contactor_line
        assert status_of(cp) == "Faulted"
        lines = await cp.console("test contactor 1")
        assert lines[-1] == "connector 1: contactor fault ContactorNoPullIn cleared"
        cleared = await csms.wait_for("StatusNotification", lambda f: f.payload["status"] ==
                                      "Available", after=faulted.seq, timeout_s=5)
        assert cleared.payload["errorCode"] == "NoError"
        assert csms.messages("Authorize", after=mark) == []


async def test_welded_contactor_faults_and_clears_when_the_feedback_opens(csms, tmp_path):
    async with running_agent(write_site(tmp_path, csms.url)) as cp:
        await started(cp, csms)
        mark = csms.mark()
        await cp.console("sim fault 1 contactor-weld")
        reply = await cp.agent.console.execute("test contactor 1")
        assert len(reply) == 1 and reply[0].startswith(
            "ERROR: connector 1 contactor: ContactorWelded: "), reply
        assert not cp.agent.board.sim.connectors[1].coil_on      # never energised
        faulted = await csms.wait_for("StatusNotification", lambda f: f.payload["status"] ==
                                      "Faulted", after=mark, timeout_s=5)
        assert faulted.payload["vendorErrorCode"] == "ContactorWelded"
        # The weld is gone: the periodic feedback check sees agreement and clears it.
        await cp.console("sim fault 1 clear")
        await cp.until(lambda: status_of(cp) == "Available")
        await csms.wait_for("StatusNotification", lambda f: f.payload["status"] == "Available",
                            after=faulted.seq, timeout_s=5)


def hw_line(lines: list[str], role: str) -> str:
    [line] = [line for line in lines if line.split()[0] == role]
    return line


async def until_hw(cp: RunningAgent, role: str, text: str, timeout_s: float = 10) -> str:
    """Run `hw` until the `role` line contains `text` (the meter is polled every second)."""
    async with asyncio.timeout(timeout_s):
        while True:
            line = hw_line(await cp.console("hw"), role)
            if text in line:
                return line
            await asyncio.sleep(0.1)


async def test_hw_shows_a_meter_error_with_its_time_and_its_recovery(csms, tmp_path):
    """Issue 8 item 6: every device's last error, and when it recovered, shows in `hw`."""
    async with running_agent(write_site(tmp_path, csms.url)) as cp:
        await started(cp, csms)
        assert "state=ok last_error=-" in hw_line(await cp.console("hw"), "meter")
        await cp.console("sim fault 1 meter-offline")
        line = await until_hw(cp, "meter", "state=retrying")
        health = cp.agent.runtime.hardware[1].health["meter"]
        assert 'last_error="no answer (simulated meter offline)"' in line
        assert re.search(r'error_at="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(\d+s ago\)"', line), line
        failed_at = health.failing_since_s
        await cp.console("sim fault 1 clear")
        line = await until_hw(cp, "meter", "state=ok")
        # The error stays, with its time, and the recovery is shown after it.
        assert 'last_error="no answer (simulated meter offline)"' in line
        assert re.search(r'recovered_at="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(\d+s ago\)"', line)
        assert health.failing_since_s == failed_at <= health.last_error_at_s \
            <= health.recovered_at_s


async def test_hw_shows_a_contactor_weld_until_the_feedback_agrees_again(csms, tmp_path):
    async with running_agent(write_site(tmp_path, csms.url)) as cp:
        await started(cp, csms)
        await cp.console("sim fault 1 contactor-weld")
        line = await until_hw(cp, "contactor", "state=retrying")
        assert "welded" in line and "error_at=" in line
        await cp.console("sim fault 1 clear")
        line = await until_hw(cp, "contactor", "state=ok")
        assert "welded" in line and "recovered_at=" in line


async def test_hw_shows_a_lock_that_did_not_unlock_as_failed_until_it_works(csms, tmp_path):
    """A failed command nobody retries (the cable lock) is `failed`, not `retrying`; the
    next command that works records the recovery."""
    async with running_agent(write_site(tmp_path, csms.url)) as cp:
        await started(cp, csms)
        await cp.console("sim fault 1 lock-stuck")
        assert await csms.call("CP-IT", call.UnlockConnector(connector_id=1)) == {
            "status": "UnlockFailed"}
        line = hw_line(await cp.console("hw"), "lock")
        assert 'state=failed last_error="did not unlock"' in line and "error_at=" in line
        await cp.console("sim fault 1 clear")
        assert await csms.call("CP-IT", call.UnlockConnector(connector_id=1)) == {
            "status": "Unlocked"}
        line = hw_line(await cp.console("hw"), "lock")
        assert 'state=ok last_error="did not unlock"' in line and "recovered_at=" in line
