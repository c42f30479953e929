"""SetChargingProfile, ClearChargingProfile and GetCompositeSchedule, and the limit each
connector's pilot offers (the rules are in ``smart_charging``).

- Install: validated against the station's limits (ChargeProfileMaxStackLevel,
  ChargingScheduleAllowedChargingRateUnit, ChargingScheduleMaxPeriods,
  MaxChargingProfilesInstalled); a TxProfile needs a transaction on its connector (and
  its transactionId, if given); the same id, or the same purpose, connector and stack
  level, replaces ([16] §5.16.3). Every change is persisted at once ([E16] 3.37).
- Clear: every given field must match (AND), an id wins over the rest; nothing matched is
  Unknown ([E16] 3.25, 3.26, [16] §7.21).
- A TxProfile ends with its transaction ([16] §3.13.1: SHOULD be deleted).
- Each connector's limit is re-derived in ``Station._sync`` after every event; a timer
  (``SMART_CHARGING_TIMER``) brings the next period boundary as an event, so a limit
  changes at its boundary without polling.
"""

from __future__ import annotations

from dataclasses import replace

from . import effects as fx
from . import events as ev
from .connector import Connector
from .configuration import Configuration
from .timers import ProfileBoundary
from .smart_charging import (DAILY_S, TX, ChargingProfile, Electrical, ProfileLimits,
                             composite_schedule, for_connector, limits_at, next_change_s,
                             offer_a, problem_with)

SMART_CHARGING_TIMER = ProfileBoundary()


