"""Reservations in the core ([16] §5.13 ReserveNow / CancelReservation; the 1.6 rules that
carry over to 2.0.1, ocpp201-rules.md §8; issue 10 item 3)."""

from __future__ import annotations

from firmware.core import effects as fx
from firmware.core import events as ev
from firmware.core.reservations import Reservation
from firmware.core.timers import ReservationExpiry
from tests.core.harness import Entry, Harness

HOUR_S = 3600.0
LOCAL = {"LocalPreAuthorize": "true"}  # list entries start at once ([16] §9.1.19)


def reserve(h: Harness, connector_id: int = 1, tag: str = "HOLDER01", *,
            reservation_id: int = 7, expires_in_s: float = HOUR_S,
            parent: str | None = None) -> tuple[str, list[fx.Effect]]:
    out = h.handle(ev.ReservationRequested(h.ref(), reservation_id, connector_id, tag,
                                           h.now + expires_in_s, parent))
    return h.reply(out)["status"], out


def test_an_accepted_reservation_reports_reserved_persists_and_arms_its_expiry():
    h = Harness()
    h.boot()
    status, out = reserve(h)
    assert status == "Accepted"
    assert h.status() == "Reserved"
    assert h.statuses_sent()[-1] == "Reserved"
    assert fx.StartTimer(ReservationExpiry(7), HOUR_S) in out
    [persisted] = h.of(fx.PersistReservations, out)
    assert persisted.reservations == (Reservation(7, 1, "HOLDER01", h.now + HOUR_S),)


def test_the_holder_starts_and_the_start_carries_the_reservation_id():
    """[16] §4.8: StartTransaction MUST carry reservationId when it ends a reservation."""
    h = Harness()
    h.boot()
    reserve(h)
    h.pilot("B")
    h.tap("HOLDER01")
    h.answer_authorize()
    start = h.last(fx.SendTransactionStarted)
    assert start.reservation_id == 7
    assert h.station.reservations.all() == ()
    assert h.last(fx.PersistReservations).reservations == ()
    assert fx.CancelTimer(ReservationExpiry(7)) in h.log
    assert not h.of(fx.SendReservationEnded)   # ended by its use: no expiry/removal fact


def test_another_driver_cannot_start_on_a_reserved_connector():
    h = Harness(config=LOCAL)
    h.boot()
    reserve(h)
    h.pilot("B")                      # someone else's car plugged in: still Reserved
    assert h.status() == "Reserved"
    out = h.tap("STRANGER", list_entry=Entry("STRANGER"))
    assert not h.of(fx.SendTransactionStarted, out)
    assert h.status() == "Reserved"
    assert [d.why for d in h.of(fx.RecordDecision, out)] == ["no-free-connector"]


def test_a_member_of_the_reservations_parent_group_may_start():
    h = Harness(config=LOCAL)
    h.boot()
    reserve(h, tag="HOLDER01", parent="FLEET")
    h.pilot("B")
    h.tap("DRIVER02", list_entry=Entry("DRIVER02", parent_id_tag="FLEET"))
    assert h.last(fx.SendTransactionStarted).reservation_id == 7


def test_a_token_of_another_group_is_refused_after_the_csms_names_its_parent():
    h = Harness()
    h.boot()
    reserve(h, tag="HOLDER01", parent="FLEET")
    h.pilot("B")
    h.tap("DRIVER03")                 # unknown locally: the CSMS is asked
    out = h.answer_authorize(parent="OTHERS")
    assert not h.of(fx.SendTransactionStarted, out)
    assert [d.why for d in h.of(fx.RecordDecision, out)] == ["reserved"]
    assert h.status() == "Reserved"


def test_a_reserved_connector_leaves_the_other_one_to_everyone():
    h = Harness(connectors=2, config=LOCAL)
    h.boot()
    reserve(h, connector_id=1)
    h.pilot("B", connector_id=2)
    h.tap("STRANGER", list_entry=Entry("STRANGER"))
    assert h.last(fx.SendTransactionStarted).connector_id == 2


