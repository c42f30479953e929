"""Bad frames from a 2.0.1 station: each is recorded as a violation and answered with the CALLERROR
OCPP-J 2.0.1 prescribes ([J201] §4.2.3, §4.3, §4.4); seqNo rules; the 2.0.1 frame checks and lines."""

import json

import pytest

from devcsms import DevCsms, NoAnswer
from devcsms.v201 import OCPP201, ERROR_DESCRIPTION_MAX_CHARS
from devcsms.validation import CALLERROR, parse_frame, payload_problems

from .station201 import BOOT, TS, raw_station, transaction_event

LONG_ID = "u" * 37


@pytest.mark.parametrize(
    ("text", "message_id", "code"),
    [
        ("hello", "-1", "RpcFrameworkError"),  # §4.2.3: MessageId unreadable → "-1"
        ('{"a":1}', "-1", "RpcFrameworkError"),
        ("[2]", "-1", "RpcFrameworkError"),
        ('[2,17,"Heartbeat",{}]', "-1", "RpcFrameworkError"),
        (f'[2,"{LONG_ID}","Heartbeat",{{}}]', "-1", "RpcFrameworkError"),
        ('[2,"m1","MeterValues",{"evseId":0,"meterValue":[{"timestamp":"2025-03-01T12:00:00Z",'
         '"sampledValue":[{"value":NaN}]}]}]', "-1", "RpcFrameworkError"),  # NaN is not JSON
        ("[" * 100_000 + "]" * 100_000, "-1", "RpcFrameworkError"),  # nesting deeper than any parser goes
        ('[2,"m1","Heartbeat",{"n":' + "9" * 5000 + "}]", "-1", "RpcFrameworkError"),  # over-long number
        ('[2,"m1","Heartbeat"]', "m1", "RpcFrameworkError"),
        ('[2,"m1",42,{}]', "m1", "RpcFrameworkError"),
        ('[5,"m1",{}]', "m1", "MessageTypeNotSupported"),  # §4.4
        ('["2","m1","Heartbeat",{}]', "m1", "MessageTypeNotSupported"),
        ("[[]]", "-1", "MessageTypeNotSupported"),  # found by the fuzz test: it used to crash the record
        ('[2,"m1","NoSuchAction",{}]', "m1", "NotImplemented"),  # §4.3: "Requested Action is not known"
        ('[2,"m1","Reset",{"type":"Immediate"}]', "m1", "NotSupported"),  # a CSMS → station request
        ('[2,"m1","Heartbeat",[]]', "m1", "FormatViolation"),
        ('[2,"m1","Heartbeat",{"extra":1}]', "m1", "FormatViolation"),
        (
            '[2,"m1","StatusNotification",{"timestamp":"2025-03-01T12:00:00","connectorStatus":"Available",'
            '"evseId":1,"connectorId":1}]',
            "m1",
            "FormatViolation",  # a date-time without zone (RFC 3339 enforced)
        ),
        ('[2,"m1","Authorize",{}]', "m1", "OccurrenceConstraintViolation"),
        ('[2,"m1","Authorize",{"idToken":{"idToken":7,"type":"ISO14443"}}]', "m1", "TypeConstraintViolation"),
        ('[2,"m1","Authorize",{"idToken":{"idToken":"X","type":"Magic"}}]', "m1", "PropertyConstraintViolation"),
    ],
)
async def test_a_bad_frame_is_a_violation_and_gets_the_2_0_1_callerror(csms, text, message_id, code):
    async with raw_station(csms.url, "CS-1") as station:
        await station.result("BootNotification", BOOT)
        mark = csms.mark()
        await station.send(text)
        reply = await station.receive()
        assert reply[:3] == [CALLERROR, message_id, code]
        assert len(reply) == 5 and isinstance(reply[3], str) and len(reply[3]) <= ERROR_DESCRIPTION_MAX_CHARS
        assert isinstance(reply[4], dict)
        # the session survives: the next request is served
        assert (await station.result("Heartbeat", {}))["currentTime"]
    bad, refusal = csms.frames[mark], csms.frames[mark + 1]
    assert (bad.direction, bad.raw, refusal.direction) == ("from_cp", text, "to_cp")
    assert bad.violations and len(csms.violations) == len(bad.violations)  # that frame's, nothing else


async def test_callresults_and_callerrors_are_never_answered_even_when_broken(csms):
    async with raw_station(csms.url, "CS-1") as station:
        await station.result("BootNotification", BOOT)
        await station.send('[3,"nobody-asked",{}]')
        await station.send('[4,"nobody-asked","FormationViolation","",{}]')  # a 1.6 code
        heartbeat = await station.call("Heartbeat", {}, message_id="h1")
    assert heartbeat[:2] == [3, "h1"]  # the next frame is the Heartbeat's answer: nothing else was sent
    assert any("answers no open CSMS CALL" in violation for violation in csms.violations)
    assert any("not an OCPP-J 2.0.1 code" in violation for violation in csms.violations)


