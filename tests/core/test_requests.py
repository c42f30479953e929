"""CSMS requests against the sans-I/O station (fake clock), with spec sections."""

from firmware.core import effects as fx
from firmware.core import events as ev
from firmware.core.timers import KeepAlive, PeriodicSample, RegistrationRetry

from tests.core.harness import Harness


def test_5_2_change_availability_during_transaction_is_scheduled_and_applied_after():
    h = Harness()
    h.boot()
    h.start_session()
    out = h.handle(ev.AvailabilityChangeRequested(h.ref(), 1, "Inoperative"))
    assert h.reply(out) == {"status": "Scheduled"}
    assert fx.PersistAvailability(1, False) in out
    assert h.status() == "Charging"
    h.tap("AABBCCDD")
    assert h.station.connectors[1].operative is False
    h.pilot("A")
    assert h.status() == "Unavailable"


def test_5_2_change_availability_connector_0_means_all_and_station_reports_unavailable():
    h = Harness(connectors=2)
    h.boot()
    out = h.handle(ev.AvailabilityChangeRequested(h.ref(), 0, "Inoperative"))
    assert h.reply(out) == {"status": "Accepted"}
    sent = {(e.connector_id, e.status) for e in h.of(fx.SendConnectorStatus, out)}
    assert sent == {(0, "Unavailable"), (1, "Unavailable"), (2, "Unavailable")}
    out = h.handle(ev.AvailabilityChangeRequested(h.ref(), 3, "Operative"))
    assert h.reply(out) == {"status": "Rejected"}


def test_unavailable_connector_refuses_new_sessions():
    h = Harness()
    h.boot()
    h.handle(ev.AvailabilityChangeRequested(h.ref(), 1, "Inoperative"))
    h.pilot("B")
    h.tap("AABBCCDD")
    assert h.of(fx.SendAuthorizationRequest) == []
    out = h.handle(ev.RemoteStartRequested(h.ref(), "AABBCCDD", 1))
    assert h.reply(out) == {"status": "Rejected"}


def test_5_14_reset_stops_transactions_with_reset_reason_then_restarts():
    h = Harness(connectors=2)
    h.boot()
    h.start_session(connector_id=1)
    out = h.handle(ev.ResetRequested(h.ref(), "Hard"))
    assert out.index(fx.OpenContactor(1)) == 0
    assert h.reply(out) == {"status": "Accepted"}
    stop = h.of(fx.SendTransactionEnded, out)[0]
    assert stop.reason == "HardReset"
    # one restart for the station (not one per connector); the runtime only flags it
    # and exits once the stop is safely queued, so it must come after the stop
    assert out.count(fx.RestartAgent("Hard")) == 1
    assert out.index(stop) < out.index(fx.RestartAgent("Hard"))


def test_5_18_unlock_connector_stops_the_transaction_first():
    h = Harness()
    h.boot()
    h.start_session()
    ref = h.ref()
    out = h.handle(ev.CableUnlockRequested(ref, 1))
    assert h.of(fx.Reply, out) == []  # the reply waits for the lock
    assert h.last(fx.SendTransactionEnded).reason == "UnlockCommand"
    assert fx.UnlockCable(1, ref) in out
    out = h.handle(ev.CableUnlocked(1, True, ref))
    assert h.reply(out) == {"status": "Unlocked"}


def test_unlock_without_a_lock_is_not_supported():
    h = Harness(has_lock=False)
    h.boot()
    assert h.reply(h.handle(ev.CableUnlockRequested(h.ref(), 1))) == {"status": "NotSupported"}


def test_5_17_trigger_message_reply_comes_first():
    h = Harness()
    h.boot()
    out = h.handle(ev.MessageTriggerRequested(h.ref(), "StatusNotification", 1))
    assert isinstance(out[0], fx.Reply) and out[0].fields == {"status": "Accepted"}
    assert h.of(fx.SendConnectorStatus, out)[0].connector_id == 1
    out = h.handle(ev.MessageTriggerRequested(h.ref(), "SignCertificate", None))
    assert h.reply(out) == {"status": "NotImplemented"}


def test_errata_3_35_trigger_boot_notification_rejected_once_accepted():
    h = Harness()
    h.handle(ev.LinkConnected())
    h.handle(ev.RegistrationAnswered("Pending", 30, None))
    out = h.handle(ev.MessageTriggerRequested(h.ref(), "BootNotification", None))
    assert h.reply(out) == {"status": "Accepted"} and fx.SendRegistration() in out
    h.handle(ev.RegistrationAnswered("Accepted", 30, None))
    out = h.handle(ev.MessageTriggerRequested(h.ref(), "BootNotification", None))
    assert h.reply(out) == {"status": "Rejected"}


