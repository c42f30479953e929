"""Charging profiles and the composite schedule, protocol-neutral and sans-I/O.

Rules (sources in ../shared/reference/smart-charging.md; [16] = OCPP 1.6 ed. 2, [E16] its
errata, 2.0.1 requirement ids as K01.FR.nn):

- Purposes: ``STATION_MAX`` (1.6 ChargePointMaxProfile / 2.0.1 ChargingStationMaxProfile,
  connector 0 only), ``TX_DEFAULT``, ``TX`` (one transaction, connector > 0) and
  ``EXTERNAL`` (2.0.1 ChargingStationExternalConstraints, never set by the CSMS).
- Inside one purpose the valid profile with the highest stack level wins at each instant
  ([16] §3.13.2); when it has no period at that instant (its duration ended, or before its
  start) the next lower one applies. A TxProfile overrules the TxDefaultProfile while it
  has a period; outside its periods the TxDefault applies again (Borne's documented choice
  for the open point of KA-2, the same as libocpp's).
- Composite = the minimum, at each instant, of the station maximum, the transaction limit
  (Tx, else TxDefault) and the external constraints ([16] §3.13.3); where no profile
  limits, the connector's hardware maximum.
- Units: A is per phase, W is total. A→W uses the period's own numberPhases (absent: 3,
  [16] §7.12); W→A uses the composite's lowest phase count at that instant ([E201] 2.28),
  with the nominal voltage, never the measured one ([E16] 3.68).
- Schedules: Absolute from startSchedule, Recurring Daily/Weekly anchored at startSchedule
  ([E16] 3.78) with periods past the recurrence not executed ([E16] 3.44), Relative from
  the transaction start (or the request time when none runs). Past ``duration`` a schedule
  has no period (the last period lasts until ``duration``; without it, indefinitely).

Times are epoch seconds (floats, the agent clock); limits are floats in the schedule's unit.
Nothing here reads a clock; every function is total over validated profiles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

STATION_MAX, TX_DEFAULT, TX, EXTERNAL = "StationMax", "TxDefault", "Tx", "External"
ABSOLUTE, RECURRING, RELATIVE = "Absolute", "Recurring", "Relative"
DAILY_S, WEEKLY_S = 86_400, 604_800
DEFAULT_PHASES = 3


@dataclass(frozen=True)
class SchedulePeriod:
    start_period_s: int
    limit: float
    number_phases: int | None = None


@dataclass(frozen=True)
class ChargingProfile:
    profile_id: int
    stack_level: int
    purpose: str
    kind: str
    rate_unit: str  # "A" | "W"
    periods: tuple[SchedulePeriod, ...]
    connector_id: int = 0
    transaction_id: int | None = None
    recurrency: str | None = None  # "Daily" | "Weekly" for Recurring
    start_schedule_s: float | None = None
    duration_s: int | None = None
    valid_from_s: float | None = None
    valid_to_s: float | None = None
    min_charging_rate: float | None = None


@dataclass(frozen=True)
class Limit:
    """One limit at an instant: ``amps`` per phase, with the phases it allows."""

    amps: float
    number_phases: int


@dataclass(frozen=True)
class CompositePeriod:
    start_period_s: int
    limit: float
    number_phases: int


@dataclass(frozen=True)
class Electrical:
    """What unit conversion needs: the nominal line voltage and the hardware maximum."""

    voltage_v: float = 230.0
    max_current_a: float = 32.0
    phases: int = DEFAULT_PHASES


@dataclass(frozen=True)
class ProfileLimits:
    """The station's declared limits (1.6 keys / 2.0.1 SmartChargingCtrlr variables)."""

    max_stack_level: int = 8
    max_periods: int = 24
    allowed_units: tuple[str, ...] = ("A", "W")


# ---------------------------------------------------------------------- one profile
def schedule_start_s(profile: ChargingProfile, at_s: float, tx_start_s: float | None,
                     request_s: float) -> float | None:
    """When the schedule's period 0 began for instant ``at_s``; None before any start."""
    if profile.kind == RELATIVE:
        return tx_start_s if tx_start_s is not None else request_s
    start = profile.start_schedule_s
    if start is None:
        return None
    if profile.kind == RECURRING:
        every_s = WEEKLY_S if profile.recurrency == "Weekly" else DAILY_S
        if at_s < start:
            return None
        return start + math.floor((at_s - start) / every_s) * every_s
    return start


def period_at(profile: ChargingProfile, at_s: float, tx_start_s: float | None,
              request_s: float) -> SchedulePeriod | None:
    """The profile's period in force at ``at_s``, or None when it does not limit then."""
    if profile.valid_from_s is not None and at_s < profile.valid_from_s:
        return None
    if profile.valid_to_s is not None and at_s >= profile.valid_to_s:
        return None
    start = schedule_start_s(profile, at_s, tx_start_s, request_s)
    if start is None or at_s < start:
        return None
    offset_s = at_s - start
    end_s = _schedule_length_s(profile)
    if end_s is not None and offset_s >= end_s:
        return None
    current: SchedulePeriod | None = None
    for period in profile.periods:
        if period.start_period_s > offset_s:
            break
        current = period
    return current


