"""Regression tests for the safety defects of issue #8 (A–D) and the core sides of
items 3, 4 and 5. Each reproduces the reported sequence on the sans-I/O station."""

from __future__ import annotations

from firmware.core import effects as fx
from firmware.core import events as ev
from firmware.core.timers import ConnectionTimeout, StopMeterRead

from .harness import Entry, Harness


def _closes(effects: list[fx.Effect]) -> bool:
    return any(isinstance(e, fx.CloseContactor) for e in effects)


# ---------------------------------------------------------------------- A: weld
def test_A_a_weld_found_at_open_ends_the_sessions_right_to_energy():
    h = Harness()
    h.boot()
    h.start_session()
    assert h.station.connectors[1].contactor_closed
    h.pilot("B")                                  # EV pauses: the open finds the weld
    h.handle(ev.ContactorFailed(1, "ContactorWelded", "feedback still closed"))
    assert h.status() == "Faulted"
    h.handle(ev.HardwareFaultChanged(1, "contactor", False))  # feedback agrees again
    out = h.pilot("C")                            # EV asks again
    assert not _closes(out)
    assert not h.station.connectors[1].contactor_closed


def test_A_after_a_weld_no_close_until_unplugged_and_the_contactor_passed_a_check():
    h = Harness()
    h.boot()
    h.start_session()
    h.pilot("B")
    h.handle(ev.ContactorFailed(1, "ContactorWelded", "feedback still closed"))
    h.handle(ev.HardwareFaultChanged(1, "contactor", False))
    out = h.pilot("A")                            # unplugged: a check is asked for
    assert fx.CheckContactor(1) in out
    h.start_session("OTHER001", transaction_id=1002)  # a new session before the check
    assert not h.station.connectors[1].contactor_closed
    assert h.status() != "Charging"
    h.pilot("A")
    h.handle(ev.ContactorChecked(1))              # the check passed with no vehicle
    h.start_session("OTHER002", transaction_id=1003)
    assert h.station.connectors[1].contactor_closed


def test_A_a_check_passed_while_the_vehicle_is_still_plugged_does_not_clear_the_weld():
    h = Harness()
    h.boot()
    h.start_session()
    h.pilot("B")
    h.handle(ev.ContactorFailed(1, "ContactorWelded"))
    h.handle(ev.ContactorChecked(1))              # EV still plugged: not a valid check
    h.handle(ev.HardwareFaultChanged(1, "contactor", False))
    out = h.pilot("C")
    assert not _closes(out)


# ---------------------------------------------------------------------- B: lock first
def test_B_state_C_at_start_locks_and_confirms_before_offer_and_close():
    h = Harness(auto_lock=False)
    h.boot()
    h.pilot("C")                                  # EV already asks (restart, C1)
    h.tap("AABBCCDD")
    out = h.answer_authorize()
    assert fx.LockCable(1) in out
    assert not any(isinstance(e, (fx.CloseContactor, fx.OfferEnergy)) and
                   getattr(e, "max_current_a", 1) for e in out)
    out = h.handle(ev.CableLocked(1))
    assert h.of(fx.OfferEnergy, out)[0].max_current_a > 0
    assert _closes(out)
    assert out.index(h.of(fx.OfferEnergy, out)[0]) < out.index(fx.CloseContactor(1))


def test_B_a_lock_failure_keeps_the_contactor_open_and_faults_the_connector():
    h = Harness(auto_lock=False)
    h.boot()
    h.pilot("C")
    h.tap("AABBCCDD")
    h.answer_authorize()
    out = h.handle(ev.LockFailed(1, "no feedback in 2 s"))
    assert not _closes(out)
    assert h.status() == "Faulted"
    sent = h.of(fx.SendConnectorStatus, out)[-1]
    assert sent.error_code == "ConnectorLockFailure"
    # The lock fault ends with the unplug; the next session tries the lock again.
    h.pilot("A")
    assert h.status() == "Available"