async def test_a_seq_no_gap_in_a_transaction_is_a_violation(csms):
    async with raw_station(csms.url, "CS-1") as station:
        await station.result("BootNotification", BOOT)
        await station.result("TransactionEvent", transaction_event("Started", 0))
        await station.result("TransactionEvent", transaction_event("Updated", 1))
        await station.result("TransactionEvent", transaction_event("Updated", 1))  # a retry: fine
        assert csms.violations == []
        await station.result("TransactionEvent", transaction_event("Updated", 3))
        await station.result("TransactionEvent", transaction_event("Started", 0, "tx-other"))  # own counter
        await station.result("TransactionEvent", transaction_event("Ended", 2))
        await station.result("TransactionEvent", transaction_event("Updated", 4))
    problems = [violation.split(": ", 1)[1] for violation in csms.violations]
    assert problems == [
        "seqNo gap in transaction tx-1: 1 then 3 (missing 2)",
        "seqNo of transaction tx-1 went back from 3 to 2",
        "TransactionEvent Updated after transaction tx-1 Ended",
    ]


async def test_requests_before_the_boot_is_answered_are_violations_b01(csms):
    async with raw_station(csms.url, "CS-1") as station:
        await station.result("Heartbeat", {})  # never booted in our record: not judged
        csms.script("BootNotification", NoAnswer())
        await station.send(json.dumps([2, "b1", "BootNotification", BOOT]))
        await station.call("Heartbeat", {}, message_id="h1")
    assert csms.violations == [
        "CS-1 → Heartbeat CALL [h1]: Heartbeat sent before its BootNotification was answered (OCPP 2.0.1 B01/B02)"
    ]


async def test_one_readable_line_per_2_0_1_message():
    lines: list[str] = []
    async with DevCsms(printer=lines.append) as csms:
        async with raw_station(csms.url, "CS-1") as station:
            await station.result("BootNotification", {**BOOT, "chargingStation": {**BOOT["chargingStation"],
                                                                                   "firmwareVersion": "1.2.0"}})
            for status in ("Available", "Occupied"):
                await station.result(
                    "StatusNotification", {"timestamp": TS, "connectorStatus": status, "evseId": 1, "connectorId": 1}
                )
            await station.result(
                "TransactionEvent",
                transaction_event("Started", 0, evse={"id": 1, "connectorId": 1},
                                  idToken={"idToken": "04A2B3C4", "type": "ISO14443"}),
            )
            await station.send("nonsense")
            await station.receive()
    text = [line.split(" ", 1)[1] for line in lines]  # drop the clock
    assert "CS-1 → BootNotification vendor=Borne model=AC-22-1C firmware=1.2.0 reason=PowerUp" in text
    assert "CS-1 ← Accepted interval=300" in text
    assert "CS-1 → evse 1 connector 1: Available → Occupied" in text
    assert (
        "CS-1 → TransactionEvent Started tx=tx-1 seqNo=0 trigger=Authorized evse=1/1 idToken=04A2B3C4 (ISO14443)"
        in text
    )
    assert "CS-1 ← Accepted" in text  # the idTokenInfo of the TransactionEvent answer
    assert any(line.startswith("CS-1 ← CALLERROR RpcFrameworkError") for line in text)
    assert any(line.startswith("CS-1 connected from") and "(ocpp2.0.1)" in line for line in text)


def test_empty_optional_fields_are_violations_in_2_0_1_only_j201_4_1_5():
    # customData is the one extensible object of the 2.0.1 schemas: only §4.1.5 can catch these
    payload = {"customData": {"vendorId": "x", "notes": [], "extra": {"inner": {}}}}
    assert payload_problems(2, "Heartbeat", payload, OCPP201) == [
        "customData/notes: empty array (OCPP-J 2.0.1 §4.1.5: omit an empty optional field)",
        "customData/extra/inner: empty object (OCPP-J 2.0.1 §4.1.5: omit an empty optional field)",
    ]
    assert payload_problems(2, "Heartbeat", {}, OCPP201) == []
    assert payload_problems(2, "Heartbeat", {}) == []


def test_2_0_1_frame_checks_use_the_2_0_1_error_codes_and_schemas():
    assert parse_frame('[4,"a","FormatViolation","",{}]', OCPP201).problems == ()
    assert any("not an OCPP-J 2.0.1 code" in p for p in parse_frame('[4,"a","FormationViolation","",{}]', OCPP201).problems)
    too_long = json.dumps([4, "a", "GenericError", "x" * 256, {}])
    assert parse_frame(too_long, OCPP201).problems == ("ErrorDescription longer than 255 characters",)
    assert payload_problems(2, "Heartbeat", {}, OCPP201) == []
    assert payload_problems(2, "NoSuch", {}, OCPP201) == ["no OCPP 2.0.1 schema for NoSuchRequest"]
    assert payload_problems(3, "BootNotification", {"currentTime": "2025-03-01T12:00:00", "interval": 1,
                                                    "status": "Accepted"}, OCPP201) == [
        "currentTime: '2025-03-01T12:00:00' is not a 'date-time'"
    ]
