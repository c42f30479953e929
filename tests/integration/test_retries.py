"""Retries of transaction messages ([16] §3.7.1, [JE] §3.2): a CALLERROR or no answer is
a failed transmission; before retransmission n+1 wait TransactionMessageRetryInterval × n;
after TransactionMessageAttempts transmissions drop the message, log and count it, and
go on with the next. The attempt count survives a restart.

A dropped StartTransaction takes its transaction's later messages with it (there is no
CSMS transactionId to file them under; see firmware/ocpp/outbox.py): the bound that
shows nothing more of it is ever sent is the next transaction's start, which the
strictly ordered queue can only deliver after everything queued before it.

Timing (issue 8 item 9): the waits are asserted as the schedule the agent computed, on a
``ManualClock`` injected as its retry clock (the outbox's wait after each failure, and
the persisted next-attempt time), never as gaps measured at the CSMS. Such a gap once
measured 1.993 s for a 2 s wait under load: the CSMS's mark for an unanswered
transmission comes after the agent started that call's timeout. That the link honours
the schedule is proven by order, not by time: a hair before the due time a triggered
StatusNotification goes out and the retry does not; at the due time the retry goes.
"""

import asyncio

from ocpp.v16 import call

from devcsms import CallError, NoAnswer
from devcsms.recording import TO_CP
from tests.integration.agent import ManualClock, running_agent, write_site

STATION = "CP-IT"
HAIR_S = 0.001


def starts_of(csms, id_tag):
    return [f for f in csms.messages("StartTransaction") if f.payload["idTag"] == id_tag]


async def queue_lines(cp):
    return await cp.console("queue")


async def start_session(cp, tag):
    await cp.console("sim plug 1")
    await cp.console(f"sim tap {tag}")
    await cp.until(lambda: cp.station.connectors[1].tx is not None)


async def end_session(cp):
    await cp.console("sim unplug 1")
    await cp.until(lambda: cp.station.connectors[1].transaction_ended())


async def failed_transmissions(cp, attempts):
    """Wait until the head has failed ``attempts`` times; returns (the wait the outbox
    scheduled, s on the retry clock; the persisted next-attempt time, agent-clock epoch s)."""
    outbox = cp.agent.outbox
    await cp.until(lambda: outbox.snapshot().head_attempts == attempts
                   and outbox.scheduled_wait_s() is not None)
    return outbox.scheduled_wait_s(), outbox.snapshot().head_next_attempt_at_s


async def retry_when_due(cp, csms, clock, tag, sent):
    """Move the retry clock to a hair before the head is due and prove it is not sent
    then (a StatusNotification triggered now goes out first, which the queue's order
    would not allow a due head); then move it to the due time and wake the link."""
    outbox = cp.agent.outbox
    clock.advance(outbox.scheduled_wait_s() - HAIR_S)
    cp.agent.link.wake()
    mark = csms.mark()
    assert await csms.call(STATION, call.TriggerMessage(
        requested_message="StatusNotification", connector_id=1)) == {"status": "Accepted"}
    await csms.wait_for("StatusNotification", after=mark)
    assert len(starts_of(csms, tag)) == sent, "retransmitted before it was due"
    assert 0 < outbox.scheduled_wait_s() < 2 * HAIR_S
    clock.advance(outbox.scheduled_wait_s())  # exactly the due time (Sterbenz: exact)
    cp.agent.link.wake()


