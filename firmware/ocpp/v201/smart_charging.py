"""OCPP 2.0.1 smart charging (block K) over the core's protocol-neutral profiles.

The rules live in ``firmware.core.smart_charging`` and are the same for 1.6; this module
reads and writes the 2.0.1 JSON (smart-charging.md §1-§6, ocpp201-rules.md):

- SetChargingProfile(evseId, chargingProfile) → ``ChargingProfileInstallRequested``.
  Refused here, before the core, with Rejected and a reasonCode: more than one
  chargingSchedule (only ISO 15118 needs three; Borne has no 15118 stack),
  ChargingStationExternalConstraints (K01.FR.22), a TxProfile on evseId 0 (K01.FR.16),
  without a transactionId (K01.FR.03) or with one no running transaction has (K01.FR.33),
  a Relative ChargingStationMaxProfile (K01.FR.38), an Absolute/Recurring schedule
  without startSchedule (K01.FR.40) and a Relative one with it (K01.FR.41). A time that
  does not parse is a PropertyConstraintViolation (as in 1.6).
- ClearChargingProfile(chargingProfileId?, chargingProfileCriteria?) → the core's clear
  (an id wins over the criteria); ExternalConstraints are never cleared (K10.FR.06).
- GetCompositeSchedule(duration, chargingRateUnit?, evseId) → CompositeScheduleType with
  limits rounded down to 0.1 (never above what applies).
- GetChargingProfiles(requestId, evseId?, chargingProfile criteria) → Accepted or
  NoProfiles; the core's ``SendChargingProfilesReport`` then becomes one
  ReportChargingProfiles per EVSE (``report``).

A TxProfile's transactionId is the station-chosen 2.0.1 id; the core keys it by the
local id (the directory maps between them).
"""

from __future__ import annotations

from typing import Any, Callable, Protocol

from firmware.core import effects as fx
from firmware.core import events as ev
from firmware.core import smart_charging as sc
from firmware.errors import OcppError
from firmware.ocpp.mapping import format_time, parse_time
from firmware.ocpp.v201.errors import CallError

PURPOSES = {"ChargingStationMaxProfile": sc.STATION_MAX, "TxDefaultProfile": sc.TX_DEFAULT,
            "TxProfile": sc.TX, "ChargingStationExternalConstraints": sc.EXTERNAL}
PURPOSE_NAMES = {v: k for k, v in PURPOSES.items()}


class ProfileRefused(OcppError):
    """A schema-valid profile this station refuses: Rejected with ``reason_code``."""

    def __init__(self, reason_code: str, why: str) -> None:
        super().__init__(why)
        self.reason_code = reason_code
        self.why = why


class TransactionIds(Protocol):
    """Between the station-chosen 2.0.1 transactionIds and the core's local ids."""

    def local_id_of(self, transaction_id: str) -> int | None: ...


def _time(value: Any, field: str) -> float | None:
    if value is None:
        return None
    parsed = parse_time(value)
    if parsed is None:
        raise CallError("PropertyConstraintViolation", f"{field}: not an RFC 3339 date-time")
    return parsed


