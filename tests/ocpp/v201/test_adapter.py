"""The 2.0.1 adapter on the real database: TransactionEvent seqNo per transaction,
persisted in the runtime's own commit, the station-chosen transactionId as the core's
id, and the CSMS's answers as core events. Every payload is checked against the
official 2.0.1 schema ([S201], draft 6). Rules: ocpp201-rules.md §1-§3.

The frame codec (``firmware.ocpp.v201.codec``) is not touched here: the adapter imports
it only when the link first asks for ``codec``.
"""

from __future__ import annotations

import json
from decimal import Decimal
from importlib import resources

import jsonschema
import pytest

from firmware.core import effects as fx
from firmware.core import events as ev
from firmware.core.events import IdTagInfo
from firmware.ocpp.mapping import StationInfo
from firmware.ocpp.outbox import ReadyMessage
from firmware.ocpp.v201.adapter import V201Adapter, id_token_info
from firmware.store import db

T0 = 1_767_225_600.0
INFO = StationInfo("Borne", "AC-22", "SN-1", "borne-0.1.0")
ENERGY = fx.SampledValue("1234", "Energy.Active.Import.Register", "Sample.Periodic", "Wh")


def valid(action: str, payload: dict, kind: str = "Request") -> dict:
    text = resources.files("ocpp.v201").joinpath("schemas", f"{action}{kind}.json").read_text(
        encoding="utf-8-sig")
    jsonschema.Draft6Validator(json.loads(text)).validate(payload)
    return payload


@pytest.fixture
def conn(tmp_path):
    connection = db.open_database(tmp_path)
    yield connection
    connection.close()


def queue(adapter: V201Adapter, conn, effect: fx.SendMessage) -> tuple[str, dict]:
    with db.atomic(conn):  # as the runtime does: one commit per event
        message = adapter.queued_message(effect, conn)
    assert message is not None
    action, payload = message
    return action, valid(action, payload)


def started(local_tx_id: int = 3, connector_id: int = 1, id_tag: str = "CARD01",
            remote: bool = False):
    return fx.SendTransactionStarted(local_tx_id, connector_id, id_tag, 1000, T0,
                                     remote=remote)


def updated(local_tx_id: int = 3):
    return fx.SendMeterSamples(1, (fx.MeterSample(T0 + 60, (ENERGY,)),), local_tx_id)


def ended(local_tx_id: int = 3, reason: str = "Local"):
    return fx.SendTransactionEnded(local_tx_id, 2000, T0 + 120, reason, "CARD01")


def answer(action: str, local_tx_id: int, payload: dict) -> ReadyMessage:
    return ReadyMessage(1, action, local_tx_id, payload, 0, T0)


def test_seq_no_counts_from_0_per_transaction_with_one_station_chosen_id_e01(conn):
    adapter = V201Adapter(INFO, conn)
    events = [queue(adapter, conn, e)[1] for e in (started(), updated(), updated(), ended())]
    assert [e["eventType"] for e in events] == ["Started", "Updated", "Updated", "Ended"]
    assert [e["seqNo"] for e in events] == [0, 1, 2, 3]
    assert len({e["transactionInfo"]["transactionId"] for e in events}) == 1
    assert events[-1]["transactionInfo"]["stoppedReason"] == "Local"
    other = queue(adapter, conn, started(local_tx_id=4, connector_id=2))[1]
    assert other["seqNo"] == 0 and other["evse"] == {"id": 2, "connectorId": 1}


def test_seq_no_continues_after_a_restart_e_power_loss(tmp_path):
    conn = db.open_database(tmp_path)
    adapter = V201Adapter(INFO, conn)
    first = queue(adapter, conn, started())[1]
    queue(adapter, conn, updated())
    conn.close()

    conn = db.open_database(tmp_path)  # a new process: only the disk remembers
    again = V201Adapter(INFO, conn)
    power_loss = queue(again, conn, ended(reason="PowerLoss"))[1]
    assert power_loss["seqNo"] == 2
    assert power_loss["transactionInfo"]["transactionId"] == \
        first["transactionInfo"]["transactionId"]
    assert power_loss["transactionInfo"]["stoppedReason"] == "PowerLoss"
    conn.close()


