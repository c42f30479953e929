"""End-to-end flows of the sans-I/O station with a fake clock (no I/O, no sleeps)."""

from firmware.core import effects as fx
from firmware.core import events as ev
from firmware.core.timers import AlignedSample, ConnectionTimeout, KeepAlive, PeriodicSample

from tests.core.harness import Entry, Harness


def test_boot_accepted_sets_heartbeat_and_reports_every_connector():
    """The clock is synced by the link at receipt (tests/clocks), not by the core."""
    h = Harness(connectors=2)
    assert h.of(fx.SendConnectorStatus) == []  # nothing before registration
    out = h.handle(ev.LinkConnected())
    assert out == [fx.SendRegistration()]
    out = h.handle(ev.RegistrationAnswered("Accepted", 120, h.now + 5))
    assert fx.PersistConfiguration("HeartbeatInterval", "120") in out
    assert fx.StartTimer(KeepAlive(), 120) in out
    sent = [(e.connector_id, e.status) for e in h.of(fx.SendConnectorStatus, out)]
    assert sent == [(0, "Available"), (1, "Available"), (2, "Available")]


def test_plug_tap_charge_stop_by_same_tag_without_authorize():
    h = Harness()
    h.boot()
    h.pilot("B")
    assert h.status() == "Preparing"
    h.tap("04A2B3C4")
    assert h.last(fx.SendAuthorizationRequest).id_tag == "04A2B3C4"
    out = h.answer_authorize()
    start = h.last(fx.SendTransactionStarted)
    assert (start.connector_id, start.id_tag, start.meter_start_wh) == (1, "04A2B3C4", 1000)
    assert fx.OfferEnergy(1, 32.0) in out
    assert h.of(fx.CloseContactor) == []  # EV has not asked for energy yet
    h.answer_start(1001)
    out = h.pilot("C")
    assert fx.CloseContactor(1) in out
    assert h.status() == "Charging"
    h.advance(3600)
    h.meter(add_wh=7400)
    authorizes_before = len(h.of(fx.SendAuthorizationRequest))
    out = h.tap("04a2b3c4")  # same card, other reader case: still the same tag
    assert len(h.of(fx.SendAuthorizationRequest)) == authorizes_before  # §4.1 no Authorize to stop
    assert out[0] == fx.OpenContactor(1)  # safety effects come first
    stop = h.last(fx.SendTransactionEnded)
    assert (stop.reason, stop.meter_stop_wh, stop.id_tag) == ("Local", 8400, "04a2b3c4")
    assert h.status() == "Finishing"
    h.pilot("A")
    assert h.status() == "Available"
    assert h.statuses_sent() == ["Available", "Preparing", "SuspendedEV", "Charging",
                                 "Finishing", "Available"]


def test_contactor_never_closes_without_authorization_even_when_ev_asks():
    h = Harness()
    h.boot()
    h.pilot("B")
    h.pilot("C")
    assert h.of(fx.CloseContactor) == []
    assert h.status() == "Preparing"


def test_ev_pause_opens_contactor_and_reports_suspended_ev():
    h = Harness()
    h.boot()
    h.start_session()
    out = h.pilot("B")
    assert out[0] == fx.OpenContactor(1)
    assert h.status() == "SuspendedEV"
    out = h.pilot("C")
    assert fx.CloseContactor(1) in out
    assert h.status() == "Charging"


def test_unplug_during_transaction_stops_with_ev_disconnected():
    h = Harness()
    h.boot()
    h.start_session()
    h.pilot("A")
    assert h.last(fx.SendTransactionEnded).reason == "EVDisconnected"
    assert h.status() == "Available"


def test_tap_before_plug_then_connection_timeout_cancels():
    h = Harness(config={"ConnectionTimeOut": "30"})
    h.boot()
    h.tap("CAFE0001")
    h.answer_authorize()
    assert h.status() == "Preparing"
    assert fx.StartTimer(ConnectionTimeout(1), 30) in h.log
    h.advance(30)
    h.handle(ev.TimerFired(ConnectionTimeout(1)))
    assert h.status() == "Available"
    assert h.of(fx.SendTransactionStarted) == []


def test_tap_before_plug_then_plug_starts():
    h = Harness()
    h.boot()
    h.tap("CAFE0001")
    h.answer_authorize()
    out = h.pilot("B")
    assert fx.CancelTimer(ConnectionTimeout(1)) in out
    assert h.last(fx.SendTransactionStarted).id_tag == "CAFE0001"