def profile_from_json(evse_id: int, data: dict[str, Any], transactions: TransactionIds, *,
                      remote_start: bool = False) -> sc.ChargingProfile:
    """The core's profile of a schema-valid ChargingProfileType on ``evse_id`` (0: the
    station). ``remote_start``: the TxProfile of a RequestStartTransaction, which has no
    transaction yet. Raises ``ProfileRefused`` or a PropertyConstraintViolation."""
    schedules = data["chargingSchedule"]
    if len(schedules) != 1:
        raise ProfileRefused("UnsupportedParam",
                             "one chargingSchedule per profile (no ISO 15118 here)")
    purpose = PURPOSES[data["chargingProfilePurpose"]]
    kind = data["chargingProfileKind"]
    schedule = schedules[0]
    if purpose == sc.EXTERNAL:
        raise ProfileRefused("InvalidValue", "ChargingStationExternalConstraints cannot be "
                                             "set by the CSMS (K01.FR.22)")
    if purpose == sc.STATION_MAX and kind == sc.RELATIVE:
        raise ProfileRefused("InvalidValue", "a ChargingStationMaxProfile cannot be Relative "
                                             "(K01.FR.38)")
    if kind == sc.RELATIVE and "startSchedule" in schedule:
        raise ProfileRefused("InvalidSchedule", "a Relative schedule has no startSchedule "
                                                "(K01.FR.41)")
    if kind != sc.RELATIVE and "startSchedule" not in schedule:
        raise ProfileRefused("InvalidSchedule", f"an {kind} schedule needs a startSchedule "
                                                "(K01.FR.40)")
    local_tx_id: int | None = None
    if purpose == sc.TX:
        if evse_id <= 0 and not remote_start:
            raise ProfileRefused("InvalidValue", "a TxProfile needs an evseId > 0 (K01.FR.16)")
        transaction_id = data.get("transactionId")
        if remote_start:
            if transaction_id is not None:
                raise ProfileRefused("InvalidValue", "a RequestStartTransaction's TxProfile "
                                                     "has no transactionId")
        elif transaction_id is None:
            raise ProfileRefused("TxNotFound", "a TxProfile needs a transactionId (K01.FR.03)")
        else:
            local_tx_id = transactions.local_id_of(transaction_id)
            if local_tx_id is None:
                raise ProfileRefused("TxNotFound", "no running transaction has this "
                                                   "transactionId (K01.FR.33)")
    return sc.ChargingProfile(
        profile_id=data["id"], stack_level=data["stackLevel"], purpose=purpose, kind=kind,
        rate_unit=schedule["chargingRateUnit"],
        periods=tuple(sc.SchedulePeriod(p["startPeriod"], float(p["limit"]),
                                        p.get("numberPhases"))
                      for p in schedule["chargingSchedulePeriod"]),
        connector_id=evse_id, transaction_id=local_tx_id,
        recurrency=data.get("recurrencyKind"),
        start_schedule_s=_time(schedule.get("startSchedule"), "startSchedule"),
        duration_s=schedule.get("duration"),
        valid_from_s=_time(data.get("validFrom"), "validFrom"),
        valid_to_s=_time(data.get("validTo"), "validTo"),
        min_charging_rate=schedule.get("minChargingRate"))


def set_request(ref: Any, payload: dict[str, Any],
                transactions: TransactionIds) -> ev.ChargingProfileInstallRequested:
    return ev.ChargingProfileInstallRequested(
        ref, profile=profile_from_json(payload["evseId"], payload["chargingProfile"],
                                       transactions))


def clear_request(ref: Any, payload: dict[str, Any]) -> ev.ChargingProfileClearRequested:
    criteria = payload.get("chargingProfileCriteria") or {}
    purpose = criteria.get("chargingProfilePurpose")
    return ev.ChargingProfileClearRequested(
        ref, profile_id=payload.get("chargingProfileId"), connector_id=criteria.get("evseId"),
        purpose=PURPOSES[purpose] if purpose else None, stack_level=criteria.get("stackLevel"))


def report_request(ref: Any, payload: dict[str, Any]) -> ev.ChargingProfilesReportRequested:
    criteria = payload["chargingProfile"]
    purpose = criteria.get("chargingProfilePurpose")
    return ev.ChargingProfilesReportRequested(
        ref, request_id=payload["requestId"], connector_id=payload.get("evseId"),
        purpose=PURPOSES[purpose] if purpose else None, stack_level=criteria.get("stackLevel"),
        profile_ids=tuple(criteria.get("chargingProfileId") or ()))


def composite_result(fields: dict[str, Any]) -> dict[str, Any]:
    """The core's composite reply as GetCompositeScheduleResponse (K08)."""
    if fields.get("status") != "Accepted":
        return {"status": "Rejected"}
    periods = [{"startPeriod": p.start_period_s, "limit": sc.round_down_tenth(p.limit),
                "numberPhases": p.number_phases} for p in fields["periods"]]
    return {"status": "Accepted", "schedule": {
        "evseId": fields["connector_id"], "duration": fields["duration_s"],
        "scheduleStart": format_time(fields["schedule_start_s"]),
        "chargingRateUnit": fields["unit"], "chargingSchedulePeriod": periods}}


