"""Offline operation: transaction messages queued durably, delivered in order with the
CSMS's transactionId and the event's timestamps once the CSMS is back ([16] §3.7).

The CSMS goes offline the way a real one does: it closes the socket and refuses
reconnects (HTTP 503) until it comes back.
"""

from devcsms.recording import TO_CP
from devcsms.validation import CALLRESULT
from firmware.ocpp.mapping import parse_time
from tests.integration.agent import running_agent, write_site

STATION = "CP-IT"
OFFLINE = {"MeterValueSampleInterval": 1, "AllowOfflineTxForUnknownId": True}


async def go_offline(csms, cp):
    csms.refuse_connections = True
    await csms.disconnect(STATION)
    await cp.until(lambda: not cp.agent.link.connected)


def queued(cp) -> int:
    return cp.agent.outbox.stats()[0]


def energy(frame) -> float:
    return float(frame.payload["meterValue"][0]["sampledValue"][0]["value"])


def stamp(frame) -> float:
    return parse_time(frame.payload["meterValue"][0]["timestamp"])


def accepted(csms, action, after=0):
    """CALLs of ``action`` the CSMS answered with a CALLRESULT, a repeat of the one
    before left out: a CALL whose answer the outage cut off is sent again, identical."""
    answered = {f.request_seq for f in csms.frames
                if f.direction == TO_CP and f.message_type == CALLRESULT}
    out = []
    for frame in csms.messages(action, after=after):
        if frame.seq in answered and not (out and out[-1].payload == frame.payload):
            out.append(frame)
    return out


async def transaction_id_of(csms, start):
    reply = await csms.wait_frame(lambda f: f.request_seq == start.seq, direction=TO_CP)
    return reply.payload["transactionId"]


async def test_a_whole_session_offline_reaches_the_csms_in_order_with_its_real_id(csms, tmp_path):
    async with running_agent(write_site(tmp_path, csms.url, defaults=OFFLINE)) as cp:
        await csms.wait_for("StatusNotification", timeout_s=10)
        await go_offline(csms, cp)
        await cp.console("sim plug 1")
        await cp.console("sim tap 0FF11E01")
        await cp.until(lambda: queued(cp) >= 4)  # start + 3 meter values
        await cp.console("sim tap 0FF11E01")
        await cp.console("sim unplug 1")
        await cp.until(lambda: cp.station.connectors[1].transaction_ended())
        stopped_at_s = cp.agent.runtime.clock.now()
        mark = csms.mark()
        csms.refuse_connections = False
        stop = await csms.wait_for("StopTransaction", after=mark, timeout_s=10)

    start = csms.messages("StartTransaction")[0]
    assert start.seq >= mark and start.payload["idTag"] == "0FF11E01"
    transaction_id = await transaction_id_of(csms, start)
    values = accepted(csms, "MeterValues", after=start.seq)
    assert len(values) >= 3
    assert all(v.payload["transactionId"] == transaction_id for v in values)
    assert all(start.seq < v.seq < stop.seq for v in values)
    assert stop.payload["transactionId"] == transaction_id and stop.payload["reason"] == "Local"
    # The event's timestamps, not the delivery's: all before the link came back.
    assert parse_time(start.payload["timestamp"]) < parse_time(stop.payload["timestamp"])
    assert parse_time(stop.payload["timestamp"]) <= stopped_at_s + 0.01
    stamps = [stamp(v) for v in values]
    assert stamps == sorted(stamps)
    assert all(0.5 <= b - a <= 1.6 for a, b in zip(stamps, stamps[1:])), stamps
    energies = [energy(v) for v in values]
    assert start.payload["meterStart"] <= energies[0] and energies == sorted(energies)
    assert energies[-1] <= stop.payload["meterStop"]


async def test_meter_values_keep_their_spacing_across_an_outage_and_a_stop_while_offline(
        csms, tmp_path):
    async with running_agent(write_site(tmp_path, csms.url, defaults=OFFLINE)) as cp:
        await csms.wait_for("StatusNotification", timeout_s=10)
        await cp.console("sim plug 1")
        await cp.console("sim tap 0FF11E02")
        start = await csms.wait_for("StartTransaction", timeout_s=5)
        await csms.wait_for("MeterValues", after=start.seq, timeout_s=5)
        await go_offline(csms, cp)
        await cp.until(lambda: queued(cp) >= 4)  # 4 s of values, offline
        await cp.console("sim tap 0FF11E02")
        await cp.until(lambda: cp.station.connectors[1].transaction_ended())
        mark = csms.mark()
        csms.refuse_connections = False
        stop = await csms.wait_for("StopTransaction", after=mark, timeout_s=10)

    transaction_id = await transaction_id_of(csms, start)
    assert len(csms.messages("StartTransaction")) == 1
    values = accepted(csms, "MeterValues", after=start.seq)
    assert all(v.payload["transactionId"] == transaction_id for v in values)
    assert stop.payload["transactionId"] == transaction_id
    assert any(v.seq >= mark for v in values), "no value was queued during the outage"
    stamps = [stamp(v) for v in values]
    # Periodic values every second, the outage included: no hole, no burst.
    assert all(0.5 <= b - a <= 1.6 for a, b in zip(stamps, stamps[1:])), stamps
    assert max(energy(v) for v in values) <= stop.payload["meterStop"]


async def test_an_authorize_overtakes_the_backlog_while_it_is_replayed(csms, tmp_path):
    site = write_site(tmp_path, csms.url, defaults={"AllowOfflineTxForUnknownId": True},
                      ocpp={"replay_max_per_s": 4.0})
    async with running_agent(site) as cp:
        await csms.wait_for("StatusNotification", timeout_s=10)
        await go_offline(csms, cp)
        for n in range(3):
            await cp.console("sim plug 1")
            await cp.console(f"sim tap 0FF1CE0{n}")
            await cp.until(lambda: cp.station.connectors[1].tx is not None)
            await cp.console("sim unplug 1")
            await cp.until(lambda: cp.station.connectors[1].transaction_ended())
        assert queued(cp) == 6
        mark = csms.mark()
        csms.refuse_connections = False
        first = await csms.wait_for("StartTransaction", after=mark, timeout_s=10)
        await cp.console("sim tap 0FF1CE99")  # online now: asks the CSMS at once
        authorize = await csms.wait_for("Authorize", after=mark, timeout_s=5)
        last = await csms.wait_for("StopTransaction",
                                   lambda f: f.payload["transactionId"] == max(csms.transactions),
                                   after=mark, timeout_s=10)
    replayed = [f for f in csms.messages(after=mark)
                if f.action in ("StartTransaction", "StopTransaction")]
    assert len(replayed) == 6
    assert first.seq < authorize.seq < last.seq