class SmartCharging:
    """The station's charging profiles and each connector's limit, as one part.

    ``connectors`` and ``config`` are the station's (read; ``apply_limit`` sets a
    connector's ``limit_a`` and ``limit_source``); ``profiles`` the installed ones (a
    TxProfile does not outlive its transaction, so none is given back at start).
    Request handlers (``install``, ``clear``, ``report``, ``composite``) return the
    effects of one event; ``arm_timer`` the timer of the next period boundary; every
    change is persisted in the effects it returns (``PersistChargingProfiles``)."""

    def __init__(self, connectors: dict[int, Connector], config: Configuration,
                 profiles: list[ChargingProfile]) -> None:
        self.connectors = connectors
        self.config = config
        self.profiles = [p for p in profiles if p.purpose != TX]

    # ------------------------------------------------------------------ requests
    def install(self, event: ev.ChargingProfileInstallRequested,
                                 now: float) -> list[fx.Effect]:
        profile: ChargingProfile = event.profile
        problem = self._profile_problem(profile)
        if problem is not None:
            return [fx.Reply(event.ref, {"status": "Rejected", "why": problem})]
        kept = [p for p in self.profiles
                if p.profile_id != profile.profile_id
                and (p.purpose, p.connector_id, p.stack_level)
                != (profile.purpose, profile.connector_id, profile.stack_level)]
        if len(kept) >= self.config.get_int("MaxChargingProfilesInstalled"):
            return [fx.Reply(event.ref, {"status": "Rejected",
                                         "why": "MaxChargingProfilesInstalled reached"})]
        if profile.purpose == TX and profile.transaction_id is None:
            c = self.connectors[profile.connector_id]
            if c.tx is not None and c.tx.transaction_id is not None:
                profile = replace(profile, transaction_id=c.tx.transaction_id)
        self.profiles = kept + [profile]
        return [fx.Reply(event.ref, {"status": "Accepted"}), self._persist_profiles()] \
            + self.arm_timer(now)

    def _profile_problem(self, profile: ChargingProfile) -> str | None:
        if profile.connector_id != 0 and profile.connector_id not in self.connectors:
            return f"no connector {profile.connector_id}"
        problem = problem_with(profile, self._profile_limits())
        if problem is not None:
            return problem
        if profile.purpose == TX:
            c = self.connectors[profile.connector_id]
            if c.tx is None:
                return "a TxProfile needs a running transaction ([16] §5.16.4)"
            if profile.transaction_id not in (None, c.tx.transaction_id):
                return "transactionId is not the connector's transaction"
        return None

    def remote_profile_problem(self, profile: ChargingProfile) -> str | None:
        """A RemoteStart's profile: a TxProfile without transactionId ([E16] 3.41)."""
        if profile.purpose != TX or profile.transaction_id is not None:
            return "RemoteStartTransaction takes a TxProfile without transactionId"
        return problem_with(replace(profile, connector_id=max(1, profile.connector_id)),
                            self._profile_limits())

    def start_with_profile(self, c: Connector, profile: ChargingProfile) -> list[fx.Effect]:
        """[16] §5.11: apply the RemoteStart's profile to the newly started transaction."""
        self.profiles = [p for p in self.profiles
                         if not (p.purpose == TX and p.connector_id == c.connector_id)]
        self.profiles.append(replace(profile, connector_id=c.connector_id))
        return [self._persist_profiles()]

    def _profile_limits(self) -> ProfileLimits:
        names = {"Current": "A", "Power": "W"}
        units = tuple(names[u] for u in self.config.get_list(
            "ChargingScheduleAllowedChargingRateUnit") if u in names)
        return ProfileLimits(max_stack_level=self.config.get_int("ChargeProfileMaxStackLevel"),
                             max_periods=self.config.get_int("ChargingScheduleMaxPeriods"),
                             allowed_units=units)

    def clear(self, event: ev.ChargingProfileClearRequested,
                                   now: float) -> list[fx.Effect]:
        def matches(p: ChargingProfile) -> bool:
            if event.profile_id is not None:
                return p.profile_id == event.profile_id  # [E16] 3.26: the id wins
            return ((event.connector_id is None or p.connector_id == event.connector_id)
                    and (event.purpose is None or p.purpose == event.purpose)
                    and (event.stack_level is None or p.stack_level == event.stack_level))
        kept = [p for p in self.profiles if not matches(p)]
        if len(kept) == len(self.profiles):
            return [fx.Reply(event.ref, {"status": "Unknown"})]
        self.profiles = kept
        return [fx.Reply(event.ref, {"status": "Accepted"}), self._persist_profiles()] \
            + self.arm_timer(now)

    def report(self, event: ev.ChargingProfilesReportRequested,
                                     now: float) -> list[fx.Effect]:
        """K09: every given criterion must match; the reports follow the reply, one per
        connector with matching profiles, the station's (0) first."""
        def matches(p: ChargingProfile) -> bool:
            return ((event.connector_id is None or p.connector_id == event.connector_id)
                    and (event.purpose is None or p.purpose == event.purpose)
                    and (event.stack_level is None or p.stack_level == event.stack_level)
                    and (not event.profile_ids or p.profile_id in event.profile_ids))
        by_connector: dict[int, list[ChargingProfile]] = {}
        for profile in self.profiles:
            if matches(profile):
                by_connector.setdefault(profile.connector_id, []).append(profile)
        if not by_connector:
            return [fx.Reply(event.ref, {"status": "NoProfiles"})]
        ids = sorted(by_connector)
        return [fx.Reply(event.ref, {"status": "Accepted"})] + [
            fx.SendChargingProfilesReport(event.request_id, cid, tuple(by_connector[cid]),
                                          more_follow=cid != ids[-1]) for cid in ids]

    def composite(self, event: ev.CompositeScheduleRequested,
                               now: float) -> list[fx.Effect]:
        cid = event.connector_id
        unit = event.unit or "A"
        if cid != 0 and cid not in self.connectors:
            return [fx.Reply(event.ref, {"status": "Rejected"})]
        if unit not in self._profile_limits().allowed_units:
            return [fx.Reply(event.ref, {"status": "Rejected"})]
        if cid == 0:
            # The station as a whole: its own profiles, capped by the sum of the hardware.
            profiles = [p for p in self.profiles if p.connector_id == 0 and p.purpose != TX]
            first = next(iter(self.connectors.values()))
            electrical = Electrical(first.nominal_voltage_v,
                                    sum(c.max_current_a for c in self.connectors.values()),
                                    first.phases)
            tx_start = None
        else:
            c = self.connectors[cid]
            profiles = self._profiles_for(c)
            electrical = self._electrical(c)
            tx_start = c.tx.record.started_at_s if c.tx is not None else None
        periods = composite_schedule(profiles, now, event.duration_s, unit, electrical,
                                     tx_start_s=tx_start)
        return [fx.Reply(event.ref, {"status": "Accepted", "connector_id": cid,
                                     "schedule_start_s": now, "duration_s": event.duration_s,
                                     "unit": unit, "periods": tuple(periods)})]

    # ------------------------------------------------------------------ applying
    def _profiles_for(self, c: Connector) -> list[ChargingProfile]:
        tx = c.tx
        return for_connector(self.profiles, c.connector_id,
                             tx.transaction_id if tx is not None else None, tx is not None)

    @staticmethod
    def _electrical(c: Connector) -> Electrical:
        return Electrical(c.nominal_voltage_v, c.max_current_a, c.phases)

    def apply_limit(self, c: Connector, now: float) -> None:
        """Set ``c.limit_a`` (None: no profile limits it) and which profile set it."""
        profiles = self._profiles_for(c)
        if not profiles:
            c.limit_a, c.limit_source = None, ""
            return
        tx_start = c.tx.record.started_at_s if c.tx is not None else None
        c.limit_a = offer_a(profiles, now, self._electrical(c), tx_start_s=tx_start)
        hits = limits_at(profiles, now, tx_start_s=tx_start, request_s=now)
        c.limit_source = ", ".join(f"{p.purpose}#{p.profile_id}" for p, _ in hits)

    def end_tx_profiles(self, c: Connector) -> list[fx.Effect]:
        kept = [p for p in self.profiles
                if not (p.purpose == TX and p.connector_id == c.connector_id)]
        if len(kept) == len(self.profiles):
            return []
        self.profiles = kept
        return [self._persist_profiles()]

    def arm_timer(self, now: float) -> list[fx.Effect]:
        upcoming: list[float] = []
        for c in self.connectors.values():
            tx_start = c.tx.record.started_at_s if c.tx is not None else None
            at = next_change_s(self._profiles_for(c), now, tx_start_s=tx_start)
            if at is not None:
                upcoming.append(at)
        if not upcoming:
            if not self.profiles:
                return [fx.CancelTimer(SMART_CHARGING_TIMER)]
            # Nothing changes within the look-ahead (a day): look again then, so a
            # boundary further away (a schedule starting in a week) is never missed.
            return [fx.StartTimer(SMART_CHARGING_TIMER, float(DAILY_S))]
        return [fx.StartTimer(SMART_CHARGING_TIMER, max(0.0, min(upcoming) - now))]

    def _persist_profiles(self) -> fx.PersistChargingProfiles:
        return fx.PersistChargingProfiles(tuple(self.profiles))
