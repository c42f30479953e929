"""The development CSMS speaking OCPP 2.1 to a raw websockets station (issue #12 item 4): negotiation,
the 2.0.1 default answers, NotifySettlement (C18/C24, ocpp201-rules.md §9) answered and listed in
`csms.settlements`, and the CALLERROR every bad frame earns, decided by devcsms because the `ocpp`
library 2.1.0 gives an unhandled 2.1 action no reply at all (ocpp201-rules.md §10)."""

import asyncio
import json
from datetime import datetime, timezone

import pytest
from ocpp.v21 import call as call21
from ocpp.v201 import call as call201

from devcsms import DevCsms, TagRule
from devcsms.v201 import ERROR_DESCRIPTION_MAX_CHARS
from devcsms.validation import CALLERROR, is_rfc3339_date_time

from .station201 import BOOT, TOKEN, TS, raw_station, transaction_event

V21 = ("ocpp2.1",)

SETTLEMENT = {
    "pspRef": "PSP-7788-0001",
    "status": "Settled",
    "settlementAmount": 12.34,
    "settlementTime": TS,
    "transactionId": "tx-1",
}


@pytest.mark.parametrize(
    ("offered", "chosen"),
    [
        (["ocpp2.1"], "ocpp2.1"),
        (["ocpp2.1", "ocpp2.0.1", "ocpp1.6"], "ocpp2.1"),
        (["ocpp2.0.1", "ocpp2.1"], "ocpp2.0.1"),  # the station's preference decides ([J201] §3.1.2)
    ],
)
async def test_the_station_s_first_offered_subprotocol_we_speak_is_chosen_2_1_included(csms, offered, chosen):
    async with raw_station(csms.url, "CS-1", offered) as station:
        assert station.subprotocol == chosen
        record = await csms.wait_connected("CS-1", timeout_s=5)
    assert record.subprotocol == chosen


async def test_a_csms_limited_to_2_0_1_does_not_offer_2_1():
    async with DevCsms(subprotocols=("ocpp2.0.1",)) as csms:
        async with raw_station(csms.url, "CS-1", ["ocpp2.1", "ocpp2.0.1"]) as station:
            assert station.subprotocol == "ocpp2.0.1"


async def test_boot_heartbeat_answered_in_2_1_and_recorded_with_its_protocol(csms):
    async with raw_station(csms.url, "CS-1", V21) as station:
        reply = await station.result("BootNotification", BOOT)
        heartbeat = await station.result("Heartbeat", {})
    assert (reply["status"], reply["interval"]) == ("Accepted", 300)
    assert is_rfc3339_date_time(reply["currentTime"]) and is_rfc3339_date_time(heartbeat["currentTime"])
    boot = await csms.wait_for("BootNotification", timeout_s=5)
    assert (boot.payload, boot.protocol) == (BOOT, "ocpp2.1")
    assert csms.violations == []