def test_rejected_tag_does_not_start_and_is_remembered():
    h = Harness()
    h.boot()
    h.pilot("B")
    h.tap("BAD00001")
    out = h.answer_authorize("Blocked")
    # The store negative-caches the refusal when it records this IdTagInfo.
    assert h.of(fx.SendTransactionStarted) == []
    assert h.status() == "Preparing"
    assert fx.UpdateAuthorizationCache("BAD00001", "Blocked", None, None) in out


def test_parent_id_tag_group_member_stops_the_transaction():
    h = Harness()
    h.boot()
    h.pilot("B")
    h.tap("CARD0001")
    h.answer_authorize(parent="FLEET")
    h.answer_start()
    h.pilot("C")
    h.tap("CARD0002")  # another card of the same fleet
    h.answer_authorize(parent="FLEET")
    stop = h.last(fx.SendTransactionEnded)
    assert (stop.reason, stop.id_tag) == ("Local", "CARD0002")


def test_invalid_start_transaction_conf_deauthorizes_when_configured():
    h = Harness()
    h.boot()
    h.pilot("B")
    h.tap("CARD0001")
    h.answer_authorize()
    h.answer_start(status="Invalid")
    assert h.last(fx.SendTransactionEnded).reason == "DeAuthorized"


def test_invalid_start_conf_suspends_energy_when_not_stopping():
    h = Harness(config={"StopTransactionOnInvalidId": "false"})
    h.boot()
    h.start_session()
    h.station.handle(ev.TransactionStartAnswered(1, 1001, ev.IdTagInfo("Invalid")), h.now)
    assert h.status() == "SuspendedEVSE"
    assert not h.station.connectors[1].contactor_should_close()


def test_offline_unknown_tag_follows_allow_offline_tx_for_unknown_id():
    h = Harness(config={"AllowOfflineTxForUnknownId": "true"})
    h.pilot("B")  # never connected: offline
    h.tap("UNKNOWN1")
    assert h.of(fx.SendAuthorizationRequest) == []
    assert h.last(fx.SendTransactionStarted).id_tag == "UNKNOWN1"
    h2 = Harness()
    h2.pilot("B")
    h2.tap("UNKNOWN1")
    assert h2.of(fx.SendTransactionStarted) == []


def test_authorize_timeout_falls_back_to_offline_rules_with_local_list():
    h = Harness()
    h.boot()
    h.pilot("B")
    h.tap("LISTED01", list_entry=Entry("LISTED01"))
    request = h.last(fx.SendAuthorizationRequest)
    h.handle(ev.CallFailed(request.ref, request, "timeout"))
    assert h.last(fx.SendTransactionStarted).id_tag == "LISTED01"


def test_meter_values_sampled_during_transaction():
    h = Harness(config={"MeterValueSampleInterval": "10"})
    h.boot()
    h.start_session()
    assert fx.StartTimer(PeriodicSample(1), 10) in h.log
    h.advance(10)
    h.meter(add_wh=20)
    out = h.handle(ev.TimerFired(PeriodicSample(1)))
    values = h.of(fx.SendMeterSamples, out)[0]
    assert values.local_tx_id == 1
    measured = {(v.measurand, v.value, v.unit) for v in values.samples[0].values}
    assert ("Energy.Active.Import.Register", "1020", "Wh") in measured
    assert ("Power.Active.Import", "7000", "W") in measured
    assert values.samples[0].values[0].context == "Sample.Periodic"


def test_stop_transaction_carries_stop_txn_sampled_data():
    h = Harness(config={"StopTxnSampledData": "Energy.Active.Import.Register"})
    h.boot()
    h.start_session()
    h.meter(add_wh=500)
    h.tap("AABBCCDD")
    stop = h.last(fx.SendTransactionEnded)
    contexts = [s.values[0].context for s in stop.transaction_data]
    assert contexts == ["Transaction.Begin", "Transaction.End"]
    assert stop.transaction_data[-1].values[0].value == "1500"


def test_contactor_failure_faults_the_connector_and_reports_it():
    h = Harness()
    h.boot()
    h.start_session()
    out = h.handle(ev.ContactorFailed(1, "ContactorWelded", "feedback closed with coil off"))
    assert h.status() == "Faulted"
    notification = h.of(fx.SendConnectorStatus, out)[-1]
    assert (notification.status, notification.error_code,
            notification.vendor_error_code) == ("Faulted", "PowerSwitchFailure", "ContactorWelded")
    # A new tap cannot start anything on a faulted connector.
    h.tap("OTHER001")
    assert h.of(fx.SendAuthorizationRequest)[-1].id_tag != "OTHER001"