def test_B_unlocking_withdraws_energy_first():
    h = Harness()
    h.boot()
    h.start_session()
    out = h.handle(ev.CableUnlockRequested(h.ref(), 1))
    assert out.index(fx.OpenContactor(1)) < out.index(h.of(fx.UnlockCable, out)[0])


# ---------------------------------------------------------------------- C: timeout
def test_C_an_authorization_is_bound_to_connection_timeout_whatever_happens_between():
    h = Harness(config={"ConnectionTimeOut": "8"})
    h.boot()
    h.tap("AABBCCDD")
    h.answer_authorize()
    h.handle(ev.MeterFailed(1, "no answer"))      # a fault before the plug
    out = h.pilot("B")                            # plugged: nothing starts (fault)
    assert fx.CancelTimer(ConnectionTimeout(1)) not in out
    h.pilot("A")
    h.advance(8)
    h.handle(ev.TimerFired(ConnectionTimeout(1)))
    h.meter()                                     # the fault clears
    h.pilot("B")                                  # someone else plugs in
    assert h.of(fx.SendTransactionStarted) == []
    assert h.status() == "Preparing"


def test_C_plugged_first_then_authorized_with_a_fault_still_times_out():
    h = Harness(config={"ConnectionTimeOut": "8"})
    h.boot()
    h.handle(ev.MeterFailed(1, "no answer"))
    h.pilot("B")
    out = h.handle(ev.RemoteStartRequested(h.ref(), "AABBCCDD", 1))
    assert any(isinstance(e, fx.StartTimer) and e.key == ConnectionTimeout(1)
               for e in out) or h.station.connectors[1].authorization is None


# ---------------------------------------------------------------------- D: reset
def test_D_no_session_starts_after_an_accepted_reset():
    h = Harness()
    h.boot()
    out = h.handle(ev.ResetRequested(h.ref(), "Soft"))
    assert h.reply(out)["status"] == "Accepted"
    h.pilot("B")
    h.tap("AABBCCDD", list_entry=Entry("AABBCCDD"))
    assert h.of(fx.SendAuthorizationRequest) == []
    assert h.of(fx.SendTransactionStarted) == []
    out = h.handle(ev.RemoteStartRequested(h.ref(), "AABBCCDD", 1))
    assert h.reply(out)["status"] == "Rejected"
    assert not h.station.connectors[1].contactor_closed


# ---------------------------------------------------------------------- item 4
def test_9_1_19_local_pre_authorize_starts_without_sending_authorize():
    h = Harness(config={"LocalPreAuthorize": "true"})
    h.boot()
    h.pilot("B")
    h.tap("AABBCCDD", cache_entry=Entry("AABBCCDD", source="cache"))
    assert h.of(fx.SendAuthorizationRequest) == []
    assert h.last(fx.SendTransactionStarted).id_tag == "AABBCCDD"


def test_9_1_19_the_start_conf_is_the_check_of_a_pre_authorized_start():
    h = Harness(config={"LocalPreAuthorize": "true", "StopTransactionOnInvalidId": "true"})
    h.boot()
    h.pilot("B")
    h.tap("AABBCCDD", list_entry=Entry("AABBCCDD"))
    h.answer_start(status="Blocked")
    assert h.last(fx.SendTransactionEnded).reason == "DeAuthorized"


# ---------------------------------------------------------------------- item 5 (core)
def test_5_a_pilot_fault_during_a_charge_never_stops_as_ev_disconnected():
    h = Harness()
    h.boot()
    h.start_session()
    out = h.pilot("F")                            # controller fault: the EV is still there
    assert out[0] == fx.OpenContactor(1)
    stops = h.of(fx.SendTransactionEnded)
    assert all(s.reason != "EVDisconnected" for s in stops)
    assert stops and stops[-1].reason == "Other"