def profile_json(profile: sc.ChargingProfile,
                 transaction_id_of: Callable[[int], str | None]) -> dict[str, Any]:
    """A ChargingProfileType of an installed profile; ``transaction_id_of(local id)``
    gives a TxProfile's 2.0.1 transactionId."""
    schedule: dict[str, Any] = {
        "id": profile.profile_id, "chargingRateUnit": profile.rate_unit,
        "chargingSchedulePeriod": [
            {"startPeriod": p.start_period_s, "limit": p.limit,
             **({"numberPhases": p.number_phases} if p.number_phases is not None else {})}
            for p in profile.periods]}
    if profile.start_schedule_s is not None:
        schedule["startSchedule"] = format_time(profile.start_schedule_s)
    if profile.duration_s is not None:
        schedule["duration"] = profile.duration_s
    if profile.min_charging_rate is not None:
        schedule["minChargingRate"] = profile.min_charging_rate
    out: dict[str, Any] = {
        "id": profile.profile_id, "stackLevel": profile.stack_level,
        "chargingProfilePurpose": PURPOSE_NAMES[profile.purpose],
        "chargingProfileKind": profile.kind, "chargingSchedule": [schedule]}
    if profile.recurrency is not None:
        out["recurrencyKind"] = profile.recurrency
    if profile.valid_from_s is not None:
        out["validFrom"] = format_time(profile.valid_from_s)
    if profile.valid_to_s is not None:
        out["validTo"] = format_time(profile.valid_to_s)
    if profile.transaction_id is not None:
        transaction_id = transaction_id_of(profile.transaction_id)
        if transaction_id is not None:
            out["transactionId"] = transaction_id
    return out


def report(effect: fx.SendChargingProfilesReport,
           transaction_id_of: Callable[[int], str | None]) -> dict[str, Any]:
    """ReportChargingProfiles of one EVSE (K09); chargingLimitSource CSO: every profile
    here came from the CSMS."""
    payload: dict[str, Any] = {
        "requestId": effect.request_id, "chargingLimitSource": "CSO",
        "evseId": effect.connector_id,
        "chargingProfile": [profile_json(p, transaction_id_of) for p in effect.profiles]}
    if effect.more_follow:
        payload["tbc"] = True
    return payload


Answer = tuple[dict[str, Any], Any]


class Ask(Protocol):
    async def __call__(self, event: ev.Request) -> Answer: ...


class SmartChargingRequests:
    """The K handlers of ``V201InboundDispatcher``: ``ask`` hands a request event to the
    core and waits for its reply (``CoreRequests.ask``); ``transactions`` maps ids."""

    def __init__(self, ask: Ask, transactions: TransactionIds) -> None:
        self._ask = ask
        self._transactions = transactions

    async def set_charging_profile(self, frame: Any, payload: dict[str, Any]) -> Answer:
        try:
            event = set_request(_ref(frame), payload, self._transactions)
        except ProfileRefused as refused:
            return _rejected(refused.reason_code, refused.why), None
        fields, continuation = await self._ask(event)
        if fields.get("status") != "Accepted":
            return _rejected("InvalidValue", str(fields.get("why") or "")), continuation
        return {"status": "Accepted"}, continuation

    async def clear_charging_profile(self, frame: Any, payload: dict[str, Any]) -> Answer:
        event = clear_request(_ref(frame), payload)
        if event.purpose == sc.EXTERNAL:
            return {"status": "Unknown"}, None  # K10.FR.06: not the CSMS's to clear
        fields, continuation = await self._ask(event)
        return {"status": fields.get("status", "Unknown")}, continuation

    async def get_composite_schedule(self, frame: Any, payload: dict[str, Any]) -> Answer:
        fields, continuation = await self._ask(ev.CompositeScheduleRequested(
            _ref(frame), payload["evseId"], payload["duration"],
            payload.get("chargingRateUnit")))
        return composite_result(fields), continuation

    async def get_charging_profiles(self, frame: Any, payload: dict[str, Any]) -> Answer:
        sources = payload["chargingProfile"].get("chargingLimitSource")
        if sources is not None and "CSO" not in sources:
            return {"status": "NoProfiles"}, None  # every installed profile is the CSO's
        fields, continuation = await self._ask(report_request(_ref(frame), payload))
        return {"status": fields.get("status", "NoProfiles")}, continuation


def _ref(frame: Any) -> tuple[str, str]:
    return (frame.action, frame.message_id)


def _rejected(reason_code: str, why: str) -> dict[str, Any]:
    info: dict[str, Any] = {"reasonCode": reason_code[:20]}
    if why:
        info["additionalInfo"] = why[:512]
    return {"status": "Rejected", "statusInfo": info}
