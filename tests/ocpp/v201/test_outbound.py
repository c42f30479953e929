"""The core's facts as OCPP 2.0.1 messages, each checked against the official 2.0.1
JSON schema shipped in the `ocpp` package (draft 6, [S201]); rules in ocpp201-rules.md."""

from __future__ import annotations

import json
from importlib import resources

import jsonschema
import pytest

from firmware.core import effects as fx
from firmware.ocpp.mapping import StationInfo
from firmware.ocpp.v201 import outbound
from firmware.ocpp.v201.outbound import TransactionContext, to_call

T0 = 1_767_225_600.0
INFO = StationInfo("Borne", "AC-22", "SN-1", "borne-0.1.0")


def valid(action: str, payload: dict) -> dict:
    text = resources.files("ocpp.v201").joinpath("schemas", f"{action}Request.json").read_text(
        encoding="utf-8-sig")
    schema = json.loads(text)
    assert schema["$schema"] == "http://json-schema.org/draft-06/schema#"
    jsonschema.Draft6Validator(schema).validate(payload)
    return payload


def call(effect, context=None, **kw):
    result = to_call(effect, INFO, context, **kw)
    assert result is not None
    action, payload = result
    return action, valid(action, payload)


def test_boot_notification_carries_reason_and_charging_station_b01():
    action, payload = call(fx.SendRegistration(), boot_reason="PowerUp")
    assert action == "BootNotification"
    assert payload == {"reason": "PowerUp", "chargingStation": {
        "model": "AC-22", "vendorName": "Borne", "serialNumber": "SN-1",
        "firmwareVersion": "borne-0.1.0"}}


@pytest.mark.parametrize("status,expected", [
    ("Available", "Available"), ("Preparing", "Occupied"), ("Charging", "Occupied"),
    ("SuspendedEV", "Occupied"), ("SuspendedEVSE", "Occupied"), ("Finishing", "Occupied"),
    ("Reserved", "Reserved"), ("Unavailable", "Unavailable"), ("Faulted", "Faulted")])
def test_connector_statuses_are_the_five_of_2_0_1_g01(status, expected):
    action, payload = call(fx.SendConnectorStatus(2, status, timestamp_s=T0))
    assert action == "StatusNotification"
    assert payload == {"timestamp": "2026-01-01T00:00:00.000Z", "connectorStatus": expected,
                       "evseId": 2, "connectorId": 1}


def test_the_station_status_is_no_2_0_1_status_notification():
    assert to_call(fx.SendConnectorStatus(0, "Available", timestamp_s=T0), INFO) is None


def test_authorize_sends_an_id_token_with_its_type_c01():
    action, payload = call(fx.SendAuthorizationRequest(("r", 1), "04A2B3C4"),
                           TransactionContext(id_token_type="ISO14443"))
    assert payload == {"idToken": {"idToken": "04A2B3C4", "type": "ISO14443"}}


def test_a_transaction_is_started_updated_and_ended_with_one_id_and_rising_seq_no_e01():
    tx_id = outbound.transaction_id(7, T0)
    assert len(tx_id) <= 36
    _, started = call(fx.SendTransactionStarted(7, 1, "04A2B3C4", 1000, T0),
                      TransactionContext(0, tx_id, trigger="Authorized", status="Charging"))
    assert started["eventType"] == "Started" and started["seqNo"] == 0
    assert started["transactionInfo"] == {"transactionId": tx_id, "chargingState": "Charging"}
    assert started["evse"] == {"id": 1, "connectorId": 1}
    assert started["idToken"] == {"idToken": "04A2B3C4", "type": "ISO14443"}
    assert started["meterValue"][0]["sampledValue"][0] == {
        "value": 1000, "context": "Transaction.Begin",
        "measurand": "Energy.Active.Import.Register", "location": "Outlet",
        "unitOfMeasure": {"unit": "Wh"}}
    sample = fx.MeterSample(T0 + 60, (
        fx.SampledValue("1350.5", "Energy.Active.Import.Register", "Sample.Periodic", "Wh"),
        fx.SampledValue("16.0", "Current.Import", "Sample.Periodic", "A", "L1")))
    action, updated = call(fx.SendMeterSamples(1, (sample,), local_tx_id=7),
                           TransactionContext(1, tx_id))
    assert action == "TransactionEvent" and updated["eventType"] == "Updated"
    assert updated["triggerReason"] == "MeterValuePeriodic" and updated["seqNo"] == 1
    assert updated["meterValue"][0]["sampledValue"][0]["value"] == 1350.5
    assert updated["meterValue"][0]["sampledValue"][1]["phase"] == "L1"
    _, ended = call(fx.SendTransactionEnded(7, 2400, T0 + 120, "EVDisconnected"),
                    TransactionContext(2, tx_id, status="Available"))
    assert ended["eventType"] == "Ended" and ended["seqNo"] == 2
    assert ended["transactionInfo"]["stoppedReason"] == "EVDisconnected"
    assert ended["meterValue"][-1]["sampledValue"][0]["value"] == 2400


@pytest.mark.parametrize("reason", ["Local", "Remote", "EVDisconnected", "DeAuthorized",
                                    "HardReset", "SoftReset", "UnlockCommand", "PowerLoss",
                                    "Reboot", "EmergencyStop", "Other", "SomethingNew"])
def test_every_core_stop_reason_is_a_valid_stopped_and_trigger_reason_e06(reason):
    _, ended = call(fx.SendTransactionEnded(1, 10, T0, reason),
                    TransactionContext(3, "1-1767225600", offline=True))
    assert ended["offline"] is True
    if reason == "Remote":
        assert (ended["transactionInfo"]["stoppedReason"], ended["triggerReason"]) == (
            "Remote", "RemoteStop")


def test_a_remote_start_carries_its_remote_start_id_f01():
    _, started = call(fx.SendTransactionStarted(1, 1, "CENTRAL-1", 0, T0),
                      TransactionContext(0, "1-1", trigger="RemoteStart", remote_start_id=42,
                                         id_token_type="Central"))
    assert started["triggerReason"] == "RemoteStart"
    assert started["transactionInfo"]["remoteStartId"] == 42


def test_clock_aligned_values_of_a_transaction_use_meter_value_clock_j01():
    sample = fx.MeterSample(T0, (fx.SampledValue("5", "Energy.Active.Import.Register",
                                                 "Sample.Clock", "Wh"),))
    _, updated = call(fx.SendMeterSamples(1, (sample,), local_tx_id=1),
                      TransactionContext(4, "1-1"))
    assert updated["triggerReason"] == "MeterValueClock"


def test_idle_meter_values_go_in_meter_values_and_non_numbers_are_dropped_not_sent():
    sample = fx.MeterSample(T0, (
        fx.SampledValue("NaN", "Voltage", "Sample.Periodic", "V"),
        fx.SampledValue("1e400", "Power.Active.Import", "Sample.Periodic", "W"),
        fx.SampledValue("230.1", "Voltage", "Sample.Periodic", "V", "L1-N")))
    action, payload = call(fx.SendMeterSamples(2, (sample,)))
    assert action == "MeterValues" and payload["evseId"] == 2
    assert [v["value"] for v in payload["meterValue"][0]["sampledValue"]] == [230.1]
    only_bad = fx.MeterSample(T0, (fx.SampledValue("x", "Voltage", "Sample.Periodic"),))
    assert to_call(fx.SendMeterSamples(2, (only_bad,)), INFO) is None


def test_a_transaction_fact_without_its_context_is_a_bug_not_a_guess():
    with pytest.raises(ValueError):
        to_call(fx.SendTransactionStarted(1, 1, "A", 0, T0), INFO)
