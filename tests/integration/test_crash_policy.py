"""One policy for a bug in our own code, wherever it surfaces (firmware.errors).

A bug (an exception the code did not expect) is logged with the event it was handling,
the agent stops with ``AgentBug`` (``borne run`` exits 70, systemd's Restart=on-failure
restarts it) and the next start recovers from the database as after a power loss. It is
never swallowed: not from a timer, not from a CSMS CALL (no InternalError reply), not from
the link (no redial), not from a hardware event. The socket is closed, never leaked.
A CALL that is *invalid* is not a bug: it still gets its CALLERROR (test_bad_numbers,
test_malformed_frames).

The bug is planted by replacing ``Station.handle`` on the running instance: the one
seam every event passes through.
"""

import asyncio
import logging
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from devcsms.station import StationNotConnected
from firmware.errors import AgentBug
from firmware.store.db import open_database
from tests.integration.agent import running_agent, write_site

STATION = "CP-IT"
REPO = Path(__file__).resolve().parents[2]


def plant_bug(cp, event_type: str):
    station = cp.agent.station
    original = station.handle

    def handle(event, now):
        if type(event).__name__ == event_type:
            raise ZeroDivisionError("planted bug")
        return original(event, now)

    station.handle = handle


async def assert_crashed(cp, csms, event_type, caplog):
    with pytest.raises(AgentBug) as info:
        await asyncio.wait_for(asyncio.shield(cp.task), 15)
    bug = info.value
    assert isinstance(bug.__cause__, ZeroDivisionError)
    assert event_type in str(bug)
    critical = [r for r in caplog.records if r.levelno == logging.CRITICAL]
    assert len(critical) == 1 and event_type in critical[0].getMessage()
    assert critical[0].exc_info is not None  # the traceback is in the log
    # The socket went with the session, and nobody dialled again.
    closed = await csms.wait_disconnected(STATION, timeout_s=10)
    assert closed is not None
    assert cp.agent.link.status.connects == 1
    assert len(csms.connections) == 1
    return bug


async def test_a_bug_in_a_timer_stops_the_agent(csms, tmp_path, caplog):
    site = write_site(tmp_path, csms.url, defaults={"ClockAlignedDataInterval": 1})
    with pytest.raises(AgentBug):
        async with running_agent(site) as cp:
            await csms.wait_for("StatusNotification", timeout_s=10)
            plant_bug(cp, "TimerFired")
            await assert_crashed(cp, csms, "TimerFired", caplog)


async def test_a_bug_answering_a_csms_call_stops_the_agent_without_an_internal_error(
        csms, tmp_path, caplog):
    with pytest.raises(AgentBug):
        async with running_agent(write_site(tmp_path, csms.url)) as cp:
            await csms.wait_for("StatusNotification", timeout_s=10)
            plant_bug(cp, "ConfigurationReadRequested")
            with pytest.raises((StationNotConnected, TimeoutError)):
                await csms.call(STATION, ("GetConfiguration", {}), timeout_s=10)
            await assert_crashed(cp, csms, "ConfigurationReadRequested", caplog)
            assert not [f for f in csms.messages(station=STATION, message_type=4)]


async def test_a_bug_handling_a_link_event_stops_the_agent_instead_of_redialling(
        csms, tmp_path, caplog):
    with pytest.raises(AgentBug):
        async with running_agent(write_site(tmp_path, csms.url)) as cp:
            await csms.wait_for("StatusNotification", timeout_s=10)
            plant_bug(cp, "KeepAliveAnswered")
            assert await csms.call(STATION, ("TriggerMessage", {
                "requestedMessage": "Heartbeat"})) == {"status": "Accepted"}
            await assert_crashed(cp, csms, "KeepAliveAnswered", caplog)


async def test_a_bug_handling_a_hardware_event_stops_the_agent(csms, tmp_path, caplog):
    with pytest.raises(AgentBug):
        async with running_agent(write_site(tmp_path, csms.url)) as cp:
            await csms.wait_for("StatusNotification", timeout_s=10)
            plant_bug(cp, "PilotChanged")
            await cp.agent.console.execute("sim plug 1")
            await assert_crashed(cp, csms, "PilotChanged", caplog)


async def test_after_a_bug_the_next_start_recovers_the_session_from_the_database(
        csms, tmp_path, caplog):
    """What systemd does after exit 70: start again; the transaction that was running is
    stopped with PowerLoss from what the database holds ([16] §4.10)."""
    site = write_site(tmp_path, csms.url)
    with pytest.raises(AgentBug):
        async with running_agent(site) as cp:
            await csms.wait_for("StatusNotification", timeout_s=10)
            await cp.console("sim plug 1")
            await cp.console("sim tap 04A2B3C4")
            start = await csms.wait_for("StartTransaction", timeout_s=5)
            await csms.wait_for("StatusNotification",
                                lambda f: f.payload["status"] == "Charging", timeout_s=5)
            plant_bug(cp, "ConfigurationReadRequested")
            with pytest.raises((StationNotConnected, TimeoutError)):
                await csms.call(STATION, ("GetConfiguration", {}), timeout_s=10)
            await asyncio.wait_for(asyncio.shield(cp.task), 15)
    async with running_agent(site):
        stop = await csms.wait_for("StopTransaction", timeout_s=10)
    assert stop.payload["reason"] == "PowerLoss"
    assert len(csms.messages("StartTransaction")) == 1
    assert stop.payload["meterStop"] >= start.payload["meterStart"]


BUGGY_AGENT = """
import sys
from firmware.core.station import Station

original = Station.handle

def handle(self, event, now):
    if type(event).__name__ == "ConfigurationReadRequested":
        raise ZeroDivisionError("planted bug")
    return original(self, event, now)

Station.handle = handle
from firmware.__main__ import main
sys.exit(main(["run", "--config", sys.argv[1]]))
"""


async def test_borne_run_exits_70_on_a_bug_and_logs_the_event(csms, tmp_path):
    site = write_site(tmp_path, csms.url)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", BUGGY_AGENT, str(site), cwd=REPO,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    try:
        await csms.wait_for("StatusNotification", timeout_s=30)
        with pytest.raises((StationNotConnected, TimeoutError)):
            await csms.call(STATION, ("GetConfiguration", {}), timeout_s=10)
        _, stderr = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 70
    log = stderr.decode()
    assert "CRITICAL" in log and "ConfigurationReadRequested" in log
    assert "planted bug" in log
    assert "\nTraceback" not in log  # one log line per event (the traceback inside it)


@pytest.mark.parametrize("table", ["store", "auth"])
def test_a_database_from_a_newer_release_cannot_start_without_a_traceback(tmp_path, table):
    site = write_site(tmp_path, "ws://127.0.0.1:9/ocpp")
    conn = open_database(tmp_path / "state")
    if table == "store":
        conn.execute("PRAGMA user_version = 99")
    else:
        from firmware.auth.schema import migrate

        migrate(conn)
        conn.execute("UPDATE auth_schema SET version = 99")
    conn.close()
    result = subprocess.run([sys.executable, "-m", "firmware", "run", "--config", str(site)],
                            cwd=REPO, capture_output=True, text=True, timeout=60,
                            stdin=subprocess.DEVNULL)
    assert result.returncode == 1
    assert "cannot start" in result.stderr
    assert "newer" in result.stderr
    assert "Traceback" not in result.stderr
    sqlite3.connect(tmp_path / "state" / "borne.db").close()