def test_the_holder_tapping_first_gets_its_reserved_connector():
    h = Harness(connectors=2, config=LOCAL)
    h.boot()
    reserve(h, connector_id=2)
    h.tap("HOLDER01", list_entry=Entry("HOLDER01"))
    h.pilot("B", connector_id=2)
    start = h.last(fx.SendTransactionStarted)
    assert (start.connector_id, start.reservation_id) == (2, 7)


def test_expiry_ends_the_reservation_and_says_so():
    h = Harness()
    h.boot()
    reserve(h)
    h.advance(HOUR_S)
    out = h.handle(ev.TimerFired(ReservationExpiry(7)))
    assert fx.SendReservationEnded(7, "Expired") in out
    assert h.status() == "Available"
    assert h.last(fx.PersistReservations).reservations == ()


def test_an_expiry_timer_early_after_the_clock_was_set_back_waits_again():
    h = Harness()
    h.boot()
    reserve(h)
    h.advance(HOUR_S - 600)
    out = h.handle(ev.TimerFired(ReservationExpiry(7)))
    assert out.count(fx.StartTimer(ReservationExpiry(7), 600.0)) == 1
    assert h.status() == "Reserved"


def test_a_clock_step_rearms_the_expiry_from_the_wall_clock():
    h = Harness()
    h.boot()
    reserve(h)
    h.advance(1800)
    out = h.handle(ev.ClockStepped(1800.0))
    assert fx.StartTimer(ReservationExpiry(7), 1800.0) in out


def test_cancel_reservation_frees_the_connector_and_unknown_ids_are_rejected():
    h = Harness()
    h.boot()
    reserve(h)
    out = h.handle(ev.ReservationCancelRequested(h.ref(), 99))
    assert h.reply(out) == {"status": "Rejected"} and h.status() == "Reserved"
    out = h.handle(ev.ReservationCancelRequested(h.ref(), 7))
    assert h.reply(out) == {"status": "Accepted"}
    assert fx.SendReservationEnded(7, "Removed") in out
    assert h.status() == "Available"


def test_the_same_reservation_id_replaces_the_reservation():
    h = Harness(connectors=2)
    h.boot()
    reserve(h, connector_id=1, tag="HOLDER01")
    status, _ = reserve(h, connector_id=2, tag="HOLDER02")
    assert status == "Accepted"
    assert h.status(1) == "Available" and h.status(2) == "Reserved"
    assert [r.id_tag for r in h.station.reservations.all()] == ["HOLDER02"]


def test_a_refused_replacement_leaves_the_old_reservation_standing():
    h = Harness(connectors=2)
    h.boot()
    reserve(h, connector_id=1)
    h.pilot("B", connector_id=2)
    status, out = reserve(h, connector_id=2, tag="HOLDER02")
    assert status == "Occupied"
    assert not h.of(fx.PersistReservations, out)
    assert h.status(1) == "Reserved"
    assert [r.connector_id for r in h.station.reservations.all()] == [1]


def test_answers_for_occupied_faulted_unavailable_unknown_and_past_expiry():
    h = Harness(connectors=3)
    h.boot()
    h.start_session(connector_id=1)
    assert reserve(h, connector_id=1, reservation_id=1)[0] == "Occupied"
    h.handle(ev.HardwareFaultChanged(2, "contactor", True))
    assert reserve(h, connector_id=2, reservation_id=2)[0] == "Faulted"
    h.handle(ev.AvailabilityChangeRequested(h.ref(), 3, "Inoperative"))
    assert reserve(h, connector_id=3, reservation_id=3)[0] == "Unavailable"
    assert reserve(h, connector_id=9, reservation_id=4)[0] == "Rejected"
    h.handle(ev.AvailabilityChangeRequested(h.ref(), 3, "Operative"))
    assert reserve(h, connector_id=3, reservation_id=5, expires_in_s=-1)[0] == "Rejected"
    assert reserve(h, connector_id=3, reservation_id=6)[0] == "Accepted"
    assert reserve(h, connector_id=3, reservation_id=8, tag="SECOND01")[0] == "Occupied"


