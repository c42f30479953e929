"""Power cuts and resets, with the real agent process ([16] §4.10, §5.14, [E16] 3.36).

SIGKILL stands for the power cut: no clean-up runs. On its next start the agent stops
every transaction that was running with reason PowerLoss, the last persisted meter
value and its time, and never starts a confirmed transaction twice. Soft and Hard
resets stop their transactions first (SoftReset/HardReset), queued if the CSMS does not
confirm; an Inoperative connector stays so across all of it.
"""

import asyncio
import time

from ocpp.v16 import call

from devcsms import Disconnect
from devcsms.recording import TO_CP
from firmware.ocpp.mapping import parse_time
from tests.chaos.agent_process import AgentProcess
from tests.integration.agent import write_site

STATION = "CP-IT"


def process(tmp_path, csms, **defaults) -> AgentProcess:
    site = write_site(tmp_path, csms.url, console="stdio",
                      defaults={"MeterValueSampleInterval": 1, **defaults})
    return AgentProcess(site, tmp_path / "agent.log")


async def transaction_id_of(csms, start) -> int:
    reply = await csms.wait_frame(lambda f: f.request_seq == start.seq, direction=TO_CP)
    return reply.payload["transactionId"]


async def until_console(agent, command, predicate, timeout_s=10.0):
    """Repeat a console command until its reply satisfies ``predicate`` (the agent runs
    in another process: its console is the only window on its state)."""
    async with asyncio.timeout(timeout_s):
        while not predicate(await agent.command(command)):
            await asyncio.sleep(0.05)


async def test_sigkill_during_a_session_ends_it_with_power_loss_on_the_next_start(csms, tmp_path):
    agent = process(tmp_path, csms)
    await agent.start()
    try:
        await csms.wait_for("StatusNotification", timeout_s=10)
        await agent.command("sim plug 1")
        await agent.command("sim tap 9A550001")
        start = await csms.wait_for("StartTransaction", timeout_s=10)
        first = await csms.wait_for("MeterValues", after=start.seq, timeout_s=5)
        await csms.wait_for("MeterValues", after=first.seq + 1, timeout_s=5)
        await agent.kill()
        killed_at_s = time.time()
        mark = csms.mark()
        await agent.start()
        stop = await csms.wait_for("StopTransaction", after=mark, timeout_s=10)
        assert await agent.terminate() == 0
    finally:
        await agent.kill()

    transaction_id = await transaction_id_of(csms, start)
    assert stop.payload["reason"] == "PowerLoss"
    assert stop.payload["transactionId"] == transaction_id
    assert len(csms.messages("StartTransaction")) == 1  # confirmed: never started again
    values = [v for v in csms.messages("MeterValues") if v.payload.get("transactionId")]
    last_energy = max(float(v.payload["meterValue"][0]["sampledValue"][0]["value"])
                      for v in values)
    last_stamp = max(parse_time(v.payload["meterValue"][0]["timestamp"]) for v in values)
    assert stop.payload["meterStop"] >= last_energy
    assert last_stamp <= parse_time(stop.payload["timestamp"]) <= killed_at_s


async def test_an_offline_session_cut_by_power_loss_is_started_then_stopped_later(csms, tmp_path):
    agent = process(tmp_path, csms, AllowOfflineTxForUnknownId=True)
    csms.refuse_connections = True
    await agent.start()
    try:
        await agent.command("sim plug 1")
        await agent.command("sim tap 9A550002")
        await until_console(agent, "queue", lambda lines: lines[0].startswith("queue: 2 "))
        await agent.kill()
        await agent.start()  # still offline: recovery queues the stop
        csms.refuse_connections = False
        start = await csms.wait_for("StartTransaction", timeout_s=10)
        stop = await csms.wait_for("StopTransaction", after=start.seq, timeout_s=10)
        assert await agent.terminate() == 0
    finally:
        await agent.kill()

    assert start.payload["idTag"] == "9A550002"
    assert stop.payload["reason"] == "PowerLoss"
    assert stop.payload["transactionId"] == await transaction_id_of(csms, start)
    assert parse_time(stop.payload["timestamp"]) >= parse_time(start.payload["timestamp"])
    assert stop.payload["meterStop"] >= start.payload["meterStart"]


