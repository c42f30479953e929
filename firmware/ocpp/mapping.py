"""Between the core's typed effects/events and OCPP 1.6 JSON payloads.

Outbound: ``to_call(effect, station_info) -> (action, payload)`` with camelCase keys, as
sent on the wire and as stored in the outbox. Transaction messages that refer to a
transaction by its local id carry it outside the payload; ``resolve_transaction_id``
fills in the CSMS's transactionId just before sending.
Inbound: ``id_tag_info`` and ``parse_time`` turn conf payloads into core values.
Timestamps are RFC 3339 in UTC with a 'Z' (the 1.6 schemas say date-time; many CSMSs
reject a time without a zone).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from firmware.core import effects as fx
from firmware.core.events import IdTagInfo
from firmware.core.rfc3339 import parse_rfc3339


@dataclass(frozen=True)
class StationInfo:
    vendor: str
    model: str
    serial_number: str | None = None
    firmware_version: str | None = None
    meter_type: str | None = None
    meter_serial_number: str | None = None


def format_time(epoch_s: float) -> str:
    moment = datetime.fromtimestamp(epoch_s, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_time(text: Any) -> float | None:
    """Epoch seconds of an RFC 3339 time (``firmware.core.rfc3339``); None if absent or
    unparseable."""
    if not isinstance(text, str) or not text:
        return None
    try:
        return parse_rfc3339(text.strip())
    except ValueError:
        return None


def id_tag_info(payload: Any) -> IdTagInfo:
    if not isinstance(payload, dict):
        return IdTagInfo("Invalid")
    return IdTagInfo(str(payload.get("status", "Invalid")), parse_time(payload.get("expiryDate")),
                     payload.get("parentIdTag"))


def _sampled_value(v: fx.SampledValue) -> dict[str, Any]:
    out: dict[str, Any] = {"value": v.value, "context": v.context, "measurand": v.measurand,
                           "location": v.location}
    if v.unit:
        out["unit"] = v.unit
    if v.phase:
        out["phase"] = v.phase
    return out


def meter_value_list(samples: tuple[fx.MeterSample, ...]) -> list[dict[str, Any]]:
    return [{"timestamp": format_time(s.timestamp_s),
             "sampledValue": [_sampled_value(v) for v in s.values]} for s in samples]


def to_call(effect: fx.SendMessage, info: StationInfo) -> tuple[str, dict[str, Any]]:
    """The OCPP action and payload for a send effect (transactionId not yet resolved)."""
    if isinstance(effect, fx.SendRegistration):
        payload = {"chargePointVendor": info.vendor[:20], "chargePointModel": info.model[:20]}
        optional = {"chargePointSerialNumber": (info.serial_number, 25),
                    "firmwareVersion": (info.firmware_version, 50),
                    "meterType": (info.meter_type, 25),
                    "meterSerialNumber": (info.meter_serial_number, 25)}
        for key, (value, limit) in optional.items():
            if value:
                payload[key] = value[:limit]
        return "BootNotification", payload
    if isinstance(effect, fx.SendKeepAlive):
        return "Heartbeat", {}
    if isinstance(effect, fx.SendConnectorStatus):
        payload = {"connectorId": effect.connector_id, "status": effect.status,
                   "errorCode": effect.error_code}
        if effect.timestamp_s is not None:
            payload["timestamp"] = format_time(effect.timestamp_s)
        if effect.info:
            payload["info"] = effect.info[:50]
        if effect.vendor_error_code:
            payload["vendorErrorCode"] = effect.vendor_error_code[:50]
        return "StatusNotification", payload
    if isinstance(effect, fx.SendAuthorizationRequest):
        return "Authorize", {"idTag": effect.id_tag}
    if isinstance(effect, fx.SendTransactionStarted):
        payload = {"connectorId": effect.connector_id, "idTag": effect.id_tag,
                   "meterStart": int(effect.meter_start_wh),
                   "timestamp": format_time(effect.timestamp_s)}
        if effect.reservation_id is not None:
            payload["reservationId"] = effect.reservation_id
        return "StartTransaction", payload
    if isinstance(effect, fx.SendTransactionEnded):
        payload = {"meterStop": int(effect.meter_stop_wh),
                   "timestamp": format_time(effect.timestamp_s), "reason": effect.reason}
        if effect.id_tag:
            payload["idTag"] = effect.id_tag
        if effect.transaction_data:
            payload["transactionData"] = meter_value_list(effect.transaction_data)
        return "StopTransaction", payload
    if isinstance(effect, fx.SendMeterSamples):
        payload = {"connectorId": effect.connector_id,
                   "meterValue": meter_value_list(effect.samples)}
        if effect.transaction_id is not None:
            payload["transactionId"] = effect.transaction_id
        return "MeterValues", payload
    if isinstance(effect, fx.SendFirmwareStatus):
        if effect.signed:  # whitepaper L01.FR.01/.10
            signed: dict[str, Any] = {"status": effect.status}
            if effect.request_id is not None:
                signed["requestId"] = effect.request_id
            return "SignedFirmwareStatusNotification", signed
        return "FirmwareStatusNotification", {"status": effect.status}
    if isinstance(effect, fx.SendDiagnosticsStatus):
        return "DiagnosticsStatusNotification", {"status": effect.status}
    if isinstance(effect, fx.SendPaymentReport):  # firmware.ocpp.payment_messages
        from .payment_messages import encode
        return encode(effect, as_text=True)
    if isinstance(effect, fx.SendLogStatus):  # whitepaper N01
        return "LogStatusNotification", log_status_payload(effect)
    if isinstance(effect, fx.SendSecurityEvent):  # security whitepaper A04
        payload = {"type": SECURITY_EVENT_NAMES_16.get(effect.kind, effect.kind),
                   "timestamp": format_time(effect.timestamp_s)}
        if effect.tech_info:
            payload["techInfo"] = effect.tech_info
        return "SecurityEventNotification", payload
    if isinstance(effect, fx.SendCertificateSigningRequest):  # whitepaper A02/A03
        return "SignCertificate", {"csr": effect.csr}
    raise TypeError(f"not a message effect: {effect!r}")


# The core names security events as 2.0.1 does; the 1.6 whitepaper ([SEC3] §8) says
# CentralSystem and ChargePoint where 2.0.1 says Csms and ChargingStation.
SECURITY_EVENT_NAMES_16 = {
    "FailedToAuthenticateAtCsms": "FailedToAuthenticateAtCentralSystem",
    "CsmsFailedToAuthenticate": "CentralSystemFailedToAuthenticate",
    "InvalidCsmsCertificate": "InvalidCentralSystemCertificate",
    "InvalidChargingStationCertificate": "InvalidChargePointCertificate",
}


def log_status_payload(effect: fx.SendLogStatus) -> dict[str, Any]:
    """LogStatusNotification, the same in the 1.6 whitepaper and 2.0.1 (N01.FR.07)."""
    payload: dict[str, Any] = {"status": effect.status}
    if effect.request_id is not None:
        payload["requestId"] = effect.request_id
    return payload


def local_tx_id_of(effect: fx.SendMessage) -> int | None:
    return getattr(effect, "local_tx_id", None)


def with_transaction_id(action: str, payload: dict[str, Any],
                        transaction_id: int | None) -> dict[str, Any]:
    """Insert the CSMS's transactionId into a queued Stop/MeterValues payload (and a
    payment DataTransfer's data)."""
    if action == "DataTransfer" and transaction_id is not None:
        from .payment_messages import with_transaction_id_16
        return with_transaction_id_16(payload, transaction_id)
    if action not in ("StopTransaction", "MeterValues") or transaction_id is None:
        return payload
    return {**payload, "transactionId": transaction_id}