async def test_notify_settlement_is_answered_empty_and_listed_in_settlements(csms):
    async with raw_station(csms.url, "CS-1", V21) as station:
        await station.result("BootNotification", BOOT)
        assert await station.result("NotifySettlement", SETTLEMENT) == {}
        canceled = {"pspRef": "PSP-2", "status": "Canceled", "settlementAmount": 0, "settlementTime": TS,
                    "statusInfo": "driver walked away", "vatNumber": "DE123456789",
                    "vatCompany": {"name": "Acme", "address1": "Main 1", "city": "Berlin", "country": "DE"}}
        assert await station.result("NotifySettlement", canceled) == {}
    settlements = csms.settlements
    assert [(s.station, s.psp_ref, s.status, s.settlement_amount) for s in settlements] == [
        ("CS-1", "PSP-7788-0001", "Settled", 12.34),
        ("CS-1", "PSP-2", "Canceled", 0),
    ]
    assert settlements[0].transaction_id == "tx-1" and settlements[1].transaction_id is None
    assert settlements[0].settlement_time == TS and settlements[0].reply.payload == {}
    assert csms.violations == []


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({k: v for k, v in SETTLEMENT.items() if k != "pspRef"}, "OccurrenceConstraintViolation"),
        ({**SETTLEMENT, "settlementAmount": "x"}, "TypeConstraintViolation"),
        ({**SETTLEMENT, "settlementAmount": True}, "TypeConstraintViolation"),  # a bool is no JSON number
        ({**SETTLEMENT, "status": "Paid"}, "PropertyConstraintViolation"),  # PaymentStatusEnumType
        ({**SETTLEMENT, "pspRef": "P" * 256}, "PropertyConstraintViolation"),  # pspRef ≤ 255
        ({**SETTLEMENT, "receiptUrl": "h" * 2001}, "PropertyConstraintViolation"),  # receiptUrl ≤ 2000
        ({**SETTLEMENT, "settlementTime": "2025-03-01T12:00:00"}, "FormatViolation"),  # no time zone
        ({**SETTLEMENT, "tip": 1}, "FormatViolation"),  # no such field
        ({**SETTLEMENT, "vatCompany": {"name": "Acme"}}, "OccurrenceConstraintViolation"),
    ],
)
async def test_a_malformed_notify_settlement_is_refused_and_not_listed(csms, payload, code):
    async with raw_station(csms.url, "CS-1", V21) as station:
        await station.result("BootNotification", BOOT)
        reply = await station.call("NotifySettlement", payload, message_id="s1")
        assert reply[:3] == [CALLERROR, "s1", code]
        assert len(reply[3]) <= ERROR_DESCRIPTION_MAX_CHARS and isinstance(reply[4], dict)
        assert (await station.result("Heartbeat", {}))["currentTime"]  # the session goes on
    assert csms.settlements == []
    assert csms.violations and all("NotifySettlement CALL [s1]" in violation for violation in csms.violations)


@pytest.mark.parametrize(
    ("text", "message_id", "code"),
    [
        ("garbage", "-1", "RpcFrameworkError"),
        ("[2]", "-1", "RpcFrameworkError"),
        ('[2,"m1","Heartbeat"]', "m1", "RpcFrameworkError"),
        ('[9,"m1",{}]', "m1", "MessageTypeNotSupported"),
        ('[2,"m1","NoSuchAction",{}]', "m1", "NotImplemented"),
        ('[2,"m1","NotifyQRCodeScanned",{}]', "m1", "NotImplemented"),  # not in the 2.1 schemas
        ('[2,"m1","NotifyWebPaymentStarted",{"evseId":1,"timeout":60}]', "m1", "NotSupported"),  # CSMS's
        ('[2,"m1","RequestStartTransaction",{"idToken":{"idToken":"A","type":"ISO14443"},"remoteStartId":1}]',
         "m1", "NotSupported"),
    ],
)
async def test_a_bad_frame_gets_the_2_1_callerror_that_the_library_would_not_send(csms, text, message_id, code):
    async with raw_station(csms.url, "CS-1", V21) as station:
        await station.result("BootNotification", BOOT)
        mark = csms.mark()
        await station.send(text)
        reply = await station.receive()
        assert reply[:3] == [CALLERROR, message_id, code]
        assert (await station.result("Heartbeat", {}))["currentTime"]
    assert csms.frames[mark].violations and len(csms.violations) == len(csms.frames[mark].violations)


async def test_a_valid_station_request_new_in_2_1_we_do_not_serve_is_not_supported_and_no_violation(csms):
    async with raw_station(csms.url, "CS-1", V21) as station:
        await station.result("BootNotification", BOOT)
        reply = await station.call("VatNumberValidation", {"vatNumber": "DE123456789", "evseId": 1}, "v1")
    assert reply[:3] == [CALLERROR, "v1", "NotSupported"]  # [J201] §4.3 "recognized but not supported"
    assert csms.violations == []  # the station may send it: not its fault


STREAM = {"id": 1, "pending": 0, "basetime": TS, "data": [{"t": 0.5, "v": "230.1"}]}


