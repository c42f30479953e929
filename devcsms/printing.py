"""One readable line per OCPP message, for humans watching `make run` or `python -m devcsms`.

    12:00:01 CP-0001 → BootNotification vendor=Borne model=AC-22-1C
    12:00:01 CP-0001 ← Accepted interval=300
    12:00:09 CP-0001 → connector 1: Preparing → Charging
    12:00:09 CP-0001 → StartTransaction connector=1 idTag=04A2B3C4 meterStart=0 Wh
    12:00:09 CP-0001 ← transactionId=1001 Accepted
    12:00:19 CP-0001 → MeterValues connector=1 tx=1001 energy=1.23 kWh power=7.4 kW

→ is charge point to CSMS, ← is CSMS to charge point. Empty replies (StatusNotification.conf, …) are not
printed; violations follow their frame as `!!` lines. 2.0.1 and 2.1 requests get their own lines (`printing201`). Pure formatting: `FramePrinter` only remembers the
last status of each connector so it can print transitions.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from devcsms import printing201
from devcsms.recording import ARROWS, FROM_CP, Frame
from devcsms.v21 import OCPP2_SUBPROTOCOLS
from devcsms.validation import CALL, CALLERROR, CALLRESULT, CALLRESULTERROR, SEND

_MAX_VALUE_CHARS = 40


def clock(moment: datetime) -> str:
    """HH:MM:SS in local time."""
    return moment.astimezone().strftime("%H:%M:%S")


class FramePrinter:
    """Formats frames and connection events and hands each line to `emit` (e.g. print)."""

    def __init__(self, emit: Callable[[str], None]) -> None:
        self._emit = emit
        self._status_by_connector: dict[tuple[str, Any], str] = {}

    def frame(self, frame: Frame) -> None:
        """Emit the line for `frame` (if it deserves one) and one `!!` line per violation."""
        summary = self.summary(frame)
        if summary is not None or frame.violations:
            prefix = f"{clock(frame.wall_time)} {frame.station} {ARROWS[frame.direction]}"
            self._emit(f"{prefix} {summary if summary is not None else frame.type_name}")
        for violation in frame.violations:
            self._emit(f"    !! {violation}")

    def event(self, station: str, text: str, moment: datetime | None = None) -> None:
        """Emit a line about something that is not a frame (connected, disconnected, refused)."""
        self._emit(f"{clock(moment or datetime.now())} {station} {text}")

    def summary(self, frame: Frame) -> str | None:
        """The text after the arrow, or None when the frame is not worth a line."""
        payload = frame.payload if isinstance(frame.payload, dict) else {}
        if frame.message_type is None:
            return f"malformed frame: {_shorten(frame.raw, 120)}"
        if frame.message_type == CALLERROR:
            return f"CALLERROR {frame.error_code} {frame.error_description!r} ({frame.action or 'unknown call'})"
        if frame.message_type == CALLRESULTERROR:  # 2.1: a refused CALLRESULT, never answered
            return f"CALLRESULTERROR {frame.error_code} {frame.error_description!r} [{frame.unique_id}]"
        if frame.message_type == SEND:  # 2.1: no reply follows
            return "SEND " + _generic(frame.action or "?", payload)
        if frame.message_type == CALL:
            is_201 = frame.protocol in OCPP2_SUBPROTOCOLS  # 2.1 requests have the 2.0.1 shapes
            describe = (_CALL_SUMMARIES_201 if is_201 else _CALL_SUMMARIES).get(frame.action)
            if frame.action == "StatusNotification":
                return self._status_transition_201(frame.station, payload) if is_201 else (
                    self._status_transition(frame.station, payload)
                )
            return describe(payload) if describe else _generic(frame.action or "?", payload)
        if frame.message_type == CALLRESULT:
            if frame.direction == FROM_CP:  # a charge point answering a CSMS call: always interesting
                return _result(payload) or "(empty result)"
            return _result(payload, skip=("currentTime",))
        return None

    def _status_transition_201(self, station: str, payload: dict) -> str:
        key, where, status = printing201.status_key_and_text(payload)
        previous = self._status_by_connector.get((station, key))
        self._status_by_connector[(station, key)] = status
        return f"{where}: {previous} → {status}" if previous else f"{where}: {status}"

    def _status_transition(self, station: str, payload: dict) -> str:
        connector = payload.get("connectorId")
        status = payload.get("status", "?")
        previous = self._status_by_connector.get((station, connector))
        self._status_by_connector[(station, connector)] = status
        text = f"connector {connector}: {previous} → {status}" if previous else f"connector {connector}: {status}"
        if payload.get("errorCode") not in (None, "NoError"):
            text += f" error={payload['errorCode']}"
        for key in ("info", "vendorErrorCode"):
            if payload.get(key):
                text += f" {key}={_shorten(payload[key])}"
        return text


def _boot(payload: dict) -> str:
    text = f"BootNotification vendor={payload.get('chargePointVendor')} model={payload.get('chargePointModel')}"
    if payload.get("firmwareVersion"):
        text += f" firmware={payload['firmwareVersion']}"
    return text


def _start(payload: dict) -> str:
    return (
        f"StartTransaction connector={payload.get('connectorId')} idTag={payload.get('idTag')} "
        f"meterStart={payload.get('meterStart')} Wh"
    )


def _stop(payload: dict) -> str:
    text = f"StopTransaction tx={payload.get('transactionId')} meterStop={payload.get('meterStop')} Wh"
    text += f" reason={payload.get('reason', 'Local')}"
    if payload.get("idTag"):
        text += f" idTag={payload['idTag']}"
    return text


def _meter_values(payload: dict) -> str:
    text = f"MeterValues connector={payload.get('connectorId')}"
    if "transactionId" in payload:
        text += f" tx={payload['transactionId']}"
    readings = meter_readings(payload)
    for name, value in readings.items():
        text += f" {name}={value}"
    return text


def meter_readings(payload: dict) -> dict[str, str]:
    """Human summary of the latest meterValue: energy in kWh, power in kW, current in A, SoC in %.

    Per-phase values are left out (the totals tell the story); unknown units are shown as sent.
    """
    meter_value = (payload.get("meterValue") or [{}])[-1]
    readings: dict[str, str] = {}
    for sample in meter_value.get("sampledValue") or []:
        if sample.get("phase"):
            continue
        measurand = sample.get("measurand", "Energy.Active.Import.Register")
        unit_of_measure = sample.get("unitOfMeasure")  # 2.0.1; 1.6 has "unit"
        unit = unit_of_measure.get("unit") if isinstance(unit_of_measure, dict) else sample.get("unit")
        try:
            value = float(sample.get("value"))
        except (TypeError, ValueError):
            continue
        if measurand == "Energy.Active.Import.Register":
            kwh = value if unit == "kWh" else value / 1000.0
            readings["energy"] = f"{kwh:.2f} kWh"
        elif measurand == "Power.Active.Import":
            kw = value if unit == "kW" else value / 1000.0
            readings["power"] = f"{kw:.1f} kW"
        elif measurand == "Current.Import":
            readings["current"] = f"{value:.1f} A"
        elif measurand == "SoC":
            readings["soc"] = f"{value:.0f} %"
    return readings


_CALL_SUMMARIES: dict[str | None, Callable[[dict], str]] = {
    "BootNotification": _boot,
    "StartTransaction": _start,
    "StopTransaction": _stop,
    "MeterValues": _meter_values,
    "Heartbeat": lambda payload: "Heartbeat",
    "Authorize": lambda payload: f"Authorize idTag={payload.get('idTag')}",
}


_CALL_SUMMARIES_201 = printing201.call_summaries(meter_readings)


def _result(payload: dict, skip: tuple[str, ...] = ()) -> str | None:
    parts = []
    if "transactionId" in payload:
        parts.append(f"transactionId={payload['transactionId']}")
    if "status" in payload:
        parts.append(str(payload["status"]))
    if isinstance(payload.get("idTagInfo"), dict):
        info = payload["idTagInfo"]
        parts.append(str(info.get("status")))
        if info.get("parentIdTag"):
            parts.append(f"parent={info['parentIdTag']}")
        if info.get("expiryDate"):
            parts.append(f"expires={info['expiryDate']}")
    if isinstance(payload.get("idTokenInfo"), dict):  # 2.0.1
        info = payload["idTokenInfo"]
        parts.append(str(info.get("status")))
        if isinstance(info.get("groupIdToken"), dict):
            parts.append(f"group={info['groupIdToken'].get('idToken')}")
        if info.get("cacheExpiryDateTime"):
            parts.append(f"expires={info['cacheExpiryDateTime']}")
    if "interval" in payload:
        parts.append(f"interval={payload['interval']}")
    shown = {"transactionId", "status", "idTagInfo", "idTokenInfo", "interval", *skip}
    parts.extend(f"{key}={_shorten(value)}" for key, value in payload.items() if key not in shown)
    return " ".join(parts) or None


def _generic(action: str, payload: dict) -> str:
    return " ".join([action, *(f"{key}={_shorten(value)}" for key, value in payload.items())])


def _shorten(value: Any, limit: int = _MAX_VALUE_CHARS) -> str:
    if isinstance(value, list):
        return f"[{len(value)} items]"
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