def _schedule_length_s(profile: ChargingProfile) -> float | None:
    length: float | None = profile.duration_s
    if profile.kind == RECURRING:
        every_s = WEEKLY_S if profile.recurrency == "Weekly" else DAILY_S
        length = every_s if length is None else min(length, every_s)  # [E16] 3.44
    return length


def _boundaries(profile: ChargingProfile, t0_s: float, t1_s: float, tx_start_s: float | None,
                request_s: float) -> set[float]:
    """Every instant in [t0, t1) where this profile's limit may change."""
    out: set[float] = set()
    for edge in (profile.valid_from_s, profile.valid_to_s):
        if edge is not None:
            out.add(edge)
    starts: list[float] = []
    if profile.kind == RECURRING and profile.start_schedule_s is not None:
        every_s = WEEKLY_S if profile.recurrency == "Weekly" else DAILY_S
        first = schedule_start_s(profile, max(t0_s, profile.start_schedule_s), tx_start_s,
                                 request_s)
        at = first if first is not None else profile.start_schedule_s
        while at < t1_s:
            starts.append(at)
            at += every_s
    else:
        start = schedule_start_s(profile, t0_s, tx_start_s, request_s)
        if start is None:
            start = profile.start_schedule_s
        if start is not None:
            starts.append(start)
    length = _schedule_length_s(profile)
    for start in starts:
        out.update(start + p.start_period_s for p in profile.periods)
        if length is not None:
            out.add(start + length)
    return {t for t in out if t0_s <= t < t1_s}


# ---------------------------------------------------------------------- composite
def _to_limit(profile: ChargingProfile, period: SchedulePeriod, electrical: Electrical,
              phases_for_watts: int) -> Limit:
    phases = period.number_phases or DEFAULT_PHASES
    if profile.rate_unit == "W":
        return Limit(period.limit / (electrical.voltage_v * phases_for_watts), phases)
    return Limit(period.limit, phases)


def _prevailing(profiles: list[ChargingProfile], at_s: float, tx_start_s: float | None,
                request_s: float) -> tuple[ChargingProfile, SchedulePeriod] | None:
    """Highest stack level with a period at ``at_s`` ([16] §3.13.2)."""
    for profile in sorted(profiles, key=lambda p: -p.stack_level):
        period = period_at(profile, at_s, tx_start_s, request_s)
        if period is not None:
            return profile, period
    return None


def limits_at(profiles: list[ChargingProfile], at_s: float, *, tx_start_s: float | None,
              request_s: float) -> list[tuple[ChargingProfile, SchedulePeriod]]:
    """The profile/period of each purpose that limits at ``at_s`` (Tx replacing TxDefault
    while it has a period)."""
    by_purpose: dict[str, list[ChargingProfile]] = {}
    for profile in profiles:
        by_purpose.setdefault(profile.purpose, []).append(profile)
    found: list[tuple[ChargingProfile, SchedulePeriod]] = []
    for purposes in ((STATION_MAX,), (TX, TX_DEFAULT), (EXTERNAL,)):
        for purpose in purposes:
            hit = _prevailing(by_purpose.get(purpose, []), at_s, tx_start_s, request_s)
            if hit is not None:
                found.append(hit)
                break
    return found


def composite_schedule(profiles: list[ChargingProfile], request_s: float, duration_s: int,
                       unit: str, electrical: Electrical, *,
                       tx_start_s: float | None = None) -> list[CompositePeriod]:
    """The composite for [request_s, request_s + duration_s) in ``unit`` ("A" or "W"):
    always at least one period starting at 0; equal neighbours merged."""
    t1_s = request_s + max(0, duration_s)
    instants = {request_s}
    for profile in profiles:
        instants |= _boundaries(profile, request_s, t1_s, tx_start_s, request_s)
    out: list[CompositePeriod] = []
    for at_s in sorted(instants):
        hits = limits_at(profiles, at_s, tx_start_s=tx_start_s, request_s=request_s)
        phases = min([p.number_phases or DEFAULT_PHASES for _, p in hits]
                     + [electrical.phases])
        amps = min([_to_limit(prof, per, electrical, phases).amps for prof, per in hits]
                   + [electrical.max_current_a])
        if unit == "W":
            # An A limit in W with its own phases; a W limit as given ([16] §7.12).
            watts = [_watts(prof, per, electrical) for prof, per in hits]
            value = min(watts + [electrical.max_current_a * electrical.voltage_v * phases])
        else:
            value = amps
        start = int(round(at_s - request_s))
        if out and out[-1].limit == value and out[-1].number_phases == phases:
            continue
        if out and out[-1].start_period_s == start:
            out[-1] = CompositePeriod(start, value, phases)
        else:
            out.append(CompositePeriod(start, value, phases))
    return out