def test_a_rolled_back_commit_takes_the_seq_no_back_with_the_message(conn):
    adapter = V201Adapter(INFO, conn)
    queue(adapter, conn, started())
    with pytest.raises(RuntimeError):
        with db.atomic(conn):
            adapter.queued_message(updated(), conn)
            raise RuntimeError("the outbox row could not be written")
    assert queue(adapter, conn, updated())[1]["seqNo"] == 1  # no gap


def test_the_transaction_id_maps_back_to_the_local_id_until_ended(conn):
    adapter = V201Adapter(INFO, conn)
    transaction_id = queue(adapter, conn, started())[1]["transactionInfo"]["transactionId"]
    assert adapter.local_id_of(transaction_id) == 3
    assert adapter.local_id_of("no-such-transaction") is None
    queue(adapter, conn, ended())
    assert adapter.local_id_of(transaction_id) is None


def test_a_remote_start_id_is_echoed_with_trigger_remote_start_f01(conn):
    adapter = V201Adapter(INFO, conn)
    adapter.remember_remote_start(2, 77)
    plain = queue(adapter, conn, started(local_tx_id=1, connector_id=1))[1]
    assert plain["triggerReason"] == "Authorized"
    assert "remoteStartId" not in plain["transactionInfo"]
    remote = queue(adapter, conn, started(local_tx_id=2, connector_id=2, remote=True))[1]
    assert remote["triggerReason"] == "RemoteStart"
    assert remote["transactionInfo"]["remoteStartId"] == 77
    adapter.remember_remote_start(None, 78)  # the station picks the EVSE
    assert queue(adapter, conn, started(local_tx_id=5, connector_id=1, remote=True))[1][
        "transactionInfo"]["remoteStartId"] == 78


def test_a_remote_start_id_left_by_a_refused_remote_start_is_not_echoed_by_a_tap(conn):
    """The id is remembered before the core decides; the core refused (or the driver
    never plugged in) and a tap later starts on that EVSE: not a RemoteStart."""
    adapter = V201Adapter(INFO, conn)
    adapter.remember_remote_start(1, 90)
    tapped = queue(adapter, conn, started(local_tx_id=1, connector_id=1))[1]
    assert tapped["triggerReason"] == "Authorized"
    assert "remoteStartId" not in tapped["transactionInfo"]
    adapter.remember_remote_start(1, 91)
    again = queue(adapter, conn, started(local_tx_id=2, connector_id=1, remote=True))[1]
    assert again["transactionInfo"]["remoteStartId"] == 91


def test_events_while_the_link_is_down_say_offline_e_tc_e_40(conn):
    online = [False]
    adapter = V201Adapter(INFO, conn, online=lambda: online[0])
    assert queue(adapter, conn, started())[1]["offline"] is True
    online[0] = True
    assert "offline" not in queue(adapter, conn, updated())[1]


def test_a_transaction_not_started_under_201_is_not_queued(conn, caplog):
    adapter = V201Adapter(INFO, conn)
    with db.atomic(conn):
        assert adapter.queued_message(ended(local_tx_id=9), conn) is None
    assert "no 2.0.1 transactionId" in caplog.text


def test_started_answer_makes_the_local_id_the_cores_transaction_id(conn):
    adapter = V201Adapter(INFO, conn)
    _, payload = queue(adapter, conn, started())
    response = valid("TransactionEvent", {"idTokenInfo": {
        "status": "Accepted", "cacheExpiryDateTime": "2026-01-02T00:00:00Z",
        "groupIdToken": {"idToken": "GROUP1", "type": "Central"}}}, "Response")
    assert adapter.queued_answered(answer("TransactionEvent", 3, payload), response) == [
        ev.TransactionStartAnswered(3, 3, IdTagInfo("Accepted", T0 + 86400, "GROUP1"),
                                    "CARD01")]


def test_a_started_answer_without_id_token_info_teaches_nothing(conn):
    adapter = V201Adapter(INFO, conn)
    _, payload = queue(adapter, conn, started())
    assert adapter.queued_answered(answer("TransactionEvent", 3, payload), {}) == [
        ev.TransactionStartAnswered(3, 3, IdTagInfo("Accepted"), "")]