def test_a_connector_that_faults_or_goes_unavailable_loses_its_reservation():
    h = Harness(connectors=2)
    h.boot()
    reserve(h, connector_id=1, reservation_id=1)
    reserve(h, connector_id=2, reservation_id=2, tag="HOLDER02")
    out = h.handle(ev.HardwareFaultChanged(1, "contactor", True))
    assert fx.SendReservationEnded(1, "Removed") in out
    out = h.handle(ev.AvailabilityChangeRequested(h.ref(), 2, "Inoperative"))
    assert fx.SendReservationEnded(2, "Removed") in out
    assert h.station.reservations.all() == ()


def test_connector_zero_keeps_a_connector_free_for_its_holder():
    """ReserveConnectorZeroSupported: any connector; the others may not take the last."""
    h = Harness(connectors=2, config=LOCAL)
    h.boot()
    assert reserve(h, connector_id=0)[0] == "Accepted"
    assert h.status(1) == "Available" and h.status(2) == "Available"
    h.pilot("B", connector_id=1)
    h.tap("STRANGER1", list_entry=Entry("STRANGER1"))
    assert h.last(fx.SendTransactionStarted).connector_id == 1      # one left for the holder
    h.pilot("B", connector_id=2)
    out = h.tap("STRANGER2", list_entry=Entry("STRANGER2"))
    assert not h.of(fx.SendTransactionStarted, out)
    assert [d.why for d in h.of(fx.RecordDecision, out)] == ["reserved"]
    h.tap("HOLDER01", list_entry=Entry("HOLDER01"))
    start = h.last(fx.SendTransactionStarted)
    assert (start.connector_id, start.reservation_id) == (2, 7)


def test_connector_zero_is_rejected_when_not_supported_and_occupied_when_all_are_taken():
    h = Harness(config={"ReserveConnectorZeroSupported": "false"})
    h.boot()
    assert reserve(h, connector_id=0)[0] == "Rejected"
    h2 = Harness()
    h2.boot()
    h2.start_session()
    assert reserve(h2, connector_id=0)[0] == "Occupied"


def test_remote_start_for_another_driver_on_a_reserved_connector_is_rejected():
    h = Harness()
    h.boot()
    reserve(h)
    out = h.handle(ev.RemoteStartRequested(h.ref(), "STRANGER", 1))
    assert h.reply(out) == {"status": "Rejected"}
    out = h.handle(ev.RemoteStartRequested(h.ref(), "HOLDER01", 1))
    assert h.reply(out) == {"status": "Accepted"}
    h.pilot("B")
    assert h.last(fx.SendTransactionStarted).reservation_id == 7


def test_reservations_survive_a_restart_and_one_expired_meanwhile_ends_at_start():
    h = Harness(connectors=2)
    h.boot()
    reserve(h, connector_id=1, reservation_id=1, expires_in_s=600)
    reserve(h, connector_id=2, reservation_id=2, tag="HOLDER02", expires_in_s=7200)
    saved = list(h.last(fx.PersistReservations).reservations)
    restarted = Harness(connectors=2)
    restarted.now = h.now + 3600
    from firmware.core.configuration import Configuration
    from firmware.core.connector import Connector
    from firmware.core.station import Station
    restarted.station = Station([Connector(1, 32.0), Connector(2, 32.0)],
                                Configuration.initial({}, {}, {"NumberOfConnectors": "2"}),
                                reservations=saved)
    out = restarted.handle(ev.AgentStarted())
    assert fx.SendReservationEnded(1, "Expired") in out
    assert fx.StartTimer(ReservationExpiry(2), 3600.0) in out
    assert restarted.status(1) == "Available" and restarted.status(2) == "Reserved"


def test_no_reservation_once_a_reset_was_accepted():
    h = Harness()
    h.boot()
    h.handle(ev.ResetRequested(h.ref(), "Soft"))
    assert reserve(h)[0] == "Rejected"