async def test_callresults_callerrors_and_2_1_sends_are_never_answered(csms):
    async with raw_station(csms.url, "CS-1", V21) as station:
        await station.result("BootNotification", BOOT)
        await station.send('[3,"nobody-asked",{}]')
        await station.send('[4,"nobody-asked","GenericError","",{}]')
        await station.send('[5,"nobody-asked","GenericError","",{}]')  # CALLRESULTERROR (OCPP-J 2.1)
        await station.send('[6,"s1","NotifyPeriodicEventStream",{}]')  # SEND (OCPP-J 2.1), invalid
        heartbeat = await station.call("Heartbeat", {}, message_id="h1")
    assert heartbeat[:2] == [3, "h1"]  # nothing else was sent


async def test_a_valid_2_1_send_and_callresulterror_are_recorded_checked_and_not_violations(csms):
    async with raw_station(csms.url, "CS-1", V21) as station:
        await station.result("BootNotification", BOOT)
        mark = csms.mark()
        await station.send(json.dumps([6, "s1", "NotifyPeriodicEventStream", STREAM]))
        await station.send('[5,"r1","FormatViolation","your CALLRESULT was broken",{}]')
        heartbeat = await station.call("Heartbeat", {}, message_id="h1")
    assert heartbeat[:2] == [3, "h1"]
    send, refusal = csms.frames[mark], csms.frames[mark + 1]
    assert (send.type_name, send.action, send.payload, send.violations) == ("SEND", "NotifyPeriodicEventStream",
                                                                            STREAM, ())
    assert (refusal.type_name, refusal.error_code, refusal.violations) == ("CALLRESULTERROR", "FormatViolation", ())
    assert csms.violations == []


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (json.dumps([6, "s1", "NotifyPeriodicEventStream", {**STREAM, "pending": -1}]), "pending"),
        (json.dumps([6, "s1", "NotifyPeriodicEventStream", {**STREAM, "data": []}]), "data"),
        (json.dumps([6, "s1", "Heartbeat", {}]), "Heartbeat is not a SEND message of OCPP 2.1"),
        (json.dumps([6, "s1", "../../v201/schemas/HeartbeatRequest", {}]), "is not a SEND message"),  # no lookup
        ('[6,"s1","NotifyPeriodicEventStream"]', "SEND must have 4 elements"),
        ('[5,"r1","FormationViolation","",{}]', "not an OCPP-J 2.1 code"),
        ('[5,"r1","GenericError"]', "CALLRESULTERROR must have 5 elements"),
    ],
)
async def test_a_bad_2_1_send_or_callresulterror_is_a_violation_and_still_unanswered(csms, text, problem):
    async with raw_station(csms.url, "CS-1", V21) as station:
        await station.result("BootNotification", BOOT)
        mark = csms.mark()
        await station.send(text)
        heartbeat = await station.call("Heartbeat", {}, message_id="h1")
    assert heartbeat[:2] == [3, "h1"]
    assert any(problem in violation for violation in csms.frames[mark].violations), csms.frames[mark].violations


@pytest.mark.parametrize("text", ['[6,"s1","NotifyPeriodicEventStream",{}]', '[5,"r1","GenericError","",{}]'])
async def test_a_2_0_1_station_s_send_or_callresulterror_is_still_message_type_not_supported(csms, text):
    async with raw_station(csms.url, "CS-1", ["ocpp2.0.1"]) as station:
        await station.result("BootNotification", BOOT)
        await station.send(text)
        reply = await station.receive()
    assert reply[:3] == [CALLERROR, text.split('"')[1], "MessageTypeNotSupported"]  # [J201] §4.4


async def test_rejected_boot_other_requests_get_security_error_b03(csms):
    csms.boot.status = "Rejected"
    async with raw_station(csms.url, "CS-1", V21) as station:
        await station.result("BootNotification", BOOT)
        refused = await station.call("NotifySettlement", SETTLEMENT, message_id="s1")
    assert refused[:3] == [CALLERROR, "s1", "SecurityError"]
    assert csms.settlements == []


