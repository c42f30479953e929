"""Default answers: registration, authorization policy, transaction ids, and the boot ordering rules."""

from datetime import datetime, timezone

from ocpp.v16 import call

from devcsms import DevCsms, NoAnswer, TagRule
from devcsms.validation import is_rfc3339_date_time

from .devcsms_client import UTC_TIMESTAMP, connected_charge_point

BOOT = call.BootNotification(charge_point_vendor="Borne", charge_point_model="AC-22-1C")


async def test_boot_accepted_with_interval_and_rfc3339_time(csms):
    async with connected_charge_point(csms.url, "CP-1") as charge_point:
        reply = await charge_point.call(BOOT, suppress=False)
        heartbeat = await charge_point.call(call.Heartbeat(), suppress=False)
    assert (reply.status, reply.interval) == ("Accepted", 300)
    assert is_rfc3339_date_time(reply.current_time) and reply.current_time.endswith("Z")
    assert is_rfc3339_date_time(heartbeat.current_time)
    boot = await csms.wait_for("BootNotification", timeout_s=5)
    assert boot.payload == {"chargePointVendor": "Borne", "chargePointModel": "AC-22-1C"}
    assert csms.violations == []


async def test_pending_boot_allows_only_triggered_requests():
    async with DevCsms(boot_status="Pending", boot_interval_s=7) as csms:
        async with connected_charge_point(csms.url, "CP-1") as charge_point:
            reply = await charge_point.call(BOOT, suppress=False)
            assert (reply.status, reply.interval) == ("Pending", 7)
            answer = await csms.call("CP-1", call.TriggerMessage(requested_message="Heartbeat"), timeout_s=5)
            assert answer == {"status": "Accepted"}
            await charge_point.call(call.Heartbeat(), suppress=False)  # triggered: allowed
            assert csms.violations == []
            await charge_point.call(
                call.StatusNotification(connector_id=1, error_code="NoError", status="Available"), suppress=False
            )
        assert csms.violations == [
            "CP-1 → StatusNotification CALL "
            f"[{csms.messages('StatusNotification')[0].unique_id}]: "
            "StatusNotification sent while Pending without a TriggerMessage for it (OCPP 1.6 §4.2)"
        ]


async def test_rejected_boot_then_any_request_is_a_violation_until_accepted():
    async with DevCsms(boot_status="Rejected", boot_interval_s=60) as csms:
        async with connected_charge_point(csms.url, "CP-1") as charge_point:
            reply = await charge_point.call(BOOT, suppress=False)
            assert (reply.status, reply.interval) == ("Rejected", 60)
            await charge_point.call(call.Heartbeat(), suppress=False)
            assert len(csms.violations) == 1 and "Rejected" in csms.violations[0]

            csms.boot.status = "Accepted"
            assert (await charge_point.call(BOOT, suppress=False)).status == "Accepted"
            await charge_point.call(call.Heartbeat(), suppress=False)
        assert len(csms.violations) == 1


async def test_requests_before_the_boot_is_answered_are_violations(csms):
    csms.script("BootNotification", NoAnswer())
    async with connected_charge_point(csms.url, "CP-1") as charge_point:
        mark = csms.mark()
        await charge_point.connection.send('[2,"b1","BootNotification",{"chargePointVendor":"B","chargePointModel":"M"}]')
        await charge_point.connection.send('[2,"h1","Heartbeat",{}]')
        await csms.wait_for("Heartbeat", after=mark, timeout_s=5)
    assert csms.violations == [
        "CP-1 → Heartbeat CALL [h1]: Heartbeat sent before its BootNotification was answered Accepted or Pending "
        "(OCPP 1.6 §4.2)"
    ]


