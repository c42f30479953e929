"""The record: every frame both ways, violations for bad charge-point frames, marks and waits, printing."""

import pytest
from ocpp.v16 import call

from devcsms import CALL, CALLERROR, CALLRESULT, CallErrorReceived, DevCsms, WaitTimeout

from .devcsms_client import UTC_TIMESTAMP, connected_charge_point

BOOT = call.BootNotification(charge_point_vendor="Borne", charge_point_model="AC-22-1C")


async def test_every_frame_is_recorded_in_both_directions_with_links(csms):
    async with connected_charge_point(csms.url, "CP-7") as charge_point:
        await charge_point.call(BOOT)
    request, reply = csms.messages(direction=None)
    assert (request.direction, request.station, request.message_type, request.action) == (
        "from_cp",
        "CP-7",
        CALL,
        "BootNotification",
    )
    assert (reply.direction, reply.message_type, reply.action, reply.request_seq) == ("to_cp", CALLRESULT, "BootNotification", request.seq)
    assert reply.unique_id == request.unique_id
    assert request.raw.startswith('[2,"') and reply.raw.startswith('[3,"')
    assert request.monotonic_s <= reply.monotonic_s
    assert reply.wall_time.tzinfo is not None


async def test_timestamp_without_time_zone_is_a_violation(csms):
    async with connected_charge_point(csms.url, "CP-1") as charge_point:
        await charge_point.call(BOOT)
        # The library's own validation does not check formats: the call goes through and is answered.
        reply = await charge_point.call(
            call.StartTransaction(connector_id=1, id_tag="T1", meter_start=0, timestamp="2025-03-01T12:00:00"),
            suppress=False,
        )
    assert reply.transaction_id == 1001
    start = csms.messages("StartTransaction")[0]
    assert start.violations == ("timestamp: '2025-03-01T12:00:00' is not a 'date-time'",)
    assert csms.violations == [
        f"CP-1 → StartTransaction CALL [{start.unique_id}]: timestamp: '2025-03-01T12:00:00' is not a 'date-time'"
    ]


async def test_schema_invalid_call_is_a_violation_and_so_is_the_librarys_refusal_reply(csms):
    async with connected_charge_point(csms.url, "CP-1") as charge_point:
        await charge_point.call(BOOT)
        mark = csms.mark()
        await charge_point.connection.send(
            '[2,"bad-1","StatusNotification",{"connectorId":"one","errorCode":"NoError","status":"Available"}]'
        )
        refusal = await csms.wait_frame(lambda f: f.unique_id == "bad-1", direction="to_cp", after=mark, timeout_s=5)
    assert refusal.message_type == CALLERROR and refusal.direction == "to_cp"
    assert refusal.error_code == "TypeConstraintViolation"  # the library answered; the handler never ran
    assert csms.violations == ["CP-1 → StatusNotification CALL [bad-1]: connectorId: 'one' is not of type 'integer'"]


async def test_cistring_too_long_and_unknown_action_and_malformed_frames_are_violations(csms):
    async with connected_charge_point(csms.url, "CP-1") as charge_point:
        await charge_point.call(BOOT)
        mark = csms.mark()
        await charge_point.call(call.Authorize(id_tag="X" * 21), skip_schema_validation=True)
        await charge_point.connection.send('[2,"u-1","Launch",{}]')
        await csms.wait_frame(lambda f: f.unique_id == "u-1", direction="to_cp", after=mark, timeout_s=5)
        await charge_point.connection.send("this is not json")
        await csms.wait_frame(lambda frame: frame.message_type is None, after=mark, timeout_s=5)
    assert len(csms.violations) == 3, csms.violations
    assert "idTag: 'XXXXXXXXXXXXXXXXXXXXX' is too long" in csms.violations[0]
    assert "Launch is not a request a 1.6 charge point sends" in csms.violations[1]
    assert "malformed CALL" not in csms.violations[2] and "not JSON" in csms.violations[2]


async def test_charge_point_answers_are_checked_against_the_response_schema_and_16_error_codes(csms):
    async with connected_charge_point(csms.url, "CP-1") as charge_point:
        await charge_point.call(BOOT)
        charge_point.reset_status = "Maybe"  # not a ResetStatus
        assert await csms.call("CP-1", call.Reset(type="Soft"), timeout_s=5) == {"status": "Maybe"}
        # A request the client's library refuses: it answers with the 2.0.1 spelling FormatViolation.
        with pytest.raises(CallErrorReceived) as refused:
            await csms.call("CP-1", ("ChangeConfiguration", {"key": "K", "value": "V", "x": 1}), 5, validate=False)
    assert refused.value.code == "FormatViolation"
    assert len(csms.violations) == 2, csms.violations
    assert "Reset CALLRESULT" in csms.violations[0] and "'Maybe' is not one of" in csms.violations[0]
    assert "ChangeConfiguration CALLERROR" in csms.violations[1]
    assert "'FormatViolation' is not an OCPP-J 1.6 code" in csms.violations[1]


