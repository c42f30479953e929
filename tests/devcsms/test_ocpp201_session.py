"""The development CSMS speaking OCPP 2.0.1 to a raw websockets station: negotiation, default answers,
policies, transactions rebuilt from TransactionEvents, CSMS-initiated calls (issue #9 item 5)."""

import asyncio
from datetime import datetime, timezone

import pytest
from ocpp.v16 import call as call16
from ocpp.v201 import call as call201

from devcsms import DevCsms
from devcsms.validation import is_rfc3339_date_time

from .devcsms_client import connected_charge_point
from .station201 import BOOT, TOKEN, TS, energy, raw_station, transaction_event


@pytest.mark.parametrize(
    ("offered", "chosen"),
    [(["ocpp2.0.1"], "ocpp2.0.1"), (["ocpp2.0.1", "ocpp1.6"], "ocpp2.0.1"), (["ocpp1.6", "ocpp2.0.1"], "ocpp1.6")],
)
async def test_the_station_s_first_offered_subprotocol_we_speak_is_chosen_j201_3_1_2(csms, offered, chosen):
    async with raw_station(csms.url, "CS-1", offered) as station:
        assert station.subprotocol == chosen
        record = await csms.wait_connected("CS-1", timeout_s=5)
    assert record.subprotocol == chosen


async def test_a_csms_limited_to_1_6_makes_a_station_offering_both_speak_1_6():
    async with DevCsms(subprotocols=("ocpp1.6",)) as csms:
        async with raw_station(csms.url, "CS-1", ["ocpp2.0.1", "ocpp1.6"]) as station:
            assert station.subprotocol == "ocpp1.6"
    with pytest.raises(ValueError, match="subprotocols"):
        DevCsms(subprotocols=("ocpp2.2",))


async def test_boot_accepted_with_interval_and_rfc3339_time_and_every_frame_recorded(csms):
    async with raw_station(csms.url, "CS-1") as station:
        reply = await station.result("BootNotification", BOOT)
        heartbeat = await station.result("Heartbeat", {})
    assert (reply["status"], reply["interval"]) == ("Accepted", 300)
    assert is_rfc3339_date_time(reply["currentTime"]) and reply["currentTime"].endswith("Z")
    assert is_rfc3339_date_time(heartbeat["currentTime"])
    boot = await csms.wait_for("BootNotification", timeout_s=5)
    assert (boot.payload, boot.direction, boot.protocol) == (BOOT, "from_cp", "ocpp2.0.1")
    answer = await csms.wait_for("BootNotification", direction="to_cp", timeout_s=5)
    assert answer.request_seq == boot.seq and answer.payload == reply
    assert csms.violations == []


async def test_pending_allows_only_triggered_requests_b02():
    async with DevCsms(boot_status="Pending", boot_interval_s=7) as csms:
        async with raw_station(csms.url, "CS-1") as station:
            reply = await station.result("BootNotification", BOOT)
            assert (reply["status"], reply["interval"]) == ("Pending", 7)
            trigger = asyncio.create_task(
                csms.call("CS-1", call201.TriggerMessage(requested_message="Heartbeat"), timeout_s=5)
            )
            request = await station.receive()
            assert request[2:] == ["TriggerMessage", {"requestedMessage": "Heartbeat"}]
            await station.send(f'[3,"{request[1]}",{{"status":"Accepted"}}]')
            assert await trigger == {"status": "Accepted"}
            await station.result("Heartbeat", {})  # triggered: allowed
            assert csms.violations == []
            await station.result(
                "StatusNotification", {"timestamp": TS, "connectorStatus": "Available", "evseId": 1, "connectorId": 1}
            )
    assert len(csms.violations) == 1
    assert "StatusNotification sent while Pending without a TriggerMessage" in csms.violations[0]


async def test_rejected_boot_other_requests_get_security_error_until_accepted_b03():
    async with DevCsms(boot_status="Rejected", boot_interval_s=60) as csms:
        async with raw_station(csms.url, "CS-1") as station:
            reply = await station.result("BootNotification", BOOT)
            assert (reply["status"], reply["interval"]) == ("Rejected", 60)
            refused = await station.call("Heartbeat", {}, message_id="h1")
            assert refused[:3] == [4, "h1", "SecurityError"]
            assert len(csms.violations) == 1 and "Rejected" in csms.violations[0]

            csms.boot.status = "Accepted"
            assert (await station.result("BootNotification", BOOT))["status"] == "Accepted"
            await station.result("Heartbeat", {})
    assert len(csms.violations) == 1


