"""OCPP 1.6 SmartCharging JSON ↔ the core's protocol-neutral charging profiles.

Payloads reach here already validated against the 1.6 schemas; what the schema cannot
say (a time that does not parse) becomes a ``ProfileFormatError``, answered as
PropertyConstraintViolation. Times without a UTC offset are taken as UTC (smart-charging.md
§9, mobilityhouse/ocpp #444).
"""

from __future__ import annotations

from typing import Any

from firmware.core import smart_charging as sc
from firmware.errors import OcppError

from .mapping import format_time, parse_time

PURPOSES = {"ChargePointMaxProfile": sc.STATION_MAX, "TxDefaultProfile": sc.TX_DEFAULT,
            "TxProfile": sc.TX}
PURPOSE_NAMES = {v: k for k, v in PURPOSES.items()}


class ProfileFormatError(OcppError):
    """A charging profile the schema accepts but that cannot be read (a bad time)."""


def _time(value: Any, field: str) -> float | None:
    if value is None:
        return None
    parsed = parse_time(value)
    if parsed is None:
        raise ProfileFormatError(f"{field}: not an RFC 3339 time")
    return parsed


def profile_from_json(connector_id: int, data: dict[str, Any]) -> sc.ChargingProfile:
    schedule = data["chargingSchedule"]
    return sc.ChargingProfile(
        profile_id=data["chargingProfileId"], stack_level=data["stackLevel"],
        purpose=PURPOSES[data["chargingProfilePurpose"]], kind=data["chargingProfileKind"],
        rate_unit=schedule["chargingRateUnit"],
        periods=tuple(sc.SchedulePeriod(p["startPeriod"], float(p["limit"]),
                                        p.get("numberPhases"))
                      for p in schedule["chargingSchedulePeriod"]),
        connector_id=connector_id, transaction_id=data.get("transactionId"),
        recurrency=data.get("recurrencyKind"),
        start_schedule_s=_time(schedule.get("startSchedule"), "startSchedule"),
        duration_s=schedule.get("duration"),
        valid_from_s=_time(data.get("validFrom"), "validFrom"),
        valid_to_s=_time(data.get("validTo"), "validTo"),
        min_charging_rate=schedule.get("minChargingRate"))


def clear_filters(payload: dict[str, Any]) -> dict[str, Any]:
    purpose = payload.get("chargingProfilePurpose")
    return {"profile_id": payload.get("id"), "connector_id": payload.get("connectorId"),
            "purpose": PURPOSES.get(purpose) if purpose else None,
            "stack_level": payload.get("stackLevel")}


def composite_result(fields: dict[str, Any]) -> dict[str, Any]:
    """The core's composite reply as GetCompositeSchedule.conf ([E16] 3.57: no
    startSchedule inside the schedule; limits rounded down to 0.1)."""
    if fields.get("status") != "Accepted":
        return {"status": fields.get("status", "Rejected")}
    periods = [{"startPeriod": p.start_period_s, "limit": sc.round_down_tenth(p.limit),
                "numberPhases": p.number_phases} for p in fields["periods"]]
    return {"status": "Accepted", "connectorId": fields["connector_id"],
            "scheduleStart": format_time(fields["schedule_start_s"]),
            "chargingSchedule": {"duration": fields["duration_s"],
                                 "chargingRateUnit": fields["unit"],
                                 "chargingSchedulePeriod": periods}}