async def test_wait_for_sees_recorded_and_future_frames_and_honours_marks(csms):
    async with connected_charge_point(csms.url, "CP-1") as charge_point:
        await charge_point.call(BOOT)
        await charge_point.call(call.Heartbeat())
        first = await csms.wait_for("Heartbeat", timeout_s=5)  # already recorded
        mark = csms.mark()
        await charge_point.call(call.Heartbeat())
        second = await csms.wait_for("Heartbeat", after=mark, timeout_s=5)
        reply = await csms.wait_for("Heartbeat", direction="to_cp", after=mark, timeout_s=5)
    assert first.seq < mark <= second.seq < reply.seq
    assert reply.request_seq == second.seq
    assert [frame.seq for frame in csms.messages("Heartbeat", after=mark)] == [second.seq]


async def test_wait_for_times_out_with_a_description_of_what_came(csms):
    async with connected_charge_point(csms.url, "CP-1") as charge_point:
        await charge_point.call(BOOT)
    with pytest.raises(WaitTimeout, match=r"no from_cp StatusNotification frame within 0.05 s.*BootNotification"):
        await csms.wait_for("StatusNotification", timeout_s=0.05)
    with pytest.raises(TimeoutError):  # WaitTimeout is a TimeoutError
        await csms.wait_connected("CP-404", timeout_s=0.05)


async def test_predicate_selects_among_frames_of_one_action(csms):
    async with connected_charge_point(csms.url, "CP-1") as charge_point:
        await charge_point.call(BOOT)
        for status in ("Preparing", "Charging"):
            await charge_point.call(call.StatusNotification(connector_id=1, error_code="NoError", status=status))
    charging = await csms.wait_for("StatusNotification", lambda f: f.payload["status"] == "Charging", timeout_s=5)
    assert charging.payload["connectorId"] == 1


async def test_printer_writes_one_readable_line_per_message():
    lines: list[str] = []
    async with DevCsms(printer=lines.append) as csms:
        async with connected_charge_point(csms.url, "CP-0001") as charge_point:
            await charge_point.call(BOOT)
            for status in ("Preparing", "Charging"):
                await charge_point.call(call.StatusNotification(connector_id=1, error_code="NoError", status=status))
            start = await charge_point.call(
                call.StartTransaction(connector_id=1, id_tag="04A2B3C4", meter_start=0, timestamp=UTC_TIMESTAMP)
            )
            await charge_point.call(
                call.MeterValues(
                    connector_id=1,
                    transaction_id=start.transaction_id,
                    meter_value=[
                        {
                            "timestamp": UTC_TIMESTAMP,
                            "sampledValue": [
                                {"value": "1234", "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
                                {"value": "7400", "measurand": "Power.Active.Import", "unit": "W"},
                            ],
                        }
                    ],
                )
            )
        await csms.wait_disconnected("CP-0001", timeout_s=5)
    text = [line.split(" ", 1)[1] for line in lines]  # drop the HH:MM:SS clock
    assert text[0].startswith("CP-0001 connected from 127.0.0.1:")
    assert text[1:] == [
        "CP-0001 → BootNotification vendor=Borne model=AC-22-1C",
        "CP-0001 ← Accepted interval=300",
        "CP-0001 → connector 1: Preparing",
        "CP-0001 → connector 1: Preparing → Charging",
        "CP-0001 → StartTransaction connector=1 idTag=04A2B3C4 meterStart=0 Wh",
        "CP-0001 ← transactionId=1001 Accepted",
        "CP-0001 → MeterValues connector=1 tx=1001 energy=1.23 kWh power=7.4 kW",
        "CP-0001 disconnected (code 1000)",
    ]


async def test_printer_flags_violations_under_their_frame():
    lines: list[str] = []
    async with DevCsms(printer=lines.append) as csms:
        async with connected_charge_point(csms.url, "CP-1") as charge_point:
            await charge_point.call(BOOT)
            await charge_point.call(
                call.StartTransaction(connector_id=1, id_tag="T", meter_start=0, timestamp="2025-03-01T12:00:00")
            )
    index = next(i for i, line in enumerate(lines) if "StartTransaction" in line)
    assert lines[index + 1] == "    !! timestamp: '2025-03-01T12:00:00' is not a 'date-time'"
