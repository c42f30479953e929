"""Boot discipline ([16] §4.2): nothing but BootNotification until it is answered;
Pending: answer, send only what a TriggerMessage asked for, refuse remote start/stop;
Rejected: send nothing, answer nothing, until the interval has passed.

The dev CSMS also checks these rules on every frame (``csms.violations``, asserted
empty by the fixture), so any request slipping through fails the test.

Timing: the interval is asserted as the timer the core asked for (``StartTimer`` of the
boot timer, seen through ``runtime.observe``) and, on the wire, only as a causal lower
bound: the CSMS records its Pending/Rejected reply before sending it, so the agent's
timer starts after that mark, and records the next BootNotification after it arrives.
Load can only lengthen that gap; no upper bound is asserted.
"""

import pytest
from ocpp.v16 import call

from devcsms.recording import FROM_CP, TO_CP
from firmware.core import effects as fx
from firmware.core.boot import BOOT_TIMER
from tests.integration.agent import running_agent, write_site

STATION = "CP-IT"
INTERVAL_S = 2
TIMER_RESOLUTION_S = 1e-6  # asyncio may run a timer up to its clock's resolution early


class Batches:
    """Every effect batch the agent's core produces from now on, in order."""

    def __init__(self, cp) -> None:
        self.items: list[list[fx.Effect]] = []
        cp.agent.runtime.observe(self.items.append)

    def boot_schedule(self) -> list[fx.Effect]:
        """The boot timer's starts and cancels and the registrations (BootNotification), in order."""
        return [e for batch in self.items for e in batch
                if isinstance(e, fx.SendRegistration)
                or (isinstance(e, (fx.StartTimer, fx.CancelTimer)) and e.key == BOOT_TIMER)]


async def reply_to(csms, request):
    return await csms.wait_frame(lambda f: f.request_seq == request.seq, direction=TO_CP)


async def queue_an_offline_session(csms, site):
    """Run the agent against a CSMS that refuses it: a whole session gets queued."""
    csms.refuse_connections = True
    async with running_agent(site) as cp:
        await cp.console("sim plug 1")
        await cp.console("sim tap B0070001")
        await cp.until(lambda: cp.station.connectors[1].tx is not None)
        await cp.console("sim unplug 1")
        await cp.until(lambda: cp.station.connectors[1].transaction_ended())
        # StartTransaction, StopTransaction and the start-up's security event (critical).
        assert cp.agent.outbox.stats()[0] == 3
    csms.refuse_connections = False


async def test_pending_sends_only_what_is_triggered_and_holds_the_queue(csms, tmp_path):
    site = write_site(tmp_path, csms.url, defaults={"AllowOfflineTxForUnknownId": True})
    await queue_an_offline_session(csms, site)
    csms.boot.status, csms.boot.interval_s = "Pending", INTERVAL_S
    async with running_agent(site) as cp:
        batches = Batches(cp)
        first = await csms.wait_for("BootNotification", timeout_s=10)
        pending = await reply_to(csms, first)
        assert pending.payload["status"] == "Pending"
        keys = await csms.call(STATION, call.GetConfiguration(key=["HeartbeatInterval"]))
        assert keys["configurationKey"][0]["key"] == "HeartbeatInterval"
        assert await csms.call(STATION, call.RemoteStartTransaction(
            id_tag="B0070002", connector_id=1)) == {"status": "Rejected"}
        assert await csms.call(STATION, call.RemoteStopTransaction(transaction_id=1)) == {
            "status": "Rejected"}
        assert await csms.call(STATION, call.TriggerMessage(
            requested_message="StatusNotification", connector_id=1)) == {"status": "Accepted"}
        triggered = await csms.wait_for("StatusNotification", timeout_s=10)
        csms.boot.status = "Accepted"
        second = await csms.wait_for("BootNotification", after=first.seq + 1, timeout_s=10)
        accepted = await reply_to(csms, second)
        start = await csms.wait_for("StartTransaction", after=second.seq, timeout_s=10)
        await csms.wait_for("StopTransaction", after=start.seq, timeout_s=10)

    assert accepted.payload["status"] == "Accepted"
    assert batches.boot_schedule()[:3] == [
        fx.SendRegistration(), fx.StartTimer(BOOT_TIMER, INTERVAL_S),
        fx.SendRegistration()]
    assert second.monotonic_s - pending.monotonic_s >= INTERVAL_S - TIMER_RESOLUTION_S
    requests = [f.action for f in csms.messages(after=first.seq + 1, message_type=2)
                if f.seq < accepted.seq]
    assert requests == ["StatusNotification", "BootNotification"]
    assert triggered.payload["connectorId"] == 1


async def test_rejected_sends_and_answers_nothing_until_the_interval_has_passed(csms, tmp_path):
    csms.boot.status, csms.boot.interval_s = "Rejected", INTERVAL_S
    async with running_agent(write_site(tmp_path, csms.url)) as cp:
        batches = Batches(cp)
        first = await csms.wait_for("BootNotification", timeout_s=10)
        rejected = await reply_to(csms, first)
        assert rejected.payload["status"] == "Rejected"
        await cp.console("sim plug 1")  # a status change it must keep to itself
        with pytest.raises(TimeoutError):
            await csms.call(STATION, call.GetConfiguration(), timeout_s=1.0)
        csms.boot.status = "Accepted"
        second = await csms.wait_for("BootNotification", after=first.seq + 1, timeout_s=10)
        await csms.wait_for("StatusNotification",
                            lambda f: f.payload["connectorId"] == 1
                            and f.payload["status"] == "Preparing",
                            after=second.seq, timeout_s=10)

    assert batches.boot_schedule()[:3] == [
        fx.SendRegistration(), fx.StartTimer(BOOT_TIMER, INTERVAL_S),
        fx.SendRegistration()]
    assert second.monotonic_s - rejected.monotonic_s >= INTERVAL_S - TIMER_RESOLUTION_S
    silent = [f for f in csms.frames[first.seq + 1:second.seq] if f.direction == FROM_CP]
    assert silent == []