def _watts(profile: ChargingProfile, period: SchedulePeriod, electrical: Electrical) -> float:
    if profile.rate_unit == "W":
        return period.limit
    return period.limit * electrical.voltage_v * (period.number_phases or DEFAULT_PHASES)


def round_down_tenth(value: float) -> float:
    """1.6 limits carry one decimal (schema multipleOf 0.1): round computed limits down,
    never up, so the reported composite never exceeds what applies."""
    return math.floor(value * 10 + 1e-9) / 10


def offer_a(profiles: list[ChargingProfile], at_s: float, electrical: Electrical, *,
            tx_start_s: float | None) -> float:
    """The current to offer on the pilot now: the composite's amps, and 0 (a pause, no
    PWM) below the IEC 61851 minimum of 6 A, never a 5 A offer."""
    hits = limits_at(profiles, at_s, tx_start_s=tx_start_s, request_s=at_s)
    phases = min([p.number_phases or DEFAULT_PHASES for _, p in hits] + [electrical.phases])
    amps = min([_to_limit(prof, per, electrical, phases).amps for prof, per in hits]
               + [electrical.max_current_a])
    return amps if amps >= 6.0 else 0.0


# ---------------------------------------------------------------------- validation
def problem_with(profile: ChargingProfile, limits: ProfileLimits) -> str | None:
    """Why a SetChargingProfile must be Rejected, or None ([16] §3.13, [E16] 3.45, K01)."""
    if profile.purpose == EXTERNAL:
        return "ChargingStationExternalConstraints cannot be set by the CSMS (K01.FR.22)"
    if profile.purpose == STATION_MAX and profile.connector_id != 0:
        return "a station maximum profile is only for connector 0 ([16] §3.13.1)"
    if profile.purpose == TX and profile.connector_id <= 0:
        return "a TxProfile needs a connector > 0 ([16] §3.13.1)"
    if not 0 <= profile.stack_level <= limits.max_stack_level:
        return f"stackLevel must be 0..{limits.max_stack_level}"
    if profile.rate_unit not in limits.allowed_units:
        return f"chargingRateUnit {profile.rate_unit} is not allowed"
    if not profile.periods or len(profile.periods) > limits.max_periods:
        return f"a schedule has 1..{limits.max_periods} periods"
    if profile.periods[0].start_period_s != 0:
        return "the first startPeriod must be 0 ([E16] 3.45)"
    starts = [p.start_period_s for p in profile.periods]
    if any(b <= a for a, b in zip(starts, starts[1:])):
        return "startPeriods must increase"
    for period in profile.periods:
        if not math.isfinite(period.limit) or period.limit < 0:
            return "a limit must be a finite number >= 0"
        if period.number_phases is not None and period.number_phases not in (1, 2, 3):
            return "numberPhases must be 1, 2 or 3"
    if profile.kind in (ABSOLUTE, RECURRING) and profile.start_schedule_s is None:
        return f"an {profile.kind} schedule needs a startSchedule (K01.FR.40)"
    if profile.kind == RECURRING and profile.recurrency not in ("Daily", "Weekly"):
        return "a Recurring schedule needs recurrencyKind Daily or Weekly"
    if profile.duration_s is not None and profile.duration_s < 0:
        return "duration must be >= 0"
    return None


def next_change_s(profiles: list[ChargingProfile], now_s: float, *,
                  tx_start_s: float | None, horizon_s: int = DAILY_S) -> float | None:
    """The next instant after ``now_s`` (within ``horizon_s``) where a limit may change."""
    later: set[float] = set()
    for profile in profiles:
        later |= _boundaries(profile, now_s, now_s + horizon_s, tx_start_s, now_s)
    upcoming = sorted(t for t in later if t > now_s + 1e-6)
    return upcoming[0] if upcoming else None


def for_connector(profiles: list[ChargingProfile], connector_id: int,
                  transaction_id: int | None, has_tx: bool) -> list[ChargingProfile]:
    """The profiles that limit one connector: the station maximum (applied as its cap),
    its own TxDefault (else connector 0's, [16] §3.13.1), and its transaction's
    TxProfile."""
    own_default = any(p.purpose == TX_DEFAULT and p.connector_id == connector_id
                      for p in profiles)
    out: list[ChargingProfile] = []
    for p in profiles:
        if p.purpose in (STATION_MAX, EXTERNAL):
            out.append(p)
        elif p.purpose == TX_DEFAULT:
            if p.connector_id == connector_id or (p.connector_id == 0 and not own_default):
                out.append(p)
        elif p.purpose == TX and p.connector_id == connector_id and has_tx and (
                p.transaction_id is None or p.transaction_id == transaction_id):
            out.append(p)
    return out
