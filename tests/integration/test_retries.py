"""Retries of transaction messages ([16] §3.7.1, [JE] §3.2): a CALLERROR or no answer is
a failed transmission; before retransmission n+1 wait TransactionMessageRetryInterval × n;
after TransactionMessageAttempts transmissions drop the message, log and count it, and
go on with the next. The attempt count survives a restart.

A dropped StartTransaction takes its transaction's later messages with it (there is no
CSMS transactionId to file them under; see firmware/ocpp/outbox.py): the bound that
shows nothing more of it is ever sent is the next transaction's start, which the
strictly ordered queue can only deliver after everything queued before it.
"""

from devcsms import CallError, NoAnswer
from devcsms.recording import TO_CP
from tests.integration.agent import running_agent, write_site

STATION = "CP-IT"
TOLERANCE_S = 0.5  # the time the CSMS took to answer, and a loaded machine (±20 %, ocpp16-rules §2.2)


def starts_of(csms, id_tag):
    return [f for f in csms.messages("StartTransaction") if f.payload["idTag"] == id_tag]


def gaps(frames):
    return [b.monotonic_s - a.monotonic_s for a, b in zip(frames, frames[1:])]


async def queue_lines(cp):
    return await cp.console("queue")


async def start_session(cp, tag):
    await cp.console("sim plug 1")
    await cp.console(f"sim tap {tag}")
    await cp.until(lambda: cp.station.connectors[1].tx is not None)


async def end_session(cp):
    await cp.console("sim unplug 1")
    await cp.until(lambda: cp.station.connectors[1].transaction_ended())


async def test_callerrors_are_retried_with_growing_waits_then_dropped_with_what_follows(
        csms, tmp_path):
    defaults = {"TransactionMessageAttempts": 3, "TransactionMessageRetryInterval": 1,
                "MeterValueSampleInterval": 1}
    csms.script("StartTransaction", CallError("InternalError", "db down"), always=True)
    async with running_agent(write_site(tmp_path, csms.url, defaults=defaults)) as cp:
        await csms.wait_for("StatusNotification", timeout_s=10)
        await start_session(cp, "7E770001")
        third = await csms.wait_for("StartTransaction", after=0, timeout_s=10,
                                    predicate=lambda f: len(starts_of(csms, "7E770001")) == 3)
        await end_session(cp)  # its stop (and meter values) can name no transaction
        csms.clear_scripts()
        await start_session(cp, "7E770002")
        next_start = await csms.wait_for("StartTransaction",
                                         lambda f: f.payload["idTag"] == "7E770002",
                                         after=third.seq, timeout_s=10)
        await end_session(cp)
        stop = await csms.wait_for("StopTransaction", after=next_start.seq, timeout_s=10)
        lines = await queue_lines(cp)

    sent = starts_of(csms, "7E770001")
    assert len(sent) == 3 and all(f.payload == sent[0].payload for f in sent)
    first_gap, second_gap = gaps(sent)
    assert 1.0 <= first_gap <= 1.0 + TOLERANCE_S, first_gap
    assert 2.0 <= second_gap <= 2.0 + TOLERANCE_S, second_gap
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
    site = write_site(tmp_path, csms.url,
                      defaults={"TransactionMessageAttempts": 2,
                                "TransactionMessageRetryInterval": 1},
                      ocpp={"call_timeout_s": 1.0, "unanswered_calls_max": 0})
    csms.script("StartTransaction", NoAnswer())
    async with running_agent(site) as cp:
        await csms.wait_for("StatusNotification", timeout_s=10)
        await start_session(cp, "7E770003")
        await csms.wait_for("StartTransaction", after=0, timeout_s=10,
                            predicate=lambda f: len(starts_of(csms, "7E770003")) == 2)
        await cp.until(lambda: cp.station.connectors[1].tx.transaction_id is not None)
        lines = await queue_lines(cp)
    first, second = starts_of(csms, "7E770003")
    # 1 s without an answer, then 1 s (interval × 1 preceding transmission).
    assert 2.0 <= second.monotonic_s - first.monotonic_s <= 2.0 + TOLERANCE_S
    assert "totals: 1 failed transmission(s), 0 dropped" in "\n".join(lines)


async def test_the_attempt_count_and_the_next_attempt_time_survive_a_restart(csms, tmp_path):
    site = write_site(tmp_path, csms.url,
                      defaults={"TransactionMessageAttempts": 3,
                                "TransactionMessageRetryInterval": 2})
    csms.script("StartTransaction", CallError("InternalError"), always=True)
    async with running_agent(site) as cp:
        await csms.wait_for("StatusNotification", timeout_s=10)
        await start_session(cp, "7E770004")
        first = await csms.wait_for("StartTransaction", timeout_s=10)
        await csms.wait_frame(lambda f: f.request_seq == first.seq, direction=TO_CP)
        await cp.until(lambda: cp.agent.outbox.snapshot().head_attempts == 1)
    # A graceful stop queued a StopTransaction(Reboot) behind the start.
    async with running_agent(site) as cp:
        third = await csms.wait_for("StartTransaction", after=first.seq + 1, timeout_s=15,
                                    predicate=lambda f: len(starts_of(csms, "7E770004")) == 3)
        await cp.until(lambda: cp.agent.outbox.stats()[0] == 0)
        csms.clear_scripts()
        await start_session(cp, "7E770005")
        later = await csms.wait_for("StartTransaction",
                                    lambda f: f.payload["idTag"] == "7E770005",
                                    after=third.seq, timeout_s=10)
        later_reply = await csms.wait_frame(lambda f: f.request_seq == later.seq,
                                            direction=TO_CP)
    sent = starts_of(csms, "7E770004")
    assert len(sent) == 3  # one before the restart, two after: three in all
    first_gap, second_gap = gaps(sent)
    assert first_gap >= 2.0  # the wait decided before the restart was kept
    assert 4.0 <= second_gap <= 4.0 + TOLERANCE_S
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
        refused = await csms.wait_for("MeterValues", timeout_s=5)
        retried = await csms.wait_for("MeterValues", after=refused.seq + 1, timeout_s=5)
        await cp.console("sim tap 7E770006")
        stop = await csms.wait_for("StopTransaction", after=retried.seq, timeout_s=5)
    assert retried.payload == refused.payload
    values = csms.messages("MeterValues", after=retried.seq)
    stamps = [v.payload["meterValue"][0]["timestamp"] for v in [retried] + values]
    assert stamps == sorted(stamps)
    assert all(v.seq < stop.seq for v in values)
