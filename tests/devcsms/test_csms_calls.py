"""CSMS-initiated traffic: calls with dataclasses or dicts, CALLERRORs, raw frames, disconnects."""

import asyncio
from contextlib import asynccontextmanager

import pytest
import websockets
from ocpp.v16 import call

from devcsms import CALLERROR, CALLRESULT, CallErrorReceived, StationNotConnected

from .devcsms_client import connected_charge_point

BOOT = call.BootNotification(charge_point_vendor="Borne", charge_point_model="AC-22-1C")


async def test_call_round_trip_with_a_dataclass_and_with_an_action_and_dict(csms):
    async with connected_charge_point(csms.url, "CP-1") as charge_point:
        await charge_point.call(BOOT)
        started = await csms.call("CP-1", call.RemoteStartTransaction(id_tag="04A2B3C4", connector_id=1), timeout_s=5)
        changed = await csms.call("CP-1", ("ChangeConfiguration", {"key": "HeartbeatInterval", "value": "60"}), 5)
    assert started == {"status": "Accepted"} and changed == {"status": "Accepted"}
    assert charge_point.received == [
        ("RemoteStartTransaction", {"id_tag": "04A2B3C4", "connector_id": 1}),
        ("ChangeConfiguration", {"key": "HeartbeatInterval", "value": "60"}),
    ]
    request = csms.messages("RemoteStartTransaction", direction="to_cp")[0]
    assert request.payload == {"idTag": "04A2B3C4", "connectorId": 1}
    assert csms.violations == []


async def test_callerror_from_the_charge_point_raises_with_its_code(csms):
    async with connected_charge_point(csms.url, "CP-1") as charge_point:
        await charge_point.call(BOOT)
        with pytest.raises(CallErrorReceived) as raised:
            await csms.call("CP-1", call.UnlockConnector(connector_id=1), timeout_s=5)  # the client has no handler
    assert raised.value.code == "NotImplemented"
    assert raised.value.action == "UnlockConnector"


async def test_invalid_request_is_refused_before_sending(csms):
    async with connected_charge_point(csms.url, "CP-1") as charge_point:
        await charge_point.call(BOOT)
        mark = csms.mark()
        with pytest.raises(ValueError, match="breaks the OCPP 1.6 schema"):
            await csms.call("CP-1", ("Reset", {"type": "Gentle"}), timeout_s=5)
    assert csms.messages(direction="to_cp", after=mark) == []


async def test_call_to_an_unknown_station_or_with_a_bad_request(csms):
    with pytest.raises(StationNotConnected):
        await csms.call("CP-404", call.Reset(type="Soft"))
    async with connected_charge_point(csms.url, "CP-1") as charge_point:
        await charge_point.call(BOOT)
        with pytest.raises(TypeError):
            await csms.call("CP-1", {"type": "Soft"})


@asynccontextmanager
async def silent_station(csms, station_id):
    """A websocket that boots by hand and then never reads: CSMS calls to it stay unanswered."""
    async with websockets.connect(f"{csms.url}/{station_id}", subprotocols=["ocpp1.6"]) as connection:
        await connection.send('[2,"boot","BootNotification",{"chargePointVendor":"B","chargePointModel":"M"}]')
        await csms.wait_for("BootNotification", direction="to_cp", timeout_s=5)
        yield connection


async def test_call_without_answer_times_out(csms):
    async with silent_station(csms, "CP-1"):
        with pytest.raises(TimeoutError):
            await csms.call("CP-1", call.ClearCache(), timeout_s=0.1)


async def test_pending_call_fails_when_the_station_disconnects(csms):
    async def clear_cache() -> Exception | None:
        try:
            await csms.call("CP-1", call.ClearCache(), timeout_s=5)
        except StationNotConnected as error:
            return error
        return None

    async with silent_station(csms, "CP-1") as connection:
        mark = csms.mark()
        async with asyncio.TaskGroup() as tasks:
            outcome = tasks.create_task(clear_cache())
            await csms.wait_for("ClearCache", direction="to_cp", after=mark, timeout_s=5)
            await connection.close()
    assert isinstance(outcome.result(), StationNotConnected)


async def test_send_raw_and_wait_raw_reply(csms):
    async with connected_charge_point(csms.url, "CP-1") as charge_point:
        await charge_point.call(BOOT)
        sent = await csms.send_raw("CP-1", '[2,"raw-1","Reset",{"type":"Hard"}]')
        reply = await csms.wait_raw_reply("raw-1", timeout_s=5)
        unknown = await csms.send_raw("CP-1", '[2,"raw-2","SelfDestruct",{}]')
        refusal = await csms.wait_raw_reply("raw-2", timeout_s=5)
    assert (sent.unique_id, sent.action, sent.direction) == ("raw-1", "Reset", "to_cp")
    assert (reply.message_type, reply.action, reply.payload) == (CALLRESULT, "Reset", {"status": "Accepted"})
    assert reply.request_seq == sent.seq
    assert unknown.action == "SelfDestruct"
    assert refusal.message_type == CALLERROR  # the library's answer; its code is the library's business
    assert charge_point.received == [("Reset", {"type": "Hard"})]


async def test_send_raw_accepts_garbage_and_records_it(csms):
    async with connected_charge_point(csms.url, "CP-1") as charge_point:
        await charge_point.call(BOOT)
        sent = await csms.send_raw("CP-1", "{not json")
        # The link still works after the garbage.
        assert await csms.call("CP-1", call.Reset(type="Soft"), timeout_s=5) == {"status": "Accepted"}
    assert (sent.message_type, sent.raw) == (None, "{not json")
    assert csms.violations == []  # only frames a charge point sends are judged


async def test_disconnect_from_the_csms_side_with_a_close_code(csms):
    async with connected_charge_point(csms.url, "CP-1") as charge_point:
        await charge_point.call(BOOT)
        await csms.disconnect("CP-1", code=1012, reason="restart")
        await charge_point.connection.wait_closed()
        assert charge_point.connection.close_code == 1012
        assert "CP-1" not in csms.connected_stations
        with pytest.raises(StationNotConnected):
            await csms.disconnect("CP-1")