async def test_authorization_policy_default_and_per_tag_overrides():
    expiry = datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    async with DevCsms(tag_rules={"BLOCKED1": "Blocked", "EXPIRED1": "Expired"}) as csms:
        csms.authorization.set("CHILD1", "Accepted", parent_id_tag="PARENT1", expiry_date=expiry)
        csms.authorization.set("BUSY1", TagRule("ConcurrentTx"))
        csms.authorization.set("BAD1", "Invalid")
        async with connected_charge_point(csms.url, "CP-1") as charge_point:
            await charge_point.call(BOOT)
            for tag in ("ANYONE", "BLOCKED1", "EXPIRED1", "CHILD1", "BUSY1", "BAD1"):
                await charge_point.call(call.Authorize(id_tag=tag), suppress=False)
    requests = csms.messages("Authorize")
    replies = csms.messages("Authorize", direction="to_cp")
    answers = {request.payload["idTag"]: reply.payload["idTagInfo"] for request, reply in zip(requests, replies)}
    assert [reply.request_seq for reply in replies] == [request.seq for request in requests]
    assert answers == {
        "ANYONE": {"status": "Accepted"},
        "BLOCKED1": {"status": "Blocked"},
        "EXPIRED1": {"status": "Expired"},
        "CHILD1": {"status": "Accepted", "parentIdTag": "PARENT1", "expiryDate": "2030-01-02T03:04:05.000Z"},
        "BUSY1": {"status": "ConcurrentTx"},
        "BAD1": {"status": "Invalid"},
    }
    assert csms.violations == []


async def test_transaction_ids_increase_from_the_configured_first_id_and_the_view_follows():
    async with DevCsms(first_transaction_id=5000, tag_rules={"BAD1": "Invalid"}) as csms:
        async with connected_charge_point(csms.url, "CP-1") as charge_point:
            await charge_point.call(BOOT)
            first = await charge_point.call(
                call.StartTransaction(connector_id=1, id_tag="GOOD1", meter_start=120, timestamp=UTC_TIMESTAMP),
                suppress=False,
            )
            second = await charge_point.call(
                call.StartTransaction(connector_id=2, id_tag="BAD1", meter_start=7, timestamp=UTC_TIMESTAMP),
                suppress=False,
            )
            await charge_point.call(
                call.MeterValues(
                    connector_id=1,
                    transaction_id=first.transaction_id,
                    meter_value=[{"timestamp": UTC_TIMESTAMP, "sampledValue": [{"value": "1500"}]}],
                ),
                suppress=False,
            )
            stop_with_tag = await charge_point.call(
                call.StopTransaction(
                    transaction_id=first.transaction_id,
                    meter_stop=2120,
                    timestamp=UTC_TIMESTAMP,
                    id_tag="GOOD1",
                    reason="EVDisconnected",
                ),
                suppress=False,
            )
            stop_without_tag = await charge_point.call(
                call.StopTransaction(transaction_id=second.transaction_id, meter_stop=7, timestamp=UTC_TIMESTAMP),
                suppress=False,
            )
    assert (first.transaction_id, second.transaction_id) == (5000, 5001)
    assert (first.id_tag_info, second.id_tag_info) == ({"status": "Accepted"}, {"status": "Invalid"})
    assert stop_with_tag.id_tag_info == {"status": "Accepted"}
    assert stop_without_tag.id_tag_info is None

    transactions = csms.transactions
    assert sorted(transactions) == [5000, 5001]
    view = transactions[5000]
    assert (view.station, view.connector_id, view.id_tag, view.start_status) == ("CP-1", 1, "GOOD1", "Accepted")
    assert (view.meter_start_wh, view.meter_stop_wh, view.energy_wh, view.stop_reason) == (120, 2120, 2000, "EVDisconnected")
    assert len(view.stops) == 1 and len(view.meter_values) == 1
    assert (transactions[5001].start_status, transactions[5001].stop_reason) == ("Invalid", "Local")
    assert csms.violations == []


async def test_default_answers_for_the_other_charge_point_requests(csms):
    async with connected_charge_point(csms.url, "CP-1") as charge_point:
        await charge_point.call(BOOT)
        data_transfer = await charge_point.call(call.DataTransfer(vendor_id="com.example"), suppress=False)
        await charge_point.call(call.DiagnosticsStatusNotification(status="Idle"), suppress=False)
        await charge_point.call(call.FirmwareStatusNotification(status="Idle"), suppress=False)
        await charge_point.call(
            call.StatusNotification(connector_id=0, error_code="NoError", status="Available"), suppress=False
        )
    assert data_transfer.status == "UnknownVendorId"
    assert csms.violations == []
