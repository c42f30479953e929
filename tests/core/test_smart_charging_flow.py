"""Smart charging in the station: profiles installed, cleared, persisted, applied to the
pilot at period boundaries by a timer (issue #10; rules in smart-charging.md)."""

from __future__ import annotations

from firmware.core import effects as fx
from firmware.core import events as ev
from firmware.core.smart_charging import (ABSOLUTE, RELATIVE, STATION_MAX, TX, TX_DEFAULT,
                                          ChargingProfile, SchedulePeriod)
from firmware.core.smart_charging_flow import SMART_CHARGING_TIMER

from .harness import Harness


def prof(purpose=TX_DEFAULT, periods=((0, 16.0),), *, pid=1, stack=0, connector=1,
         kind=RELATIVE, start=None, duration=None, unit="A", tx=None):
    return ChargingProfile(pid, stack, purpose, kind, unit,
                           tuple(SchedulePeriod(s, v) for s, v in periods),
                           connector_id=connector, transaction_id=tx, start_schedule_s=start,
                           duration_s=duration)


def install(h, profile):
    return h.reply(h.handle(ev.ChargingProfileInstallRequested(h.ref(), profile=profile)))


def offers(h, effects):
    return [e.max_current_a for e in h.of(fx.OfferEnergy, effects)]


def test_a_tx_default_limit_reaches_the_pilot_and_changes_at_the_period_boundary():
    h = Harness()
    h.boot()
    h.start_session()
    assert h.station.connectors[1].offer_a == 32.0
    out = h.handle(ev.ChargingProfileInstallRequested(h.ref(), profile=prof(
        periods=((0, 16.0), (600, 10.0)))))
    assert h.reply(out)["status"] == "Accepted"
    assert offers(h, out) == [16.0]
    assert fx.PersistChargingProfiles(tuple(h.station.profiles)) in out
    timer = [e for e in out if isinstance(e, fx.StartTimer) and e.key == SMART_CHARGING_TIMER]
    assert timer and abs(timer[0].delay_s - 600) < 1e-6
    h.advance(600)
    out = h.handle(ev.TimerFired(SMART_CHARGING_TIMER))
    assert offers(h, out) == [10.0]


def test_below_6_a_is_a_pause_not_a_5_a_offer_and_the_status_says_suspended_evse():
    h = Harness()
    h.boot()
    h.start_session()
    out = install(h, prof(periods=((0, 5.0),)))
    assert out["status"] == "Accepted"
    c = h.station.connectors[1]
    assert c.offer_a == 0 and not c.contactor_closed
    assert h.status() == "SuspendedEVSE"                      # [E16] 3.64


def test_tx_profile_needs_a_transaction_and_ends_with_it():
    h = Harness()
    h.boot()
    assert install(h, prof(TX, pid=5))["status"] == "Rejected"   # [16] §5.16.4
    h.start_session()
    assert install(h, prof(TX, ((0, 12.0),), pid=5))["status"] == "Accepted"
    assert h.station.connectors[1].offer_a == 12.0
    assert install(h, prof(TX, pid=6, tx=999))["status"] == "Rejected"
    h.tap("AABBCCDD")
    assert all(p.purpose != TX for p in h.station.profiles)


def test_station_max_caps_and_same_purpose_connector_stack_replaces():
    h = Harness()
    h.boot()
    h.start_session()
    install(h, prof(STATION_MAX, ((0, 20.0),), pid=1, connector=0, kind=ABSOLUTE,
                    start=h.now - 10))
    install(h, prof(TX_DEFAULT, ((0, 25.0),), pid=2))
    assert h.station.connectors[1].offer_a == 20.0
    install(h, prof(TX_DEFAULT, ((0, 8.0),), pid=3))       # same purpose/connector/stack
    assert [p.profile_id for p in h.station.profiles] == [1, 3]
    assert h.station.connectors[1].offer_a == 8.0
    assert "TxDefault#3" in h.station.connectors[1].limit_source


def test_clear_matches_all_given_fields_and_an_id_wins_e16_3_25():
    h = Harness()
    h.boot()
    install(h, prof(pid=1, stack=0))
    install(h, prof(pid=2, stack=1))
    reply = h.reply(h.handle(ev.ChargingProfileClearRequested(
        h.ref(), profile_id=2, purpose=STATION_MAX)))
    assert reply["status"] == "Accepted"
    assert [p.profile_id for p in h.station.profiles] == [1]
    reply = h.reply(h.handle(ev.ChargingProfileClearRequested(h.ref(), stack_level=7)))
    assert reply["status"] == "Unknown"
    reply = h.reply(h.handle(ev.ChargingProfileClearRequested(h.ref())))
    assert reply["status"] == "Accepted" and h.station.profiles == []


def test_composite_schedule_for_a_connector_and_for_an_unknown_one():
    h = Harness()
    h.boot()
    h.start_session()
    install(h, prof(periods=((0, 16.0), (300, 10.0))))
    reply = h.reply(h.handle(ev.CompositeScheduleRequested(h.ref(), 1, 600, "A")))
    assert reply["status"] == "Accepted"
    assert [(p.start_period_s, p.limit) for p in reply["periods"]] == [(0, 16.0), (300, 10.0)]
    reply = h.reply(h.handle(ev.CompositeScheduleRequested(h.ref(), 7, 600, "A")))
    assert reply["status"] == "Rejected"


def test_invalid_profiles_are_rejected_and_change_nothing():
    h = Harness()
    h.boot()
    before = list(h.station.profiles)
    bad = prof(periods=((60, 16.0),))                       # [E16] 3.45
    assert install(h, bad)["status"] == "Rejected"
    assert install(h, prof(periods=((0, float("nan")),)))["status"] == "Rejected"
    assert h.station.profiles == before


def test_5_11_a_remote_start_profile_applies_to_the_transaction_it_starts_e16_3_41():
    h = Harness()
    h.boot()
    h.pilot("B")
    out = h.handle(ev.RemoteStartRequested(h.ref(), "AABBCCDD", 1,
                                           charging_profile=prof(TX, ((0, 11.0),), pid=9,
                                                                 connector=0)))
    assert h.reply(out)["status"] == "Accepted"
    assert h.station.connectors[1].tx is not None
    assert [(p.purpose, p.connector_id) for p in h.station.profiles] == [(TX, 1)]
    h.pilot("C")
    assert h.station.connectors[1].offer_a == 11.0
    # Not a TxProfile, or one with a transactionId: Rejected, nothing starts.
    for bad in (prof(TX_DEFAULT, pid=10), prof(TX, pid=11, tx=5)):
        h2 = Harness()
        h2.boot()
        out = h2.handle(ev.RemoteStartRequested(h2.ref(), "AABBCCDD", 1, charging_profile=bad))
        assert h2.reply(out)["status"] == "Rejected"
