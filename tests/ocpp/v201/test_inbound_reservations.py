"""2.0.1 block H through ``V201InboundDispatcher`` and a real core Station (rules §7:
ReserveNow Accepted / Faulted / Occupied / Rejected / Unavailable, same id replaces,
no evseId = any EVSE, CancelReservation, ReservationStatusUpdate on expiry), and the
outbound half: ReservationStatusUpdate and TransactionEvent.reservationId."""

import pytest

from firmware.core import effects as fx
from firmware.core import events as ev
from firmware.core.timers import ReservationExpiry
from firmware.ocpp.mapping import StationInfo, format_time
from firmware.ocpp.v201 import outbound
from firmware.ocpp.v201.schemas import payload_problem

TOKEN = {"idToken": "HOLDER01", "type": "ISO14443"}


def reserve(rig, reservation_id=3, **extra):
    return {"id": reservation_id, "expiryDateTime": format_time(rig.harness.now + 3600),
            "idToken": TOKEN, **extra}


async def test_reserve_now_on_an_evse_reports_reserved_h01(rig):
    rig.boot()
    assert await rig.result("ReserveNow", reserve(rig, evseId=1)) == {"status": "Accepted"}
    assert rig.station.connectors[1].status() == "Reserved"
    [status] = [e for e in rig.harness.log if isinstance(e, fx.SendConnectorStatus)
                and e.connector_id == 1 and e.status == "Reserved"]
    assert outbound.to_call(status, StationInfo("Borne", "Pi"))[1]["connectorStatus"] == \
        "Reserved"


async def test_reserve_now_without_evse_is_station_wide_and_group_tokens_match(rig):
    rig.boot()
    assert await rig.result("ReserveNow", reserve(rig, groupIdToken={
        "idToken": "FLEET", "type": "Central"})) == {"status": "Accepted"}
    [reservation] = rig.station.reservations.all()
    assert (reservation.connector_id, reservation.parent_id_tag) == (0, "FLEET")


async def test_occupied_and_cancel(rig):
    rig.boot()
    rig.start_session(1)
    assert await rig.result("ReserveNow", reserve(rig, evseId=1)) == {"status": "Occupied"}
    assert await rig.result("ReserveNow", reserve(rig, 4, evseId=2)) == {"status": "Accepted"}
    assert await rig.result("CancelReservation", {"reservationId": 99}) == {
        "status": "Rejected"}
    assert await rig.result("CancelReservation", {"reservationId": 4}) == {
        "status": "Accepted"}
    assert rig.station.reservations.all() == ()


@pytest.mark.parametrize("extra, reason", [
    ({"evseId": 0}, "UnknownEvse"),
    ({"evseId": 1, "connectorType": "cType2"}, "UnknownConnectorType"),
    ({"idToken": {"idToken": "X" * 21, "type": "Central"}}, "InvalidIdToken"),
    ({"groupIdToken": {"idToken": "G" * 21, "type": "Central"}}, "InvalidIdToken"),
])
async def test_reserve_now_refused_before_the_core(rig, extra, reason):
    rig.boot()
    answer = await rig.result("ReserveNow", {**reserve(rig), **extra})
    assert answer["status"] == "Rejected"
    assert answer["statusInfo"]["reasonCode"] == reason
    assert rig.untouched()


async def test_a_reserve_now_breaking_the_schema_is_a_callerror_and_reaches_nothing(rig):
    rig.boot()
    assert await rig.error("ReserveNow", {"id": "three", "idToken": TOKEN,
                                          "expiryDateTime": "soon"}) in (
        "TypeConstraintViolation", "FormatViolation")
    assert rig.untouched()


def test_an_expired_reservation_is_a_valid_reservation_status_update_h04():
    action, payload = outbound.to_call(fx.SendReservationEnded(3, "Expired"),
                                       StationInfo("Borne", "Pi"))
    assert (action, payload) == ("ReservationStatusUpdate", {
        "reservationId": 3, "reservationUpdateStatus": "Expired"})
    assert payload_problem(action, "Request", payload) is None


async def test_the_holders_started_event_carries_the_reservation_id(rig):
    rig.boot()
    await rig.result("ReserveNow", reserve(rig, evseId=1))
    h = rig.harness
    h.pilot("B", 1)
    h.handle(ev.CardPresented("HOLDER01", "test", connector_id=1))
    h.answer_authorize()
    start = h.last(fx.SendTransactionStarted)
    assert start.reservation_id == 3
    context = outbound.TransactionContext(transaction_id="1-1")
    action, payload = outbound.to_call(start, StationInfo("Borne", "Pi"), context)
    assert payload["reservationId"] == 3
    assert payload_problem(action, "Request", payload) is None
    assert fx.CancelTimer(ReservationExpiry(3)) in h.log