def test_ended_and_updated_answers(conn):
    adapter = V201Adapter(INFO, conn)
    queue(adapter, conn, started())
    _, update = queue(adapter, conn, updated())
    _, end = queue(adapter, conn, ended())
    assert adapter.queued_answered(answer("TransactionEvent", 3, update), {}) == []
    no_cost = ev.CsmsCostReported(("TransactionEvent", 3), 3, None, final=True)
    assert adapter.queued_answered(answer("TransactionEvent", 3, end), {}) == [
        ev.TransactionEndAnswered(3, None, ""), no_cost]
    assert adapter.queued_answered(answer("TransactionEvent", 3, end), {
        "idTokenInfo": {"status": "Blocked"}}) == [
        ev.TransactionEndAnswered(3, IdTagInfo("Blocked"), "CARD01"), no_cost]


def test_total_cost_only_on_the_ended_answer_goes_to_the_core_exactly_i(conn):
    """[S201] totalCost "SHALL only be sent when charging has ended": an Updated answer's
    is not a final cost; the Ended's (0.00 = free) is, as an exact decimal."""
    adapter = V201Adapter(INFO, conn)
    queue(adapter, conn, started())
    _, update = queue(adapter, conn, updated())
    _, end = queue(adapter, conn, ended())
    assert adapter.queued_answered(answer("TransactionEvent", 3, update),
                                   {"totalCost": 9.5}) == []
    got = adapter.queued_answered(answer("TransactionEvent", 3, end), {"totalCost": 12.1})
    assert got[1] == ev.CsmsCostReported(("TransactionEvent", 3), 3, Decimal("12.1"),
                                         final=True)
    free = adapter.queued_answered(answer("TransactionEvent", 3, end), {"totalCost": 0})
    assert free[1].total_cost == 0 and free[1].final


@pytest.mark.parametrize("status", ["NoCredit", "NotAllowedTypeEVSE", "NotAtThisLocation",
                                    "NotAtThisTime", "Unknown", "Invalid"])
def test_201_only_authorization_statuses_refuse_like_invalid_c01(status):
    assert id_token_info({"status": status}) == IdTagInfo("Invalid")


def test_id_token_info_of_garbage_is_invalid():
    assert id_token_info(None) == IdTagInfo("Invalid")
    assert id_token_info({"status": "Accepted", "groupIdToken": "x",
                          "cacheExpiryDateTime": "yesterday"}) == IdTagInfo("Accepted")


@pytest.mark.parametrize("status", ["Accepted", "Pending", "Rejected"])
def test_boot_answers_become_registration_answered_b01_b02_b03(conn, status):
    adapter = V201Adapter(INFO, conn, boot_reason="RemoteReset")
    action, payload = adapter.message(fx.SendRegistration())
    assert action == "BootNotification" and valid(action, payload)["reason"] == "RemoteReset"
    response = valid("BootNotification", {"currentTime": "2026-01-01T00:00:00Z",
                                          "interval": 300, "status": status}, "Response")
    assert adapter.answered(fx.SendRegistration(), response) == [
        ev.RegistrationAnswered(status, 300, T0)]


def test_heartbeat_and_authorize_answers(conn):
    adapter = V201Adapter(INFO, conn)
    assert adapter.message(fx.SendKeepAlive()) == ("Heartbeat", {})
    assert adapter.answered(fx.SendKeepAlive(), {"currentTime": "2026-01-01T00:00:00Z"}) == [
        ev.KeepAliveAnswered(T0)]
    request = fx.SendAuthorizationRequest("ref-1", "CARD01")
    action, payload = adapter.message(request)
    assert valid(action, payload) == {"idToken": {"idToken": "CARD01", "type": "ISO14443"}}
    assert adapter.answered(request, {"idTokenInfo": {"status": "Expired"}}) == [
        ev.AuthorizationAnswered("ref-1", "CARD01", IdTagInfo("Expired"))]