async def test_an_inoperative_connector_stays_unavailable_after_a_power_cut(csms, tmp_path):
    agent = process(tmp_path, csms)
    await agent.start()
    try:
        await csms.wait_for("StatusNotification", timeout_s=10)
        assert await csms.call(STATION, call.ChangeAvailability(
            connector_id=1, type="Inoperative")) == {"status": "Accepted"}
        await csms.wait_for("StatusNotification",
                            lambda f: f.payload["status"] == "Unavailable", timeout_s=5)
        await agent.kill()
        mark = csms.mark()
        await agent.start()
        boot = await csms.wait_for("BootNotification", after=mark, timeout_s=10)
        status = await csms.wait_for("StatusNotification",
                                     lambda f: f.payload["connectorId"] == 1,
                                     after=boot.seq, timeout_s=5)
        lines = await agent.command("status")
        assert await agent.terminate() == 0
    finally:
        await agent.kill()
    assert status.payload["status"] == "Unavailable"
    assert any("connector 1: Unavailable" in line and "inoperative" in line for line in lines)


async def test_soft_reset_stops_the_transaction_first_then_restarts(csms, tmp_path):
    agent = process(tmp_path, csms)
    await agent.start()
    try:
        await csms.wait_for("StatusNotification", timeout_s=10)
        await agent.command("sim plug 1")
        await agent.command("sim tap 9A550003")
        start = await csms.wait_for("StartTransaction", timeout_s=10)
        mark = csms.mark()
        assert await csms.call(STATION, call.Reset(type="Soft")) == {"status": "Accepted"}
        stop = await csms.wait_for("StopTransaction", after=mark, timeout_s=10)
        boot = await csms.wait_for("BootNotification", after=mark, timeout_s=20)
        await agent.wait_banner()
        assert await agent.terminate() == 0
    finally:
        await agent.kill()
    assert stop.payload["reason"] == "SoftReset"
    assert stop.payload["transactionId"] == await transaction_id_of(csms, start)
    assert stop.seq < boot.seq
    assert len(csms.messages("StopTransaction")) == 1


async def test_hard_reset_queues_an_unconfirmed_stop_and_sends_it_after_the_restart(
        csms, tmp_path):
    agent = process(tmp_path, csms)
    await agent.start()
    try:
        await csms.wait_for("StatusNotification", timeout_s=10)
        await agent.command("sim plug 1")
        await agent.command("sim tap 9A550004")
        start = await csms.wait_for("StartTransaction", timeout_s=10)
        csms.script("StopTransaction", Disconnect(1011))  # the CSMS goes down instead
        mark = csms.mark()
        assert await csms.call(STATION, call.Reset(type="Hard")) == {"status": "Accepted"}
        csms.refuse_connections = True
        unanswered = await csms.wait_for("StopTransaction", after=mark, timeout_s=10)
        await agent.wait_banner()  # restarted, offline, the stop still queued
        csms.refuse_connections = False
        boot = await csms.wait_for("BootNotification", after=unanswered.seq, timeout_s=10)
        stop = await csms.wait_for("StopTransaction", after=boot.seq, timeout_s=10)
        assert await agent.terminate() == 0
    finally:
        await agent.kill()
    assert stop.payload == unanswered.payload
    assert stop.payload["reason"] == "HardReset"
    assert stop.payload["transactionId"] == await transaction_id_of(csms, start)


async def test_a_power_loss_stop_never_reports_less_than_a_clock_aligned_value_sent(
        csms, tmp_path):
    # Only clock-aligned values: each one must checkpoint the transaction's meter too.
    agent = process(tmp_path, csms, MeterValueSampleInterval=0, ClockAlignedDataInterval=1)
    await agent.start()
    try:
        await csms.wait_for("StatusNotification", timeout_s=10)
        await agent.command("sim plug 1")
        await agent.command("sim tap 9A550005")
        start = await csms.wait_for("StartTransaction", timeout_s=10)
        first = await csms.wait_for("MeterValues", lambda f: "transactionId" in f.payload,
                                    after=start.seq, timeout_s=5)
        last = await csms.wait_for("MeterValues", lambda f: "transactionId" in f.payload,
                                   after=first.seq + 1, timeout_s=5)
        await agent.kill()
        mark = csms.mark()
        await agent.start()
        stop = await csms.wait_for("StopTransaction", after=mark, timeout_s=10)
        assert await agent.terminate() == 0
    finally:
        await agent.kill()
    sampled = last.payload["meterValue"][0]
    assert sampled["sampledValue"][0]["context"] == "Sample.Clock"
    assert float(sampled["sampledValue"][0]["value"]) > start.payload["meterStart"]
    assert stop.payload["reason"] == "PowerLoss"
    assert stop.payload["meterStop"] >= float(sampled["sampledValue"][0]["value"])
    assert parse_time(stop.payload["timestamp"]) >= parse_time(sampled["timestamp"])