def test_4_2_pending_rejects_remote_start_and_stop_and_reports_no_status():
    h = Harness()
    h.handle(ev.LinkConnected())
    out = h.handle(ev.RegistrationAnswered("Pending", 30, None))
    assert fx.StartTimer(RegistrationRetry(), 30) in out
    assert h.of(fx.SendConnectorStatus) == []
    assert h.reply(h.handle(ev.RemoteStartRequested(h.ref(), "T1", 1))) == {"status": "Rejected"}
    assert h.reply(h.handle(ev.RemoteStopRequested(h.ref(), 1))) == {"status": "Rejected"}
    h.pilot("B")
    assert h.of(fx.SendConnectorStatus) == []
    out = h.handle(ev.TimerFired(RegistrationRetry()))
    assert out == [fx.SendRegistration()]


def test_4_2_rejected_waits_the_interval_even_across_reconnects():
    h = Harness()
    h.handle(ev.LinkConnected())
    h.handle(ev.RegistrationAnswered("Rejected", 600, None))
    h.handle(ev.LinkDisconnected())
    assert h.handle(ev.LinkConnected()) == []  # no early BootNotification
    assert h.handle(ev.TimerFired(RegistrationRetry())) == [fx.SendRegistration()]


def test_remote_start_picks_the_plugged_connector_when_none_is_given():
    h = Harness(connectors=2)
    h.boot()
    h.pilot("B", connector_id=2)
    out = h.handle(ev.RemoteStartRequested(h.ref(), "REMOTE01", None))
    assert h.reply(out) == {"status": "Accepted"}
    assert h.last(fx.SendTransactionStarted).connector_id == 2


def test_heartbeat_follows_the_interval():
    h = Harness()
    h.boot(interval_s=60)
    out = h.handle(ev.TimerFired(KeepAlive()))
    assert out == [fx.SendKeepAlive(), fx.StartTimer(KeepAlive(), 60)]
    # The clock sync happened in the link at receipt; the core has nothing to do.
    assert h.handle(ev.KeepAliveAnswered(h.now + 3)) == []


def test_change_configuration_rearms_timers():
    h = Harness()
    h.boot()
    h.start_session()
    out = h.handle(ev.ConfigurationChangeRequested(h.ref(), "MeterValueSampleInterval", "5"))
    assert h.reply(out) == {"status": "Accepted"}
    assert fx.StartTimer(PeriodicSample(1), 5) in out
    out = h.handle(ev.ConfigurationChangeRequested(h.ref(), "heartbeatinterval", "42"))
    assert fx.PersistConfiguration("HeartbeatInterval", "42") in out  # keys are case-insensitive
    assert fx.StartTimer(KeepAlive(), 42) in out


def test_a_remote_start_says_so_in_its_start_and_a_tap_does_not():
    """The start fact names a remote start (2.0.1 triggerReason RemoteStart and the
    remoteStartId echo depend on it), whatever path authorized it."""
    h = Harness(connectors=2)
    h.boot()
    h.pilot("B", connector_id=1)
    h.handle(ev.RemoteStartRequested(h.ref(), "REMOTE01", 1))
    assert h.last(fx.SendTransactionStarted).remote is True
    h.pilot("B", connector_id=2)
    h.tap("AABBCCDD")
    h.answer_authorize()
    assert h.last(fx.SendTransactionStarted).remote is False


def test_a_when_idle_reset_without_transactions_is_accepted_at_once():
    h = Harness()
    h.boot()
    out = h.handle(ev.ResetRequested(h.ref(), "Soft", when_idle=True))
    assert h.reply(out) == {"status": "Accepted"}
    assert fx.RestartAgent("Soft") in out


def test_a_when_idle_reset_waits_for_the_stop_meter_read_too():
    """A transaction whose stop still waits for its meter read is not over yet."""
    h = Harness(auto_meter=False)
    h.boot()
    h.start_session()
    out = h.handle(ev.ResetRequested(h.ref(), "Soft", when_idle=True))
    assert h.reply(out) == {"status": "Scheduled"}
    h.pilot("A")                                   # unplugged: stop, read the meter
    assert not h.of(fx.RestartAgent)
    out = h.handle(ev.MeterRead(1, h.reading()))
    assert fx.RestartAgent("Soft", scheduled=True) in out