async def test_callerrors_are_retried_with_growing_waits_then_dropped_with_what_follows(
        csms, tmp_path):
    defaults = {"TransactionMessageAttempts": 3, "TransactionMessageRetryInterval": 1,
                "MeterValueSampleInterval": 1}
    csms.script("StartTransaction", CallError("InternalError", "db down"), always=True)
    clock = ManualClock()
    site = write_site(tmp_path, csms.url, defaults=defaults)
    async with running_agent(site, retry_clock=clock) as cp:
        agent_clock = cp.agent.runtime.clock
        await csms.wait_for("StatusNotification")
        before_s = agent_clock.now()
        await start_session(cp, "7E770001")
        first_wait_s, first_at_s = await failed_transmissions(cp, 1)
        after_s = agent_clock.now()
        await retry_when_due(cp, csms, clock, "7E770001", sent=1)
        await csms.wait_for("StartTransaction", after=0,
                            predicate=lambda f: len(starts_of(csms, "7E770001")) == 2)
        second_wait_s, second_at_s = await failed_transmissions(cp, 2)
        second_after_s = agent_clock.now()
        await retry_when_due(cp, csms, clock, "7E770001", sent=2)
        third = await csms.wait_for("StartTransaction", after=0,
                                    predicate=lambda f: len(starts_of(csms, "7E770001")) == 3)
        await end_session(cp)  # its stop (and meter values) can name no transaction
        csms.clear_scripts()
        await start_session(cp, "7E770002")
        next_start = await csms.wait_for("StartTransaction",
                                         lambda f: f.payload["idTag"] == "7E770002",
                                         after=third.seq)
        await end_session(cp)
        stop = await csms.wait_for("StopTransaction", after=next_start.seq)
        lines = await queue_lines(cp)

    sent = starts_of(csms, "7E770001")
    assert len(sent) == 3 and all(f.payload == sent[0].payload for f in sent)
    # Transmission n failed: the next one waits interval x n.
    assert (first_wait_s, second_wait_s) == (1.0, 2.0)
    # Persisted for a restart: the failure's time on the agent clock (bracketed by two
    # readings of that non-decreasing clock) plus the wait.
    assert before_s + 1.0 <= first_at_s <= after_s + 1.0
    assert after_s + 2.0 <= second_at_s <= second_after_s + 2.0
    # Nothing of the dropped transaction reached the CSMS, before or after the next one.
    second_id = next(f for f in csms.frames if f.direction == TO_CP
                     and f.request_seq == next_start.seq).payload["transactionId"]
    for frame in csms.messages(after=third.seq):
        if frame.action in ("MeterValues", "StopTransaction"):
            assert frame.payload.get("transactionId") == second_id, frame
    assert stop.payload["transactionId"] == second_id
    totals = next(line for line in lines if line.startswith("totals:"))
    assert totals.startswith("totals: 3 failed transmission(s), ")
    dropped = int(totals.split(", ")[1].split(" dropped")[0])
    assert dropped >= 2  # the start, its stop, and its meter values if any were queued


async def test_no_answer_is_a_failed_transmission_and_is_retried(csms, tmp_path):
    call_timeout_s = 1.0
    site = write_site(tmp_path, csms.url,
                      defaults={"TransactionMessageAttempts": 2,
                                "TransactionMessageRetryInterval": 1},
                      ocpp={"call_timeout_s": call_timeout_s, "unanswered_calls_max": 0})
    csms.script("StartTransaction", NoAnswer())
    clock = ManualClock()
    async with running_agent(site, retry_clock=clock) as cp:
        await csms.wait_for("StatusNotification")
        loop = asyncio.get_running_loop()
        tapped_s = loop.time()  # before the transmission, so before its timeout started
        await start_session(cp, "7E770003")
        wait_s, _ = await failed_transmissions(cp, 1)
        # A causal bound, not a tolerance: the call timed out no earlier than
        # call_timeout_s after it was sent, after ``tapped_s``; load only lengthens it.
        assert loop.time() - tapped_s >= call_timeout_s
        await retry_when_due(cp, csms, clock, "7E770003", sent=1)
        await csms.wait_for("StartTransaction", after=0,
                            predicate=lambda f: len(starts_of(csms, "7E770003")) == 2)
        await cp.until(lambda: cp.station.connectors[1].tx.transaction_id is not None)
        lines = await queue_lines(cp)
    first, second = starts_of(csms, "7E770003")
    assert wait_s == 1.0  # interval x 1 preceding transmission
    assert not [f for f in csms.frames if f.direction == TO_CP and f.request_seq == first.seq]
    assert second.payload == first.payload
    assert "totals: 1 failed transmission(s), 0 dropped" in "\n".join(lines)


