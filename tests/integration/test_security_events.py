"""Security events end to end (security-whitepaper.md §7, A04): the real agent against
a real DevCsms. Critical events raised while the CSMS is unreachable are queued durably
and delivered after the reconnect, in order, exactly once, also across a SIGKILL; every
event, critical or not, lands in the security log, which survives a restart."""

import asyncio

from devcsms.recording import TO_CP
from devcsms.validation import CALLRESULT
from firmware.core import events as ev
from tests.chaos.agent_process import AgentProcess
from tests.integration.agent import running_agent, write_site

STATION = "CP-IT"


def events_of(csms, after=0):
    return [(f.payload["type"], f.payload.get("techInfo"))
            for f in csms.messages("SecurityEventNotification", after=after)]


async def test_a04_startup_is_reported_after_the_boot_is_accepted(csms, tmp_path):
    async with running_agent(write_site(tmp_path, csms.url)) as cp:
        event = await csms.wait_for("SecurityEventNotification", timeout_s=10)
        assert (event.payload["type"], event.payload["techInfo"]) == (
            "StartupOfTheDevice", "boot reason PowerUp")
        # The registration gate: the BootNotification was accepted first.
        accepted = [f for f in csms.frames if f.direction == TO_CP and f.message_type == CALLRESULT
                    and f.action == "BootNotification"]
        assert accepted and accepted[0].seq < event.seq
        (line,) = [x for x in await cp.console("security log") if "StartupOfTheDevice" in x]
        assert "* StartupOfTheDevice boot reason PowerUp" in line


async def test_a04_fr_02_critical_events_raised_offline_arrive_in_order_exactly_once(csms,
                                                                                    tmp_path):
    site = write_site(tmp_path, csms.url)
    async with running_agent(site) as cp:
        await csms.wait_for("SecurityEventNotification", timeout_s=10)
        # Confirmed: a CALL cut off before its answer is sent again (at least once).
        await cp.until(lambda: cp.agent.outbox.stats()[0] == 0)
        csms.refuse_connections = True
        await csms.disconnect(STATION)
        await cp.until(lambda: not cp.agent.link.connected)
        for n in range(3):
            cp.agent.runtime.dispatch(ev.SecurityEventOccurred("TamperDetectionActivated",
                                                               f"lid opened {n}"))
        cp.agent.runtime.dispatch(ev.SecurityEventOccurred("InvalidMessages", "not critical"))
        mark = csms.mark()
        csms.refuse_connections = False
        await csms.wait_for("SecurityEventNotification",
                            lambda f: f.payload.get("techInfo") == "lid opened 2", after=mark,
                            timeout_s=15)
        await cp.until(lambda: cp.agent.outbox.stats()[0] == 0)
        log_lines = await cp.console("security log 10")
    assert events_of(csms, after=mark) == [("TamperDetectionActivated", f"lid opened {n}")
                                           for n in range(3)]
    # Not critical: not queued, but in the security log (A04.FR.04).
    assert any("InvalidMessages not critical" in line for line in log_lines)

    # The security log survives a restart.
    restart = csms.mark()
    async with running_agent(site) as cp:
        await csms.wait_for("SecurityEventNotification", after=restart, timeout_s=10)
        lines = await cp.console("security log 50")
    assert sum("lid opened" in line for line in lines) == 3
    assert sum("StartupOfTheDevice" in line for line in lines) == 2


async def test_a04_fr_02_events_queued_offline_survive_a_sigkill(csms, tmp_path):
    site = write_site(tmp_path, csms.url, console="stdio")
    agent = AgentProcess(site, tmp_path / "agent.log")
    csms.refuse_connections = True  # the CSMS is unreachable from the first start on
    try:
        await agent.start()
        assert any("boot reason PowerUp" in line for line in await agent.command("security log"))
        await agent.kill()  # the power cut: no clean-up
        await agent.start()
        mark = csms.mark()
        csms.refuse_connections = False
        async with asyncio.timeout(20):
            while len(events_of(csms, after=mark)) < 2:
                await asyncio.sleep(0.05)
            # Delivered = confirmed and gone from the queue; a duplicate would show now.
            while not any(line.startswith("queue: 0 ") for line in await agent.command("queue")):
                await asyncio.sleep(0.1)
        assert await agent.terminate() == 0
    finally:
        await agent.kill()
    assert events_of(csms, after=mark) == [("StartupOfTheDevice", "boot reason PowerUp")] * 2


async def test_malformed_frames_are_one_invalid_messages_event_not_a_flood(csms, tmp_path):
    async with running_agent(write_site(tmp_path, csms.url)):
        await csms.wait_for("SecurityEventNotification", timeout_s=10)
        mark = csms.mark()
        for n in range(50):
            await csms.send_raw(STATION, f'[2,"bad-{n}","Reset",{{"type":')
        await csms.wait_for("SecurityEventNotification",
                            lambda f: f.payload["type"] == "InvalidMessages", after=mark,
                            timeout_s=10)
        await csms.wait_frame(lambda f: f.unique_id == "bad-49", direction="from_cp",
                              after=mark, timeout_s=10)
    assert [t for t, _ in events_of(csms, after=mark)] == ["InvalidMessages"]
