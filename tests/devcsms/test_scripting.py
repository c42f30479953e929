"""Scripted answers: CALLERROR, no answer, custom (even invalid) payloads, delays, disconnects; once vs always."""

import asyncio

import pytest
from ocpp.exceptions import GenericError, InternalError
from ocpp.v16 import call, call_result

from devcsms import CallError, Delay, Disconnect, NoAnswer, Reply

from .devcsms_client import connected_charge_point

BOOT = call.BootNotification(charge_point_vendor="Borne", charge_point_model="AC-22-1C")


async def test_scripted_callerror_is_sent_once_then_defaults_return(csms):
    csms.script("Heartbeat", CallError("InternalError", "database down", {"retry": True}))
    async with connected_charge_point(csms.url, "CP-1") as charge_point:
        await charge_point.call(BOOT)
        with pytest.raises(InternalError) as raised:
            await charge_point.call(call.Heartbeat(), suppress=False)
        second = await charge_point.call(call.Heartbeat(), suppress=False)
    assert (raised.value.description, raised.value.details) == ("database down", {"retry": True})
    assert second.current_time
    assert csms.violations == []  # a scripted refusal is the test's intent, not the charge point's fault


async def test_no_answer_leaves_the_call_unanswered(csms):
    csms.script("StatusNotification", NoAnswer())
    async with connected_charge_point(csms.url, "CP-1") as charge_point:
        await charge_point.call(BOOT)
        charge_point._response_timeout = 0.2  # the client gives up; nothing else is timed
        with pytest.raises(asyncio.TimeoutError):
            await charge_point.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Available"))
        unanswered = csms.messages("StatusNotification")[0]
        await charge_point.call(call.Heartbeat(), suppress=False)  # later requests are answered again
    assert [f for f in csms.frames if f.direction == "to_cp" and f.unique_id == unanswered.unique_id] == []


async def test_always_scripts_apply_to_every_call_until_cleared(csms):
    csms.script("Authorize", Reply({"idTagInfo": {"status": "Blocked"}}), always=True)
    async with connected_charge_point(csms.url, "CP-1") as charge_point:
        await charge_point.call(BOOT)
        statuses = [
            (await charge_point.call(call.Authorize(id_tag="T1"), suppress=False)).id_tag_info["status"]
            for _ in range(3)
        ]
        csms.clear_scripts("Authorize")
        after_clear = await charge_point.call(call.Authorize(id_tag="T1"), suppress=False)
    assert statuses == ["Blocked", "Blocked", "Blocked"]
    assert after_clear.id_tag_info == {"status": "Accepted"}


async def test_reply_sends_schema_invalid_payloads_verbatim(csms):
    csms.script("BootNotification", Reply({"status": "Maybe", "currentTime": "yesterday", "interval": "soon"}))
    async with connected_charge_point(csms.url, "CP-1") as charge_point:
        mark = csms.mark()
        await charge_point.connection.send('[2,"b-1","BootNotification",{"chargePointVendor":"B","chargePointModel":"M"}]')
        reply = await csms.wait_frame(lambda f: f.unique_id == "b-1", direction="to_cp", after=mark, timeout_s=5)
    assert reply.raw == '[3,"b-1",{"status":"Maybe","currentTime":"yesterday","interval":"soon"}]'


async def test_reply_accepts_a_call_result_dataclass(csms):
    csms.script("StartTransaction", Reply(call_result.StartTransaction(transaction_id=42, id_tag_info={"status": "Accepted"})))
    async with connected_charge_point(csms.url, "CP-1") as charge_point:
        await charge_point.call(BOOT)
        reply = await charge_point.call(
            call.StartTransaction(connector_id=1, id_tag="T1", meter_start=0, timestamp="2025-03-01T12:00:00Z"),
            suppress=False,
        )
    assert reply.transaction_id == 42
    assert list(csms.transactions) == [42]


async def test_delay_answers_later_with_the_default_or_the_given_responder(csms):
    csms.script("Heartbeat", Delay(0.05))
    csms.script("Heartbeat", Delay(0.0, then=CallError("GenericError")))
    async with connected_charge_point(csms.url, "CP-1") as charge_point:
        await charge_point.call(BOOT)
        delayed = await charge_point.call(call.Heartbeat(), suppress=False)
        answered = csms.messages("Heartbeat", direction=None)
        with pytest.raises(GenericError):
            await charge_point.call(call.Heartbeat(), suppress=False)
    assert delayed.current_time
    request, reply = answered
    assert reply.monotonic_s - request.monotonic_s >= 0.05
    assert csms.messages("Heartbeat", direction="to_cp")[-1].error_code == "GenericError"


async def test_delay_does_not_block_replies_to_csms_calls(csms):
    csms.script("Heartbeat", Delay(30.0))
    async with connected_charge_point(csms.url, "CP-1") as charge_point:
        await charge_point.call(BOOT)
        async with asyncio.TaskGroup() as tasks:
            heartbeat = tasks.create_task(charge_point.call(call.Heartbeat()))
            await csms.wait_for("Heartbeat", timeout_s=5)
            assert await csms.call("CP-1", call.Reset(type="Soft"), timeout_s=5) == {"status": "Accepted"}
            heartbeat.cancel()


async def test_disconnect_closes_the_websocket_instead_of_answering(csms):
    csms.script("StopTransaction", Disconnect(code=1011, reason="crash"))
    async with connected_charge_point(csms.url, "CP-1") as charge_point:
        await charge_point.call(BOOT)
        await charge_point.connection.send(
            '[2,"s-1","StopTransaction",{"transactionId":1001,"meterStop":5,"timestamp":"2025-03-01T12:00:00Z"}]'
        )
        record = await csms.wait_disconnected("CP-1", timeout_s=5)
        await charge_point.connection.wait_closed()
    assert charge_point.connection.close_code == 1011
    assert record is not None and not record.is_open


def test_script_rejects_things_that_are_not_responders(csms):
    with pytest.raises(TypeError):
        csms.script("Heartbeat", {"currentTime": "now"})
