"""2.0.1 remote control, reset and availability through ``V201InboundDispatcher`` and a
real core Station (ocpp201-rules.md §1 Reset, §4 F, §5 G). A refused CALL reaches
nothing: ``rig.untouched()``."""

import pytest

from firmware.core import effects as fx
from firmware.core import events as ev
from firmware.ocpp.v201.frames import CallFrame

TOKEN = {"idToken": "CENTRAL7", "type": "Central"}


# ---------------------------------------------------------------- RequestStartTransaction
async def test_request_start_accepted_remembers_the_remote_start_id_before_the_core(rig):
    rig.boot()
    rig.harness.pilot("B", 1)
    assert await rig.result("RequestStartTransaction", {
        "idToken": TOKEN, "remoteStartId": 7, "evseId": 1}) == {"status": "Accepted"}
    assert rig.directory.remote_starts == [(1, 7)]
    request = rig.runtime.requests[0]
    assert (request.id_tag, request.connector_id) == ("CENTRAL7", 1)
    # AuthorizeRemoteTxRequests false: the plugged EV starts at once (F01, TC_F_01).
    assert rig.station.connectors[1].tx is not None


async def test_request_start_without_evse_lets_the_core_pick(rig):
    rig.boot()
    assert (await rig.result("RequestStartTransaction", {
        "idToken": TOKEN, "remoteStartId": 8}))["status"] == "Accepted"
    assert rig.directory.remote_starts == [(None, 8)]


async def test_request_start_while_pending_is_rejected_by_the_core_tc_b_02(rig):
    rig.boot("Pending")
    assert (await rig.result("RequestStartTransaction", {
        "idToken": TOKEN, "remoteStartId": 1, "evseId": 1}))["status"] == "Rejected"


async def test_request_start_on_a_busy_evse_is_rejected(rig):
    rig.boot()
    rig.start_session(1)
    assert (await rig.result("RequestStartTransaction", {
        "idToken": TOKEN, "remoteStartId": 2, "evseId": 1}))["status"] == "Rejected"


