"""The readable lines of OCPP 2.0.1 requests (`printing` picks these for frames of 2.0.1 and 2.1 stations,
whose requests have the same shapes; NotifySettlement is 2.1's).

    12:00:01 CP-0001 → BootNotification vendor=Borne model=AC-22-1C firmware=1.2.0 reason=PowerUp
    12:00:01 CP-0001 ← Accepted interval=300
    12:00:09 CP-0001 → evse 1 connector 1: Available → Occupied
    12:00:09 CP-0001 → TransactionEvent Started tx=5f0c… seqNo=0 trigger=Authorized evse=1/1 idToken=04A2B3C4
    12:00:09 CP-0001 ← Accepted
    12:00:19 CP-0001 → TransactionEvent Updated tx=5f0c… seqNo=1 trigger=MeterValuePeriodic energy=1.23 kWh

Pure formatting, like `printing`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _boot(payload: dict) -> str:
    station = _object(payload.get("chargingStation"))
    text = f"BootNotification vendor={station.get('vendorName')} model={station.get('model')}"
    if station.get("firmwareVersion"):
        text += f" firmware={station['firmwareVersion']}"
    return text + f" reason={payload.get('reason')}"


def _token(token: Any) -> str:
    if not isinstance(token, dict):
        return repr(token)
    kind = f" ({token['type']})" if token.get("type") else ""
    return f"{token.get('idToken')}{kind}"


def _transaction_event(payload: dict, readings: Callable[[dict], dict[str, str]]) -> str:
    info = _object(payload.get("transactionInfo"))
    text = (
        f"TransactionEvent {payload.get('eventType')} tx={info.get('transactionId')} seqNo={payload.get('seqNo')} "
        f"trigger={payload.get('triggerReason')}"
    )
    evse = payload.get("evse")
    if isinstance(evse, dict):
        text += f" evse={evse.get('id')}" + (f"/{evse['connectorId']}" if "connectorId" in evse else "")
    if info.get("chargingState"):
        text += f" state={info['chargingState']}"
    if "idToken" in payload:
        text += f" idToken={_token(payload['idToken'])}"
    if info.get("stoppedReason"):
        text += f" stoppedReason={info['stoppedReason']}"
    if "remoteStartId" in info:
        text += f" remoteStartId={info['remoteStartId']}"
    for name, value in readings(payload).items():
        text += f" {name}={value}"
    if payload.get("offline"):
        text += " offline"
    return text


def _meter_values(payload: dict, readings: Callable[[dict], dict[str, str]]) -> str:
    text = f"MeterValues evse={payload.get('evseId')}"
    for name, value in readings(payload).items():
        text += f" {name}={value}"
    return text


def _notify_report(payload: dict) -> str:
    report = payload.get("reportData")
    count = len(report) if isinstance(report, list) else 0
    return (
        f"NotifyReport requestId={payload.get('requestId')} seqNo={payload.get('seqNo')} "
        f"tbc={str(bool(payload.get('tbc'))).lower()} variables={count}"
    )


def _notify_settlement(payload: dict) -> str:
    """2.1 only (C18/C24); the amount as sent (the schema gives it no unit)."""
    text = (
        f"NotifySettlement {payload.get('status')} amount={payload.get('settlementAmount')} "
        f"pspRef={payload.get('pspRef')}"
    )
    if "transactionId" in payload:
        text += f" tx={payload['transactionId']}"
    if payload.get("receiptUrl"):
        text += f" receipt={payload['receiptUrl']}"
    return text


def call_summaries(readings: Callable[[dict], dict[str, str]]) -> dict[str | None, Callable[[dict], str]]:
    """Action → the line of its CALL; `readings` summarises meterValue lists (see printing.meter_readings)."""
    return {
        "BootNotification": _boot,
        "TransactionEvent": lambda payload: _transaction_event(payload, readings),
        "MeterValues": lambda payload: _meter_values(payload, readings),
        "NotifyReport": _notify_report,
        "Heartbeat": lambda payload: "Heartbeat",
        "Authorize": lambda payload: f"Authorize idToken={_token(payload.get('idToken'))}",
        "NotifySettlement": _notify_settlement,
    }


def status_key_and_text(payload: dict) -> tuple[tuple[Any, Any], str, str]:
    """((evseId, connectorId), "evse 1 connector 1", connectorStatus) of a 2.0.1 StatusNotification."""
    evse, connector = payload.get("evseId"), payload.get("connectorId")
    return (evse, connector), f"evse {evse} connector {connector}", str(payload.get("connectorStatus", "?"))
