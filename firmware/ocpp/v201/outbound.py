"""The core's outgoing facts as OCPP 2.0.1 messages (issue 9 item 2, outbound half).

Sans-I/O: ``to_call(effect, context)`` returns ``(action, payload)`` or None when 2.0.1
has no such message (a connector-0 status: 2.0.1 reports EVSEs, not the station). What
2.0.1 needs and the core's fact does not carry comes in a ``TransactionContext`` that
the adapter keeps and persists with the queue: the transaction's seqNo counter, whether
the event happened offline, the trigger of a start, the boot reason.

Rules (ocpp201-rules.md; [S201] = the 2.0.1 JSON schemas):
- One TransactionEvent per fact: Started / Updated / Ended, every one with the station's
  transactionId (a string ≤ 36 we choose, unique across reboots) and a seqNo that
  increases by one per message of the transaction ([S201]; §3).
- Connector statuses are Available / Occupied / Reserved / Unavailable / Faulted; the
  charging state (Charging, SuspendedEV, ...) moved into TransactionEvent ([S201]; §5, §8).
- Meter values of a running transaction travel in TransactionEvent Updated (triggerReason
  MeterValuePeriodic / MeterValueClock), others in MeterValues ([TC201] TC_J_02; §6).
  Sampled values are numbers in 2.0.1 (strings in 1.6); units go in unitOfMeasure.
- Empty optional fields are omitted, never null / {} / [] ([J201] §4.1.5).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from firmware.core import effects as fx
from firmware.ocpp.mapping import StationInfo, format_time, log_status_payload
from firmware.ocpp.v201 import device_model

# 1.6-flavoured connector statuses the core derives → 2.0.1 ConnectorStatusEnumType.
_CONNECTOR_STATUS = {
    "Available": "Available", "Preparing": "Occupied", "Charging": "Occupied",
    "SuspendedEV": "Occupied", "SuspendedEVSE": "Occupied", "Finishing": "Occupied",
    "Reserved": "Reserved", "Unavailable": "Unavailable", "Faulted": "Faulted",
}

# ... and the charging state of a connector with a transaction (ChargingStateEnumType).
_CHARGING_STATE = {
    "Charging": "Charging", "SuspendedEV": "SuspendedEV", "SuspendedEVSE": "SuspendedEVSE",
    "Preparing": "EVConnected", "Finishing": "EVConnected", "Available": "Idle",
}

# The core's stop reasons (1.6 Reason vocabulary) → 2.0.1 (stoppedReason, triggerReason).
# A CSMS reset is ImmediateReset with ResetCommand ([TC201] TC_B_22); 2.0.1 has no
# UnlockCommand stop reason (it is a trigger reason): Other.
_STOP = {
    "Local": ("Local", "StopAuthorized"),
    "Remote": ("Remote", "RemoteStop"),
    "EVDisconnected": ("EVDisconnected", "EVCommunicationLost"),
    "DeAuthorized": ("DeAuthorized", "Deauthorized"),
    "HardReset": ("ImmediateReset", "ResetCommand"),
    "SoftReset": ("ImmediateReset", "ResetCommand"),
    "UnlockCommand": ("Other", "UnlockCommand"),
    "PowerLoss": ("PowerLoss", "AbnormalCondition"),
    "Reboot": ("Reboot", "AbnormalCondition"),
    "EmergencyStop": ("EmergencyStop", "AbnormalCondition"),
    "Other": ("Other", "AbnormalCondition"),
}

# The token types of IdTokenEnumType the core's presenters map to ([S201]; §2).
ID_TOKEN_TYPES = ("Central", "eMAID", "ISO14443", "ISO15693", "KeyCode", "Local",
                  "MacAddress", "NoAuthorization")


def connector_status(status: str) -> str:
    """2.0.1 connectorStatus of a core connector status; unknown ones are Faulted (a
    status we cannot name is not one the CSMS may count on as free)."""
    return _CONNECTOR_STATUS.get(status, "Faulted")


def charging_state(status: str) -> str:
    return _CHARGING_STATE.get(status, "EVConnected")


def stopped_reason(reason: str) -> tuple[str, str]:
    """(stoppedReason, triggerReason) of a core stop reason."""
    return _STOP.get(reason, ("Other", "AbnormalCondition"))


def transaction_id(local_tx_id: int, started_at_s: float) -> str:
    """The station-chosen transactionId: the local id and the start second, so a
    database wiped back to local id 1 still never repeats an id (≤ 36 chars)."""
    return f"{local_tx_id}-{int(started_at_s)}"[:36]


@dataclass(frozen=True)
class TransactionContext:
    """What the adapter adds to a transaction fact.

    ``seq_no``: this message's sequence number in its transaction (Started is 0);
    ``transaction_id``: the id given to the transaction when it started (see
    ``transaction_id``); ``offline``: the fact happened while the link was down;
    ``trigger``: the Started event's triggerReason (Authorized, RemoteStart,
    CablePluggedIn, ...); ``remote_start_id``: echoed from RequestStartTransaction;
    ``status``: the connector's core status when the fact happened (its chargingState).
    """

    seq_no: int = 0
    transaction_id: str = ""
    offline: bool = False
    trigger: str = "Authorized"
    remote_start_id: int | None = None
    status: str = "Charging"
    id_token_type: str = "ISO14443"


def _number(text: str) -> float | int | None:
    try:
        value = float(text)
    except ValueError:
        return None
    if not math.isfinite(value):
        return None
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def sampled_value(v: fx.SampledValue) -> dict[str, Any] | None:
    """A 2.0.1 SampledValueType, or None for a value that is not a finite number."""
    value = _number(v.value)
    if value is None:
        return None
    out: dict[str, Any] = {"value": value, "context": v.context, "measurand": v.measurand,
                           "location": v.location}
    if v.phase:
        out["phase"] = v.phase
    if v.unit:
        out["unitOfMeasure"] = {"unit": v.unit}
    return out


def meter_values(samples: tuple[fx.MeterSample, ...]) -> list[dict[str, Any]]:
    out = []
    for sample in samples:
        values = [sv for sv in (sampled_value(v) for v in sample.values) if sv is not None]
        if values:  # a MeterValueType needs at least one sampledValue ([S201])
            out.append({"timestamp": format_time(sample.timestamp_s), "sampledValue": values})
    return out


def _energy(energy_wh: int, context: str, at_s: float) -> dict[str, Any]:
    return {"timestamp": format_time(at_s), "sampledValue": [{
        "value": int(energy_wh), "context": context,
        "measurand": "Energy.Active.Import.Register", "location": "Outlet",
        "unitOfMeasure": {"unit": "Wh"}}]}


def boot_notification(info: StationInfo, reason: str = "PowerUp") -> dict[str, Any]:
    station: dict[str, Any] = {"model": info.model[:20], "vendorName": info.vendor[:50]}
    if info.serial_number:
        station["serialNumber"] = info.serial_number[:25]
    if info.firmware_version:
        station["firmwareVersion"] = info.firmware_version[:50]
    return {"reason": reason, "chargingStation": station}


def _transaction_info(context: TransactionContext, **extra: Any) -> dict[str, Any]:
    info: dict[str, Any] = {"transactionId": context.transaction_id, **extra}
    return {k: v for k, v in info.items() if v is not None}


def _event(event_type: str, at_s: float, trigger: str, context: TransactionContext,
           info: dict[str, Any]) -> dict[str, Any]:
    payload: dict[str, Any] = {"eventType": event_type, "timestamp": format_time(at_s),
                               "triggerReason": trigger, "seqNo": context.seq_no,
                               "transactionInfo": info}
    if context.offline:
        payload["offline"] = True
    return payload


def to_call(effect: fx.SendMessage, info: StationInfo,
            context: TransactionContext | None = None,
            boot_reason: str = "PowerUp") -> tuple[str, dict[str, Any]] | None:
    """The 2.0.1 action and payload of a core message fact (None: 2.0.1 has none).

    Transaction facts need their ``context``; a missing one is a bug of the adapter
    (ValueError), never guessed.
    """
    if isinstance(effect, fx.SendRegistration):
        return "BootNotification", boot_notification(info, boot_reason)
    if isinstance(effect, fx.SendKeepAlive):
        return "Heartbeat", {}
    if isinstance(effect, fx.SendConnectorStatus):
        if effect.connector_id == 0:
            return None  # 2.0.1 reports EVSEs; the station's availability is not a status
        return "StatusNotification", {
            "timestamp": format_time(effect.timestamp_s or 0.0),
            "connectorStatus": connector_status(effect.status),
            "evseId": effect.connector_id, "connectorId": 1}
    if isinstance(effect, fx.SendAuthorizationRequest):
        token_type = context.id_token_type if context is not None else "ISO14443"
        return "Authorize", {"idToken": {"idToken": effect.id_tag, "type": token_type}}
    if isinstance(effect, fx.SendFirmwareStatus):  # L01.FR.01/.10: with the requestId
        firmware: dict[str, Any] = {"status": effect.status}
        if effect.request_id is not None:
            firmware["requestId"] = effect.request_id
        return "FirmwareStatusNotification", firmware
    if isinstance(effect, fx.SendLogStatus):  # N01
        return "LogStatusNotification", log_status_payload(effect)
    if isinstance(effect, fx.SendConfigurationReport):  # B07: one part, tbc false
        return "NotifyReport", {"requestId": effect.request_id,
                                "generatedAt": format_time(effect.generated_at_s),
                                "seqNo": 0, "tbc": False,
                                "reportData": device_model.report_data(effect.keys)}
    if isinstance(effect, fx.SendSecurityEvent):  # A04
        event: dict[str, Any] = {"type": effect.kind,
                                 "timestamp": format_time(effect.timestamp_s)}
        if effect.tech_info:
            event["techInfo"] = effect.tech_info
        return "SecurityEventNotification", event
    if isinstance(effect, fx.SendCertificateSigningRequest):  # A02/A03
        return "SignCertificate", {"csr": effect.csr,
                                   "certificateType": "ChargingStationCertificate"}
    if isinstance(effect, fx.SendReservationEnded):  # H04
        return "ReservationStatusUpdate", {"reservationId": effect.reservation_id,
                                           "reservationUpdateStatus": effect.why}
    if isinstance(effect, (fx.SendTransactionStarted, fx.SendTransactionEnded,
                           fx.SendTransactionStateChanged)) or (
            isinstance(effect, fx.SendMeterSamples) and effect.local_tx_id is not None):
        if context is None or not context.transaction_id:
            raise ValueError(f"{type(effect).__name__} needs its transaction context")
        return "TransactionEvent", _transaction_event(effect, context)
    if isinstance(effect, fx.SendMeterSamples):
        values = meter_values(effect.samples)
        if not values:
            return None
        return "MeterValues", {"evseId": effect.connector_id, "meterValue": values}
    return None  # e.g. DiagnosticsStatusNotification: 2.0.1 has LogStatusNotification


def _transaction_event(effect: fx.SendMessage, context: TransactionContext) -> dict[str, Any]:
    if isinstance(effect, fx.SendTransactionStarted):
        payload = _event("Started", effect.timestamp_s, context.trigger, context,
                         _transaction_info(context, chargingState=charging_state(context.status),
                                           remoteStartId=context.remote_start_id))
        payload["evse"] = {"id": effect.connector_id, "connectorId": 1}
        payload["idToken"] = {"idToken": effect.id_tag, "type": context.id_token_type}
        payload["meterValue"] = [_energy(effect.meter_start_wh, "Transaction.Begin",
                                         effect.timestamp_s)]
        if effect.reservation_id is not None:
            payload["reservationId"] = effect.reservation_id
        return payload
    if isinstance(effect, fx.SendTransactionEnded):
        stopped, trigger = stopped_reason(effect.reason)
        payload = _event("Ended", effect.timestamp_s, trigger, context,
                         _transaction_info(context, chargingState=charging_state(context.status),
                                           stoppedReason=stopped))
        if effect.id_tag:
            payload["idToken"] = {"idToken": effect.id_tag, "type": context.id_token_type}
        payload["meterValue"] = meter_values(effect.transaction_data) + [
            _energy(effect.meter_stop_wh, "Transaction.End", effect.timestamp_s)]
        return payload
    if isinstance(effect, fx.SendTransactionStateChanged):  # E: chargingState changes
        return _event("Updated", effect.timestamp_s, "ChargingStateChanged", context,
                      _transaction_info(context, chargingState=charging_state(effect.status)))
    assert isinstance(effect, fx.SendMeterSamples)
    values = meter_values(effect.samples)
    clock = any(v.context == "Sample.Clock" for s in effect.samples for v in s.values)
    at_s = effect.samples[0].timestamp_s if effect.samples else 0.0
    payload = _event("Updated", at_s, "MeterValueClock" if clock else "MeterValuePeriodic",
                     context, _transaction_info(context,
                                                chargingState=charging_state(context.status)))
    if values:
        payload["meterValue"] = values
    return payload