def test_meter_failure_opens_contactor_and_reports_power_meter_failure():
    h = Harness()
    h.boot()
    h.start_session()
    out = h.handle(ev.MeterFailed(1, "no answer 3 times"))
    assert out[0] == fx.OpenContactor(1)
    assert h.of(fx.SendConnectorStatus, out)[-1].error_code == "PowerMeterFailure"
    out = h.meter(add_wh=1)
    assert fx.CloseContactor(1) in out
    assert h.status() == "Charging"


def test_pilot_error_state_faults_and_opens():
    h = Harness()
    h.boot()
    h.start_session()
    out = h.pilot("E")
    assert out[0] == fx.OpenContactor(1)
    assert h.status() == "Faulted"


def test_recovered_transaction_is_stopped_with_power_loss_and_last_meter_value():
    from firmware.core.connector import TransactionRecord

    h = Harness()
    record = TransactionRecord(7, 1, "CARD0001", None, 100, h.now - 100, 1001, 900, h.now - 20)
    out = h.handle(ev.RecoveredTransaction(record))
    stop = h.of(fx.SendTransactionEnded, out)[0]
    assert (stop.local_tx_id, stop.reason, stop.meter_stop_wh, stop.timestamp_s) == (
        7, "PowerLoss", 900, h.now - 20)
    assert h.station.next_local_tx_id == 8


def test_cable_locked_during_the_transaction_and_released_after():
    h = Harness()
    h.boot()
    h.pilot("B")
    h.tap("CARD0001")
    out = h.answer_authorize()
    assert fx.LockCable(1) in out
    h.answer_start()
    out = h.tap("CARD0001")
    assert fx.UnlockCable(1) in out


def test_3_5_4_deauthorized_keeps_the_cable_locked_until_the_owner_returns():
    h = Harness()
    h.boot()
    h.start_session("CARD0001")
    h.handle(ev.TransactionStartAnswered(1, 1001, ev.IdTagInfo("Invalid")))
    assert h.last(fx.SendTransactionEnded).reason == "DeAuthorized"
    assert h.station.connectors[1].cable_locked
    h.tap("SOMEONE2")
    assert h.station.connectors[1].cable_locked
    out = h.tap("card0001")
    assert fx.UnlockCable(1) in out


def test_a_reader_serving_one_connector_starts_only_there():
    h = Harness(connectors=2)
    h.boot()
    h.pilot("B", connector_id=1)
    h.handle(ev.CardPresented("CARD0002", "reader2", connector_id=2))
    h.answer_authorize()
    assert h.station.connectors[2].authorization is not None
    assert h.station.connectors[1].authorization is None
    assert h.of(fx.SendTransactionStarted) == []  # connector 2 has no cable yet


def test_meter_failure_sends_no_stale_values_and_stops_with_the_last_persisted_reading():
    h = Harness(config={"MeterValueSampleInterval": "10"})
    h.boot()
    h.start_session()
    h.advance(20)
    h.meter(add_wh=100)  # persisted checkpoint (15 s since start)
    h.handle(ev.MeterFailed(1, "no answer"))
    out = h.handle(ev.TimerFired(PeriodicSample(1)))
    assert h.of(fx.SendMeterSamples, out) == []
    h.tap("AABBCCDD")
    assert h.last(fx.SendTransactionEnded).meter_stop_wh == 1100


def test_clock_aligned_values_every_slot_even_with_a_one_second_interval():
    h = Harness(config={"ClockAlignedDataInterval": "1"})
    h.boot()
    h.now = float(int(h.now)) + 0.005  # the timer fires 5 ms after the slot
    out = h.handle(ev.TimerFired(AlignedSample()))
    timer = h.of(fx.StartTimer, out)[0]
    assert timer.key == AlignedSample() and 0.9 < timer.delay_s < 1.0
    stamp = h.of(fx.SendMeterSamples, out)[0].samples[0].timestamp_s
    assert stamp == float(int(h.now))  # the slot's time, not the loop's


def test_a_dropped_start_transaction_marks_the_transaction_unknown_to_the_csms():
    h = Harness()
    h.pilot("B")
    h.handle(ev.CardPresented("CARD0001", list_entry=Entry("CARD0001")))  # offline start
    h.handle(ev.TransactionMessageDropped(1, "StartTransaction", was_start=True))
    assert h.station.connectors[1].tx.unknown_to_csms