def test_5_unplug_after_a_fault_is_ev_disconnected_when_no_stop_happened_yet():
    h = Harness()
    h.boot()
    h.start_session()
    h.handle(ev.MeterFailed(1, "no answer"))      # transient: the session waits
    assert h.of(fx.SendTransactionEnded) == []
    h.pilot("A")
    assert h.last(fx.SendTransactionEnded).reason == "EVDisconnected"


# ---------------------------------------------------------------------- item 3
def test_3_a_tap_whose_authorize_is_in_flight_when_the_link_drops_frees_the_connector():
    """Found by test_safety_property: the Authorize was sent, the connection closed, no
    answer and no CallFailed ever came; the connector stayed 'awaiting' forever."""
    h = Harness()
    h.boot()
    h.tap("AABBCCDD")
    assert h.station.connectors[1].awaiting_authorize
    h.handle(ev.LinkDisconnected())
    c = h.station.connectors[1]
    assert not c.awaiting_authorize and c.authorization is None  # offline: unknown refused
    h.pilot("B")
    h.pilot("A")
    assert h.status() == "Available"
    h.boot()
    assert h.statuses_sent()[-1] == "Available"


# ---------------------------------------------------------------------- item 14 (energy)
def test_14_meter_stop_is_read_after_the_contactor_opened():
    h = Harness(auto_meter=False)
    h.boot()
    h.start_session()
    h.energy_wh[1] += 4          # energy flowed since the last poll
    out = h.tap("AABBCCDD")
    assert out.index(fx.OpenContactor(1)) < out.index(fx.ReadMeter(1))
    assert h.of(fx.SendTransactionEnded, out) == []
    out = h.handle(ev.MeterRead(1, h.reading()))
    stop = h.of(fx.SendTransactionEnded, out)[0]
    assert (stop.meter_stop_wh, stop.reason, stop.timestamp_s) == (1004, "Local", h.now)
    assert h.status() == "Finishing"


def test_14_a_meter_that_does_not_answer_after_the_stop_falls_back_to_the_last_poll():
    h = Harness(auto_meter=False)
    h.boot()
    h.start_session()
    h.meter(add_wh=20)
    h.tap("AABBCCDD")
    assert not h.station.connectors[1].is_idle()
    out = h.handle(ev.TimerFired(StopMeterRead(1)))
    assert h.of(fx.SendTransactionEnded, out)[0].meter_stop_wh == 1020
    out = h.handle(ev.MeterRead(1, None))           # a late answer changes nothing
    assert h.of(fx.SendTransactionEnded, out) == []


def test_14_checkpoint_every_10_wh_bounds_what_a_power_cut_loses():
    h = Harness()
    h.boot()
    h.start_session()
    saved = [e.record.last_meter_wh for e in h.of(fx.PersistTransaction)]
    for _ in range(10):
        h.advance(1)
        h.meter(add_wh=4)                           # 14.4 kW: 4 Wh a second
    saved = [e.record.last_meter_wh for e in h.of(fx.PersistTransaction)][len(saved):]
    assert saved and 1040 - saved[-1] < 10


def test_14_power_loss_stop_carries_the_recorded_transaction_data():
    from firmware.core.connector import TransactionRecord
    h = Harness()
    kept = (fx.MeterSample(h.now - 60, (fx.SampledValue("1000", "Energy.Active.Import.Register",
                                                         "Transaction.Begin", "Wh"),)),)
    record = TransactionRecord(7, 1, "CARD0001", None, 1000, h.now - 60, 1001, 1050, h.now - 2)
    out = h.handle(ev.RecoveredTransaction(record, kept))
    assert h.of(fx.SendTransactionEnded, out)[0].transaction_data == kept


def test_14_stop_samples_are_saved_when_kept():
    h = Harness(config={"StopTxnSampledData": "Energy.Active.Import.Register"})
    h.boot()
    h.start_session()
    saved = h.of(fx.PersistStopData)
    assert saved and saved[-1].samples[0].values[0].context == "Transaction.Begin"