async def test_transaction_events_of_2_1_rebuild_the_transaction_and_get_id_token_info():
    async with DevCsms(tag_rules={"BAD1": "Invalid"}) as csms:
        async with raw_station(csms.url, "CS-1", V21) as station:
            await station.result("BootNotification", BOOT)
            started = await station.result(
                "TransactionEvent",
                transaction_event("Started", 0, evse={"id": 1, "connectorId": 1}, idToken=TOKEN),
            )
            await station.result("TransactionEvent", transaction_event("Updated", 3))  # a seqNo gap
            await station.result("TransactionEvent", transaction_event("Ended", 4))
            blocked = await station.result("Authorize", {"idToken": {"idToken": "BAD1", "type": "ISO14443"}})
    assert started == {"idTokenInfo": {"status": "Accepted"}}
    assert blocked == {"idTokenInfo": {"status": "Invalid"}}
    transaction = csms.transactions["tx-1"]
    assert transaction.seq_nos == [0, 3, 4] and transaction.evse_id == 1
    assert transaction.stopped_reason == "EVDisconnected"
    assert len(csms.violations) == 1  # the 2.0.1 seqNo rule (E) holds for 2.1 too
    assert "seqNo gap in transaction tx-1: 0 then 3" in csms.violations[0]


async def test_csms_calls_take_v21_dataclasses_only(csms):
    async with raw_station(csms.url, "CS-1", V21) as station:
        await station.result("BootNotification", BOOT)
        pending = asyncio.create_task(
            csms.call("CS-1", call21.GetTariffs(evse_id=1), timeout_s=5)  # an action new in 2.1
        )
        request = await station.receive()
        assert request[2:] == ["GetTariffs", {"evseId": 1}]
        await station.send(f'[3,"{request[1]}",{{"status":"NoTariff"}}]')
        assert await pending == {"status": "NoTariff"}
        with pytest.raises(ValueError, match="use ocpp.v21.call"):
            await csms.call("CS-1", call201.RequestStopTransaction(transaction_id="tx-1"))
        with pytest.raises(ValueError, match="OCPP 2.1 schema"):
            await csms.call("CS-1", ("GetTariffs", {"evseId": "one"}))
    assert csms.violations == []


async def test_one_readable_line_per_2_1_message_like_2_0_1():
    lines: list[str] = []
    async with DevCsms(printer=lines.append) as csms:
        async with raw_station(csms.url, "CS-1", V21) as station:
            await station.result("BootNotification", BOOT)
            await station.result(
                "StatusNotification", {"timestamp": TS, "connectorStatus": "Available", "evseId": 1, "connectorId": 1}
            )
            await station.result("NotifySettlement", SETTLEMENT)
            await station.send(json.dumps([6, "s1", "NotifyPeriodicEventStream", STREAM]))
            await station.send('[5,"r1","FormatViolation","bad",{}]')
            await station.result("Heartbeat", {})
    text = [line.split(" ", 1)[1] for line in lines]
    assert "CS-1 → SEND NotifyPeriodicEventStream id=1 pending=0 basetime=2025-03-01T12:00:00Z data=[1 items]" in text
    assert "CS-1 → CALLRESULTERROR FormatViolation 'bad' [r1]" in text
    assert "CS-1 → BootNotification vendor=Borne model=AC-22-1C reason=PowerUp" in text
    assert "CS-1 → evse 1 connector 1: Available" in text
    assert "CS-1 → NotifySettlement Settled amount=12.34 pspRef=PSP-7788-0001 tx=tx-1" in text
    assert any(line.startswith("CS-1 connected from") and "(ocpp2.1)" in line for line in text)