async def test_authorize_maps_the_tag_rules_to_id_token_info():
    expiry = datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    async with DevCsms(tag_rules={"BLOCKED1": "Blocked", "LATE1": "NotAtThisTime"}) as csms:
        csms.authorization.set("CHILD1", "Accepted", parent_id_tag="PARENT1", expiry_date=expiry)
        async with raw_station(csms.url, "CS-1") as station:
            await station.result("BootNotification", BOOT)
            answers = {
                tag: (await station.result("Authorize", {"idToken": {"idToken": tag, "type": "ISO14443"}}))[
                    "idTokenInfo"
                ]
                for tag in ("ANYONE", "BLOCKED1", "LATE1", "CHILD1")
            }
    assert answers == {
        "ANYONE": {"status": "Accepted"},
        "BLOCKED1": {"status": "Blocked"},
        "LATE1": {"status": "NotAtThisTime"},
        "CHILD1": {
            "status": "Accepted",
            "groupIdToken": {"idToken": "PARENT1", "type": "Central"},
            "cacheExpiryDateTime": "2030-01-02T03:04:05.000Z",
        },
    }
    assert csms.violations == []


async def test_a_2_0_1_only_status_is_answered_invalid_to_a_1_6_charge_point():
    async with DevCsms(tag_rules={"LATE1": "NotAtThisTime"}) as csms:
        async with connected_charge_point(csms.url, "CP-1") as charge_point:
            await charge_point.call(call16.BootNotification(charge_point_vendor="B", charge_point_model="M"))
            reply = await charge_point.call(call16.Authorize(id_tag="LATE1"), suppress=False)
    assert reply.id_tag_info == {"status": "Invalid"}
    assert csms.violations == []


async def test_transaction_events_answer_id_token_info_and_rebuild_the_transaction():
    async with DevCsms(tag_rules={"BAD1": "Invalid"}) as csms:
        async with raw_station(csms.url, "CS-1") as station:
            await station.result("BootNotification", BOOT)
            started = await station.result(
                "TransactionEvent",
                transaction_event("Started", 0, evse={"id": 1, "connectorId": 1}, idToken=TOKEN, meterValue=energy(120)),
            )
            updated = await station.result("TransactionEvent", transaction_event("Updated", 1, meterValue=energy(900)))
            ended = await station.result("TransactionEvent", transaction_event("Ended", 2, meterValue=energy(2120)))
            refused = await station.result(
                "TransactionEvent",
                transaction_event("Started", 0, "tx-2", idToken={"idToken": "BAD1", "type": "ISO14443"}),
            )
    assert started == {"idTokenInfo": {"status": "Accepted"}}
    assert updated == {} and ended == {}
    assert refused == {"idTokenInfo": {"status": "Invalid"}}

    transactions = csms.transactions
    assert sorted(transactions) == ["tx-1", "tx-2"]
    view = transactions["tx-1"]
    assert (view.station, view.evse_id, view.connector_id, view.id_token) == ("CS-1", 1, 1, "04A2B3C4")
    assert view.seq_nos == [0, 1, 2] and len(view.replies) == 3 and len(view.ends) == 1
    assert (view.stopped, view.stopped_reason, view.energy_wh) == (True, "EVDisconnected", 2000.0)
    assert not transactions["tx-2"].stopped
    assert csms.violations == []


async def test_the_other_station_requests_get_schema_valid_default_answers(csms):
    requests = {
        "StatusNotification": {"timestamp": TS, "connectorStatus": "Occupied", "evseId": 1, "connectorId": 1},
        "MeterValues": {"evseId": 0, "meterValue": energy(1234.5)},
        "NotifyReport": {"requestId": 1, "generatedAt": TS, "seqNo": 0, "tbc": False},
        "SecurityEventNotification": {"type": "StartupOfTheDevice", "timestamp": TS},
        "FirmwareStatusNotification": {"status": "Idle"},
        "LogStatusNotification": {"status": "Idle"},
        "DataTransfer": {"vendorId": "com.example"},
    }
    async with raw_station(csms.url, "CS-1") as station:
        await station.result("BootNotification", BOOT)
        answers = {action: await station.result(action, payload) for action, payload in requests.items()}
    assert answers["DataTransfer"] == {"status": "UnknownVendorId"}
    assert all(answer == {} for action, answer in answers.items() if action != "DataTransfer")
    assert csms.violations == []


async def test_csms_calls_take_v201_dataclasses_and_check_the_answer(csms):
    async with raw_station(csms.url, "CS-1") as station:
        await station.result("BootNotification", BOOT)
        pending = asyncio.create_task(
            csms.call("CS-1", call201.RequestStopTransaction(transaction_id="tx-1"), timeout_s=5)
        )
        request = await station.receive()
        assert request[2:] == ["RequestStopTransaction", {"transactionId": "tx-1"}]
        await station.send(f'[3,"{request[1]}",{{"status":"Stopped"}}]')  # not a RequestStartStopStatus
        assert await pending == {"status": "Stopped"}
        assert any("RequestStopTransaction CALLRESULT" in violation for violation in csms.violations)

        with pytest.raises(ValueError, match="use ocpp.v201.call"):
            await csms.call("CS-1", call16.RemoteStopTransaction(transaction_id=1))
        with pytest.raises(ValueError, match="OCPP 2.0.1 schema"):
            await csms.call("CS-1", ("RequestStopTransaction", {"transactionId": 7}))
