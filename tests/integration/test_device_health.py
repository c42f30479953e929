"""Issue 8 item 6: a vanished device is visible in `hw`, with the time of its error and of
its recovery. The real agent on the real-board rig (tests/integration/peers): the desk
reader is a real pty reached through a stable name (like /dev/serial/by-id/...), which
is unplugged and plugged back mid-run; the SDM630 goes silent and answers again; the
OpenEVSE controller, whose pilot and relay views share one link, goes silent.

Times are the agent's own records (its health records), never compared with the wall
clock; the `hw` line must show exactly those."""

from __future__ import annotations

import asyncio
import re

import pytest

from firmware.console.console import stamp
from firmware.device_health import DeviceHealth
from tests.drivers.ptys import PtyPeer
from tests.integration.agent import RunningAgent, running_agent, write_site
from tests.integration.peers.rig import peer_rig
from tests.integration.test_real_board import BOARD_OPENEVSE_RELAY, agent_on, ready

# A real agent with several ptys and sequential waits of up to 15-20 s each: on a loaded
# CI machine the whole test may take longer than the suite's 60 s hang guard.
pytestmark = pytest.mark.timeout(240)

AGE = r"\(\d+(s|m\d\ds) ago\)"


@pytest.fixture
async def rig():
    async with peer_rig() as r:
        yield r


def hw_line(lines: list[str], prefix: str) -> str:
    [line] = [line for line in lines if line.startswith(prefix)]
    return line


async def until_hw(cp: RunningAgent, prefix: str, text: str, timeout_s: float = 15) -> str:
    async with asyncio.timeout(timeout_s):
        while True:
            line = hw_line(await cp.console("hw"), prefix)
            if text in line:
                return line
            await asyncio.sleep(0.1)


def shows_times(line: str, health: DeviceHealth) -> None:
    assert health.last_error_at_s is not None
    assert re.search(rf'error_at="{re.escape(stamp(health.last_error_at_s))} {AGE}"', line), \
        line
    if health.state == "ok":
        assert health.recovered_at_s is not None
        assert re.search(rf'recovered_at="{re.escape(stamp(health.recovered_at_s))} {AGE}"',
                         line), line


async def test_a_reader_unplugged_mid_run_shows_its_error_then_its_recovery(
        csms, tmp_path, rig):
    adapter = tmp_path / "usb-desk-reader"          # the stable name the board uses
    first = PtyPeer()
    adapter.symlink_to(first.path)
    rig.ports["line"] = str(adapter)
    second: PtyPeer | None = None
    try:
        async with agent_on(rig, tmp_path, csms) as cp:
            await ready(cp, rig, csms)
            [desk] = [r for r in cp.agent.readers if r.options["name"] == "desk"]
            line = hw_line(await cp.console("hw"), "rfid desk:")
            assert "state=ok last_error=-" in line
            # Unplugged: the pty's other end goes away and the stable name with it.
            first.hang_up()
            adapter.unlink()
            line = await until_hw(cp, "rfid desk:", "state=retrying")
            assert re.search(r'last_error="serial port \S+usb-desk-reader (disappeared|does not '
                             r'exist)', line), line
            shows_times(line, desk.health)
            assert "recovered_at=" not in line
            failed_since = desk.health.failing_since_s
            # Plugged back (a new tty behind the same name): reopened, the recovery shown.
            second = PtyPeer()
            adapter.symlink_to(second.path)
            line = await until_hw(cp, "rfid desk:", "state=ok")
            assert "usb-desk-reader" in line and "last_error=-" not in line
            shows_times(line, desk.health)
            assert desk.health.failing_since_s == failed_since
            assert failed_since <= desk.health.last_error_at_s <= desk.health.recovered_at_s
            # And it reads cards again.
            mark = csms.mark()
            rig.evse.plug()
            second.write(b"EFBEADDE\r\n")
            authorize = await csms.wait_for("Authorize", after=mark, timeout_s=5)
            assert authorize.payload == {"idTag": "DEADBEEF"}     # uid_reversed
            # The other devices never failed.
            lines = await cp.console("hw")
            for prefix in ("pilot ", "contactor ", "meter ", "rfid front:"):
                assert "state=ok last_error=-" in hw_line(lines, prefix), lines
    finally:
        first.close()
        if second is not None:
            second.close()


async def test_a_meter_that_times_out_shows_its_error_then_its_recovery(csms, tmp_path, rig):
    async with agent_on(rig, tmp_path, csms) as cp:
        await ready(cp, rig, csms)
        health = cp.agent.runtime.hardware[1].health["meter"]
        rig.meter.silent = True
        line = await until_hw(cp, "meter ", "state=retrying")
        assert re.search(r'last_error="Modbus device 1 on \S+: no valid answer', line), line
        shows_times(line, health)
        rig.meter.silent = False
        line = await until_hw(cp, "meter ", "state=ok")
        assert "no valid answer" in line
        shows_times(line, health)
        assert health.failing_since_s <= health.recovered_at_s



async def test_a_silent_openevse_shows_in_every_view_of_its_shared_link(csms, tmp_path, rig):
    """The pilot and the relay (contactor) views share one RAPI link: each view's owner
    records the loss it saw, and the recovery when that view works again."""
    quick = BOARD_OPENEVSE_RELAY.replace("poll_interval_s = 0.5\ntimeout_s = 0.5",
                                         "poll_interval_s = 0.2\ntimeout_s = 0.2\n"
                                         "max_missed_polls = 2")
    assert quick.count("max_missed_polls") == 2
    site = write_site(tmp_path, csms.url, board=rig.write_board(tmp_path, quick, "pi4.toml"))
    async with running_agent(site) as cp:
        await csms.wait_for("StatusNotification", lambda f: f.payload["connectorId"] == 1
                            and f.payload["status"] == "Available", timeout_s=10)
        health = cp.agent.runtime.hardware[1].health
        rig.evse.silent = True
        for prefix in ("pilot ", "contactor "):
            line = await until_hw(cp, prefix, "state=retrying")
            assert re.search(r'last_error="OpenEVSE on \S+ stopped answering', line), line
            shows_times(line, health[prefix.strip()])
        assert "state=ok last_error=-" in hw_line(await cp.console("hw"), "meter ")
        rig.evse.silent = False
        for prefix in ("pilot ", "contactor "):
            line = await until_hw(cp, prefix, "state=ok")
            assert "stopped answering" in line
            shows_times(line, health[prefix.strip()])