def test_statuses_are_per_evse_and_feed_the_charging_state(conn):
    adapter = V201Adapter(INFO, conn)
    assert adapter.message(fx.SendConnectorStatus(0, "Available", timestamp_s=T0)) is None
    action, payload = adapter.message(fx.SendConnectorStatus(1, "Preparing", timestamp_s=T0))
    assert valid(action, payload)["connectorStatus"] == "Occupied"
    assert queue(adapter, conn, started())[1]["transactionInfo"]["chargingState"] == \
        "EVConnected"


def test_the_id_token_type_is_the_one_the_core_says_and_none_for_no_token(conn):
    adapter = V201Adapter(INFO, conn)
    start = fx.SendTransactionStarted(4, 1, "0A0B0C0D", 1000, T0, token_type="Local")
    assert queue(adapter, conn, start)[1]["idToken"] == {"idToken": "0A0B0C0D", "type": "Local"}
    _, authorize = adapter.message(fx.SendAuthorizationRequest(("r", 1), "EMAID01", "eMAID"))
    assert authorize["idToken"] == {"idToken": "EMAID01", "type": "eMAID"}


def test_each_adapter_names_its_transaction_start_for_a_dropped_message(conn):
    """A dropped start makes the core mark the transaction unknown to the CSMS: the
    adapter, not the core, knows which message that is in its version."""
    from firmware.ocpp.v16.adapter import V16Adapter

    adapter = V201Adapter(INFO, conn)
    assert adapter.starts_transaction("TransactionEvent", {"eventType": "Started"})
    assert not adapter.starts_transaction("TransactionEvent", {"eventType": "Updated"})
    assert not adapter.starts_transaction("StartTransaction", {})
    assert V16Adapter(INFO).starts_transaction("StartTransaction", {})
    assert not V16Adapter(INFO).starts_transaction("StopTransaction", {})


def state_changed(status: str, local_tx_id: int = 3, at_s: float = T0 + 30):
    return fx.SendTransactionStateChanged(local_tx_id, 1, status, at_s)


def test_charging_state_changes_are_updated_events_with_the_next_seq_no_e(conn):
    """ocpp201-rules.md §3: triggerReason ChargingStateChanged; Started EVConnected then
    Updated Charging ([E201] 2.18)."""
    adapter = V201Adapter(INFO, conn)
    adapter.message(fx.SendConnectorStatus(1, "Preparing", timestamp_s=T0))
    queue(adapter, conn, started())
    with db.atomic(conn):
        assert adapter.queued_message(state_changed("Finishing"), conn) is None  # EVConnected
    events = [queue(adapter, conn, state_changed(s))[1]
              for s in ("SuspendedEV", "Charging", "SuspendedEVSE")]
    assert [(e["eventType"], e["triggerReason"], e["transactionInfo"]["chargingState"])
            for e in events] == [("Updated", "ChargingStateChanged", "SuspendedEV"),
                                 ("Updated", "ChargingStateChanged", "Charging"),
                                 ("Updated", "ChargingStateChanged", "SuspendedEVSE")]
    assert [e["seqNo"] for e in events] == [1, 2, 3]  # the skipped change took no seqNo
    assert queue(adapter, conn, ended())[1]["transactionInfo"]["chargingState"] == \
        "SuspendedEVSE"


def test_preparing_to_charging_is_no_occupied_to_occupied_status_notification_g(conn):
    """ocpp201-rules.md §5: 2.0.1 statuses have no Preparing/Charging; the change is the
    transaction's chargingState. A re-report of the same status still goes out."""
    adapter = V201Adapter(INFO, conn)
    assert adapter.message(fx.SendConnectorStatus(1, "Preparing", timestamp_s=T0)) is not None
    assert adapter.message(fx.SendConnectorStatus(1, "Charging", timestamp_s=T0)) is None
    again = adapter.message(fx.SendConnectorStatus(1, "Charging", timestamp_s=T0))
    assert again is not None and again[1]["connectorStatus"] == "Occupied"
    assert adapter.message(fx.SendConnectorStatus(1, "Available", timestamp_s=T0)) is not None


def test_16_has_no_message_for_a_transaction_state_change(conn):
    from firmware.ocpp.v16.adapter import V16Adapter

    with db.atomic(conn):
        assert V16Adapter(INFO).queued_message(state_changed("Charging"), conn) is None