async def test_the_attempt_count_and_the_next_attempt_time_survive_a_restart(csms, tmp_path):
    interval_s = 60  # on the manual clock it costs no real time, and makes "kept" visible
    site = write_site(tmp_path, csms.url,
                      defaults={"TransactionMessageAttempts": 3,
                                "TransactionMessageRetryInterval": interval_s})
    csms.script("StartTransaction", CallError("InternalError"), always=True)
    async with running_agent(site, retry_clock=ManualClock()) as cp:
        await csms.wait_for("StatusNotification")
        before_s = cp.agent.runtime.clock.now()
        await start_session(cp, "7E770004")
        first = await csms.wait_for("StartTransaction")
        first_wait_s, next_at_s = await failed_transmissions(cp, 1)
        after_s = cp.agent.runtime.clock.now()
    # A graceful stop queued a StopTransaction(Reboot) behind the start.
    clock = ManualClock(start_s=50.0)  # a new process: a new monotonic origin
    async with running_agent(site, retry_clock=clock) as cp:
        restarted_s = cp.agent.runtime.clock.now()
        resumed_wait_s, resumed_at_s = await failed_transmissions(cp, 1)
        looked_s = cp.agent.runtime.clock.now()
        assert len(starts_of(csms, "7E770004")) == 1  # the wait was resumed, not skipped
        await retry_when_due(cp, csms, clock, "7E770004", sent=1)
        await csms.wait_for("StartTransaction", after=first.seq + 1,
                            predicate=lambda f: len(starts_of(csms, "7E770004")) == 2)
        second_wait_s, _ = await failed_transmissions(cp, 2)
        await retry_when_due(cp, csms, clock, "7E770004", sent=2)
        third = await csms.wait_for("StartTransaction", after=first.seq + 1,
                                    predicate=lambda f: len(starts_of(csms, "7E770004")) == 3)
        await cp.until(lambda: cp.agent.outbox.stats()[0] == 0)
        csms.clear_scripts()
        await start_session(cp, "7E770005")
        later = await csms.wait_for("StartTransaction",
                                    lambda f: f.payload["idTag"] == "7E770005",
                                    after=third.seq)
        later_reply = await csms.wait_frame(lambda f: f.request_seq == later.seq,
                                            direction=TO_CP)
    sent = starts_of(csms, "7E770004")
    assert len(sent) == 3  # one before the restart, two after: three in all
    assert first_wait_s == interval_s
    assert before_s + interval_s <= next_at_s <= after_s + interval_s
    # After the restart: the rest of the persisted wait, no more and no less (the agent
    # clock read before and after the outbox first looked at it brackets that moment).
    assert resumed_at_s == next_at_s
    assert next_at_s - looked_s <= resumed_wait_s <= next_at_s - restarted_s
    assert 0 < resumed_wait_s < interval_s
    assert second_wait_s == 2 * interval_s  # the attempt count survived the restart
    # The Reboot stop of the dropped transaction never went out; the only stop is the
    # later session's, ended by the test's graceful stop.
    assert [f.payload["transactionId"] for f in csms.messages("StopTransaction")] == [
        later_reply.payload["transactionId"]]


async def test_a_meter_values_callerror_holds_back_later_messages_until_it_goes_through(
        csms, tmp_path):
    site = write_site(tmp_path, csms.url, defaults={"MeterValueSampleInterval": 1,
                                                    "TransactionMessageRetryInterval": 1})
    async with running_agent(site) as cp:
        await csms.wait_for("StatusNotification", timeout_s=10)
        csms.script("MeterValues", CallError("InternalError"))
        await start_session(cp, "7E770006")
        refused = await csms.wait_for("MeterValues", timeout_s=15)
        retried = await csms.wait_for("MeterValues", after=refused.seq + 1, timeout_s=15)
        await cp.console("sim tap 7E770006")
        stop = await csms.wait_for("StopTransaction", after=retried.seq, timeout_s=15)
    assert retried.payload == refused.payload
    values = csms.messages("MeterValues", after=retried.seq)
    stamps = [v.payload["meterValue"][0]["timestamp"] for v in [retried] + values]
    assert stamps == sorted(stamps)
    assert all(v.seq < stop.seq for v in values)