@pytest.mark.parametrize("payload, reason", [
    ({"idToken": TOKEN, "remoteStartId": 1, "evseId": 0}, "InvalidValue"),   # evseId > 0, §4
    ({"idToken": TOKEN, "remoteStartId": 1, "evseId": -3}, "InvalidValue"),
    ({"idToken": {"idToken": "", "type": "NoAuthorization"}, "remoteStartId": 1},
     "InvalidIdToken"),
    ({"idToken": TOKEN, "remoteStartId": 1, "chargingProfile": {
        "id": 1, "stackLevel": 0, "chargingProfilePurpose": "TxProfile",
        "chargingProfileKind": "Relative", "transactionId": "T-1", "chargingSchedule": [{
            "id": 1, "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 6.0}]}]}},
     "InvalidValue"),  # a RequestStart's TxProfile has no transactionId yet
])
async def test_request_start_refused_before_the_core(rig, payload, reason):
    # (an idToken longer than 1.6's 20 characters is not refused: 2.1 C24 pspRefs)
    rig.boot()
    result = await rig.result("RequestStartTransaction", payload)
    assert result["status"] == "Rejected" and result["statusInfo"]["reasonCode"] == reason
    assert rig.untouched()


@pytest.mark.parametrize("payload, code", [
    ({"idToken": TOKEN}, "OccurrenceConstraintViolation"),
    ({"remoteStartId": 1}, "OccurrenceConstraintViolation"),
    ({"idToken": TOKEN, "remoteStartId": "7"}, "TypeConstraintViolation"),
    ({"idToken": TOKEN, "remoteStartId": 1.5}, "TypeConstraintViolation"),
    ({"idToken": {"idToken": "X" * 37, "type": "Central"}, "remoteStartId": 1},
     "PropertyConstraintViolation"),
    ({"idToken": {"idToken": "A", "type": "Card"}, "remoteStartId": 1},
     "PropertyConstraintViolation"),
    ({"idToken": TOKEN, "remoteStartId": 1, "connectorId": 1}, "FormatViolation"),
    ({"idToken": [], "remoteStartId": 1}, "TypeConstraintViolation"),
])
async def test_request_start_bad_payload_is_a_callerror_and_changes_nothing(rig, payload, code):
    rig.boot()
    assert await rig.error("RequestStartTransaction", payload) == code
    assert rig.untouched()
    assert all(c.authorization is None for c in rig.station.connectors.values())


async def test_request_start_with_an_over_long_number_changes_nothing(rig):
    rig.boot()
    answer = await rig.answer('[2,"m-1","RequestStartTransaction",{"idToken":{"idToken":"A",'
                              '"type":"Central"},"remoteStartId":' + "9" * 400 + "}]")
    assert answer[:3] == [4, "m-1", "TypeConstraintViolation"]
    assert rig.untouched()


async def test_a_frame_not_read_by_the_codec_is_checked_by_the_dispatcher_too(rig):
    rig.boot()
    from firmware.ocpp.v201.errors import CallError
    with pytest.raises(CallError) as raised:
        await rig.dispatcher(CallFrame("m-1", "RequestStartTransaction", {"idToken": TOKEN}))
    assert raised.value.code == "OccurrenceConstraintViolation"
    assert rig.untouched()


# ---------------------------------------------------------------- RequestStopTransaction
async def test_request_stop_of_a_known_transaction_ends_it_remotely_tc_f_08(rig):
    rig.boot()
    tx_id = rig.start_session(1)
    assert await rig.result("RequestStopTransaction", {"transactionId": tx_id}) == {
        "status": "Accepted"}
    ended = rig.harness.last(fx.SendTransactionEnded)
    assert ended.reason == "Remote"
    assert rig.runtime.requests[0].transaction_id == rig.directory.ids[tx_id]


async def test_request_stop_of_an_unknown_transaction_is_rejected_tc_f_09(rig):
    rig.boot()
    rig.start_session(1)
    result = await rig.result("RequestStopTransaction", {"transactionId": "nope"})
    assert result["status"] == "Rejected"
    assert rig.untouched() and rig.station.connectors[1].tx is not None


@pytest.mark.parametrize("payload, code", [
    ({}, "OccurrenceConstraintViolation"),
    ({"transactionId": 5}, "TypeConstraintViolation"),
    ({"transactionId": "x" * 37}, "PropertyConstraintViolation"),
])
async def test_request_stop_bad_payload(rig, payload, code):
    rig.boot()
    rig.start_session(1)
    assert await rig.error("RequestStopTransaction", payload) == code
    assert rig.untouched() and rig.station.connectors[1].tx is not None


# ---------------------------------------------------------------- Reset
async def test_reset_immediate_ends_transactions_and_restarts_tc_b_22(rig):
    rig.boot()
    rig.start_session(1)
    assert await rig.result("Reset", {"type": "Immediate"}) == {"status": "Accepted"}
    assert rig.harness.last(fx.SendTransactionEnded).reason == "HardReset"  # → ImmediateReset
    assert rig.harness.last(fx.RestartAgent).kind == "Hard"


async def test_reset_on_idle_with_nothing_running_is_accepted(rig):
    rig.boot()
    assert await rig.result("Reset", {"type": "OnIdle"}) == {"status": "Accepted"}
    assert rig.harness.last(fx.RestartAgent).kind == "Soft"


async def test_reset_on_idle_during_a_transaction_is_scheduled_after_it_tc_b_21(rig):
    """Scheduled, the session runs on, no new one starts, and the restart comes when
    the last transaction has ended (its next boot says ScheduledReset)."""
    rig.boot()
    rig.start_session(1)
    result = await rig.result("Reset", {"type": "OnIdle"})
    assert result["status"] == "Scheduled"
    assert rig.station.connectors[1].tx is not None
    assert not rig.harness.of(fx.RestartAgent)
    rig.harness.pilot("B", 2)
    rig.harness.handle(ev.CardPresented("OTHER001", "test", connector_id=2))
    assert rig.station.connectors[2].tx is None          # no new session meanwhile
    rig.harness.pilot("A", 1)                            # the driver leaves: the tx ends
    assert rig.station.connectors[1].tx is None
    [restart] = rig.harness.of(fx.RestartAgent)
    assert restart == fx.RestartAgent("Soft", scheduled=True)


async def test_reset_of_one_evse_is_rejected(rig):
    rig.boot()
    assert (await rig.result("Reset", {"type": "Immediate", "evseId": 1}))["status"] == "Rejected"
    assert rig.untouched()


@pytest.mark.parametrize("payload, code", [
    ({"type": "Hard"}, "PropertyConstraintViolation"),   # 1.6's value
    ({}, "OccurrenceConstraintViolation"),
    ({"type": "OnIdle", "evseId": "1"}, "TypeConstraintViolation"),
])
async def test_reset_bad_payload(rig, payload, code):
    rig.boot()
    assert await rig.error("Reset", payload) == code
    assert rig.untouched() and not rig.harness.of(fx.RestartAgent)


# ---------------------------------------------------------------- ChangeAvailability
async def test_change_availability_of_the_station(rig):
    rig.boot()
    assert await rig.result("ChangeAvailability", {"operationalStatus": "Inoperative"}) == {
        "status": "Accepted"}
    assert not any(c.operative for c in rig.station.connectors.values())
    assert rig.runtime.requests[0].connector_id == 0


async def test_change_availability_of_evse_0_is_the_station(rig):
    rig.boot()
    await rig.result("ChangeAvailability", {"operationalStatus": "Inoperative",
                                            "evse": {"id": 0}})
    assert rig.runtime.requests[0].connector_id == 0


async def test_change_availability_of_one_evse(rig):
    rig.boot()
    assert (await rig.result("ChangeAvailability", {
        "operationalStatus": "Inoperative", "evse": {"id": 2, "connectorId": 1}}))[
        "status"] == "Accepted"
    assert [c.operative for c in rig.station.connectors.values()] == [True, False]


async def test_change_availability_during_a_transaction_is_scheduled(rig):
    rig.boot()
    rig.start_session(1)
    assert (await rig.result("ChangeAvailability", {
        "operationalStatus": "Inoperative", "evse": {"id": 1}}))["status"] == "Scheduled"
    assert rig.station.connectors[1].tx is not None


async def test_change_availability_of_an_unknown_evse_is_rejected(rig):
    rig.boot()
    assert (await rig.result("ChangeAvailability", {
        "operationalStatus": "Inoperative", "evse": {"id": 9}}))["status"] == "Rejected"
    assert all(c.operative for c in rig.station.connectors.values())


async def test_change_availability_of_an_unknown_connector_is_rejected_without_the_core(rig):
    rig.boot()
    assert (await rig.result("ChangeAvailability", {
        "operationalStatus": "Inoperative", "evse": {"id": 1, "connectorId": 2}}))[
        "status"] == "Rejected"
    assert rig.untouched()


@pytest.mark.parametrize("payload, code", [
    ({}, "OccurrenceConstraintViolation"),
    ({"operationalStatus": "Available"}, "PropertyConstraintViolation"),
    ({"operationalStatus": "Operative", "evse": {}}, "OccurrenceConstraintViolation"),
    ({"operationalStatus": "Operative", "evse": {"id": "1"}}, "TypeConstraintViolation"),
    ({"operationalStatus": "Operative", "connectorId": 1}, "FormatViolation"),
])
async def test_change_availability_bad_payload(rig, payload, code):
    rig.boot()
    assert await rig.error("ChangeAvailability", payload) == code
    assert rig.untouched()


# ---------------------------------------------------------------- UnlockConnector
async def test_unlock_an_idle_connector(rig):
    rig.boot()
    assert await rig.result("UnlockConnector", {"evseId": 1, "connectorId": 1}) == {
        "status": "Unlocked"}


async def test_unlock_that_fails_in_the_hardware(rig):
    rig.boot()
    rig.runtime.unlock_ok = False
    assert (await rig.result("UnlockConnector", {"evseId": 1, "connectorId": 1}))[
        "status"] == "UnlockFailed"


async def test_unlock_during_a_transaction_does_not_unlock_f05(rig):
    rig.boot()
    rig.start_session(1)
    assert (await rig.result("UnlockConnector", {"evseId": 1, "connectorId": 1}))[
        "status"] == "OngoingAuthorizedTransaction"
    assert rig.untouched()
    c = rig.station.connectors[1]
    assert c.tx is not None and c.cable_locked


@pytest.mark.parametrize("evse_id, connector_id", [(9, 1), (1, 2), (0, 1), (-1, 1)])
async def test_unlock_an_unknown_connector(rig, evse_id, connector_id):
    rig.boot()
    assert (await rig.result("UnlockConnector", {"evseId": evse_id, "connectorId": connector_id}))[
        "status"] == "UnknownConnector"
    assert rig.untouched()


async def test_unlock_without_a_lock_is_unknownconnector(open_rig):
    rig = open_rig(has_lock=False)
    rig.boot()
    result = await rig.result("UnlockConnector", {"evseId": 1, "connectorId": 1})
    assert result["status"] == "UnknownConnector"
    assert result["statusInfo"]["reasonCode"] == "NoLock"


async def test_an_unlock_the_hardware_never_answers_is_internalerror(rig):
    rig.boot()
    rig.runtime.unlock_answers = False
    assert await rig.error("UnlockConnector", {"evseId": 1, "connectorId": 1}) == "InternalError"


@pytest.mark.parametrize("payload, code", [
    ({"evseId": 1}, "OccurrenceConstraintViolation"),
    ({"evseId": 1, "connectorId": True}, "TypeConstraintViolation"),
])
async def test_unlock_bad_payload(rig, payload, code):
    rig.boot()
    assert await rig.error("UnlockConnector", payload) == code
    assert rig.untouched()


# ---------------------------------------------------------------- TriggerMessage
async def test_trigger_heartbeat_is_sent_after_the_reply(rig):
    rig.boot()
    assert await rig.result("TriggerMessage", {"requestedMessage": "Heartbeat"}) == {
        "status": "Accepted"}
    assert any(isinstance(m, fx.SendKeepAlive) for m in rig.runtime.released)


async def test_trigger_boot_after_an_accepted_boot_is_rejected_tc_f_26(rig):
    rig.boot()
    assert (await rig.result("TriggerMessage", {"requestedMessage": "BootNotification"}))[
        "status"] == "Rejected"


async def test_trigger_boot_while_pending_is_accepted_tc_b_02(rig):
    rig.boot("Pending")
    assert (await rig.result("TriggerMessage", {"requestedMessage": "BootNotification"}))[
        "status"] == "Accepted"
    assert any(isinstance(m, fx.SendRegistration) for m in rig.runtime.released)


async def test_trigger_status_of_one_evse(rig):
    rig.boot()
    assert (await rig.result("TriggerMessage", {"requestedMessage": "StatusNotification",
                                                "evse": {"id": 2, "connectorId": 1}}))[
        "status"] == "Accepted"
    statuses = [m for m in rig.runtime.released if isinstance(m, fx.SendConnectorStatus)]
    assert [s.connector_id for s in statuses] == [2]


async def test_trigger_meter_values_of_an_unknown_evse_is_rejected(rig):
    rig.boot()
    assert (await rig.result("TriggerMessage", {"requestedMessage": "MeterValues",
                                                "evse": {"id": 9}}))["status"] == "Rejected"


@pytest.mark.parametrize("message", ["SignChargingStationCertificate", "SignV2GCertificate",
                                     "TransactionEvent", "PublishFirmwareStatusNotification"])
async def test_trigger_what_the_core_cannot_send_is_notimplemented_tc_f_27(rig, message):
    rig.boot()
    assert await rig.result("TriggerMessage", {"requestedMessage": message}) == {
        "status": "NotImplemented"}
    assert rig.untouched()


async def test_trigger_log_status_is_idle_without_an_upload_n01_fr_12(rig):
    rig.boot()
    fields = await rig.result("TriggerMessage", {"requestedMessage": "LogStatusNotification"})
    assert fields == {"status": "Accepted"}
    statuses = [m for m in rig.runtime.released if isinstance(m, fx.SendLogStatus)]
    assert statuses == [fx.SendLogStatus("Idle", None)]


class _CertificateTrigger:
    requested_messages = frozenset({"SignChargingStationCertificate"})

    def __init__(self):
        self.sent: list[str] = []

    def trigger(self, requested_message):
        async def send():
            self.sent.append(requested_message)
        return send


async def test_a_registered_trigger_service_sends_what_the_core_cannot(rig):
    from firmware.ocpp.v201.inbound import V201InboundDispatcher
    service = _CertificateTrigger()
    rig.boot()
    rig.dispatcher = V201InboundDispatcher(rig.runtime, rig.auth, rig.directory,
                                           triggers=(service,))
    assert await rig.result("TriggerMessage", {
        "requestedMessage": "SignChargingStationCertificate"}) == {"status": "Accepted"}
    assert service.sent == ["SignChargingStationCertificate"]
    assert service.sent == ["SignChargingStationCertificate"]


async def test_trigger_on_another_connector_of_an_evse_is_rejected(rig):
    rig.boot()
    assert (await rig.result("TriggerMessage", {"requestedMessage": "Heartbeat",
                                                "evse": {"id": 1, "connectorId": 2}}))[
        "status"] == "Rejected"
    assert rig.untouched()


@pytest.mark.parametrize("payload, code", [
    ({"requestedMessage": "DiagnosticsStatusNotification"}, "PropertyConstraintViolation"),
    ({}, "OccurrenceConstraintViolation"),
    ({"requestedMessage": "Heartbeat", "evse": {"id": 1.5}}, "TypeConstraintViolation"),
])
async def test_trigger_bad_payload(rig, payload, code):
    rig.boot()
    assert await rig.error("TriggerMessage", payload) == code
    assert rig.untouched()


async def test_request_start_takes_an_id_token_of_the_full_2_0_1_length(rig):
    rig.boot()
    token = {"idToken": "3f2b9c1e-8d4a-4e6b-9a7c-5d1e2f3a4b5c", "type": "Central"}   # 36
    result = await rig.result("RequestStartTransaction", {"idToken": token,
                                                          "remoteStartId": 4, "evseId": 1})
    assert result["status"] == "Accepted"