async def test_every_combination_of_good_and_bad_settlement_fields_gets_exactly_one_right_answer(csms):
    """Through the real server and the library's v21 ChargePoint: a served NotifySettlement is answered {}
    with no violation (so the library's own checks agree with ours), a refused one gets a CALLERROR, and
    only the served ones are listed."""
    absent = object()
    variants = {
        "pspRef": [absent, "P1", "P" * 256, 5],
        "status": [absent, "Settled", "Paid"],
        "settlementAmount": [absent, 12.34, 0, "x", True, 1e300],
        "settlementTime": [absent, TS, "2025-03-01T12:00:00"],
    }
    payloads = [{}]
    for field, values in variants.items():
        payloads = [{**p, field: v} if v is not absent else p for p in payloads for v in values]
    served = 0
    async with raw_station(csms.url, "CS-1", V21) as station:
        await station.result("BootNotification", BOOT)
        for number, payload in enumerate(payloads):
            valid = (
                payload.get("pspRef") == "P1" and payload.get("status") == "Settled"
                and payload.get("settlementTime") == TS
                and type(payload.get("settlementAmount")) in (int, float)
            )
            mark = csms.mark()
            reply = await station.call("NotifySettlement", payload, message_id=f"s{number}")
            assert reply[0] == (3 if valid else CALLERROR), (payload, reply)
            assert bool(csms.frames[mark].violations) == (not valid), payload
            served += valid
    assert len(payloads) == 216 and served == 3
    assert [s.settlement_amount for s in csms.settlements] == [12.34, 0, 1e300]
    assert not any("the CSMS answered" in violation for violation in csms.violations)


async def test_a_group_and_expiry_answer_is_schema_valid_in_2_1_too():
    rule = TagRule("Accepted", parent_id_tag="FLEET-1", expiry_date=datetime(2030, 1, 1, tzinfo=timezone.utc))
    async with DevCsms(tag_rules={"04A2B3C4": rule, "DRIVER2": "NotAtThisTime"}) as csms:
        async with raw_station(csms.url, "CS-1", V21) as station:
            await station.result("BootNotification", BOOT)
            grouped = await station.result("Authorize", {"idToken": TOKEN})
            late = await station.result("Authorize", {"idToken": {"idToken": "DRIVER2", "type": "ISO14443"}})
    assert grouped["idTokenInfo"]["groupIdToken"] == {"idToken": "FLEET-1", "type": "Central"}
    assert grouped["idTokenInfo"]["cacheExpiryDateTime"].startswith("2030-01-01T00:00:00")
    assert late == {"idTokenInfo": {"status": "NotAtThisTime"}}
    assert csms.violations == []


async def test_a_csms_configured_to_make_receipts_answers_a_receipt_url_per_settlement():
    async with DevCsms(receipt_url="https://receipts.example/{station}/{psp_ref}") as csms:
        async with raw_station(csms.url, "CS-1", V21) as station:
            await station.result("BootNotification", BOOT)
            made = await station.result("NotifySettlement", SETTLEMENT)
            odd = await station.result("NotifySettlement", {**SETTLEMENT, "pspRef": "a/b c?d#"})
            csms.receipts.url_template = None  # changed between steps, like the other policies
            plain = await station.result("NotifySettlement", SETTLEMENT)
    assert made == {"receiptUrl": "https://receipts.example/CS-1/PSP-7788-0001"}
    assert odd == {"receiptUrl": "https://receipts.example/CS-1/a%2Fb%20c%3Fd%23"}  # the pspRef is percent-encoded
    assert plain == {}
    assert [s.reply.payload for s in csms.settlements] == [made, odd, plain]
    assert csms.violations == []


async def test_a_receipt_url_that_would_exceed_2000_characters_is_left_out_not_cut():
    template = "https://r.example/" + "x" * 1900 + "/{psp_ref}"
    async with DevCsms(receipt_url=template) as csms:
        async with raw_station(csms.url, "CS-1", V21) as station:
            await station.result("BootNotification", BOOT)
            short = await station.result("NotifySettlement", {**SETTLEMENT, "pspRef": "P1"})
            long = await station.result("NotifySettlement", {**SETTLEMENT, "pspRef": "/" * 255})
    assert len(short["receiptUrl"]) <= 2000 and short["receiptUrl"].endswith("/P1")
    assert long == {}  # NotifySettlementResponse.receiptUrl ≤ 2000: no receipt rather than a broken link
    assert csms.violations == []


@pytest.mark.parametrize("template", ["https://r.example/{nope}", "https://r.example/{", "https://r.example/{0}",
                                      "x" * 2001, "", "https://r.example/{psp_ref!r}"])
def test_a_bad_receipt_url_template_is_refused_at_once(template):
    with pytest.raises(ValueError, match="receipt URL"):
        DevCsms(receipt_url=template)
