"""Reservations over the wire ([16] §5.13; issue 10 item 3): ReserveNow from the CSMS,
the Reserved status, the holder's StartTransaction carrying the reservationId, a
stranger refused, CancelReservation, and a reservation surviving a restart."""

from datetime import datetime, timedelta, timezone

from ocpp.v16 import call

from tests.integration.agent import running_agent, write_site

STATION = "CP-IT"


def in_(seconds: float) -> str:
    moment = datetime.now(timezone.utc) + timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_reserve_now_holds_the_connector_for_its_holder_across_a_restart(csms, tmp_path):
    site = write_site(tmp_path, csms.url)
    async with running_agent(site):
        await csms.wait_for("StatusNotification", timeout_s=10)
        mark = csms.mark()
        reply = await csms.call(STATION, call.ReserveNow(
            connector_id=1, expiry_date=in_(3600), id_tag="0401D001", reservation_id=42))
        assert reply == {"status": "Accepted"}
        await csms.wait_for("StatusNotification", lambda f: f.payload["connectorId"] == 1
                            and f.payload["status"] == "Reserved", after=mark, timeout_s=5)
        again = await csms.call(STATION, call.ReserveNow(
            connector_id=1, expiry_date=in_(3600), id_tag="0402D002", reservation_id=43))
        assert again == {"status": "Occupied"}
        zero_key = await csms.call(STATION, call.GetConfiguration(
            key=["ReserveConnectorZeroSupported", "SupportedFeatureProfiles"]))
        values = {k["key"]: k["value"] for k in zero_key["configurationKey"]}
        assert values["ReserveConnectorZeroSupported"] == "true"
        assert "Reservation" in values["SupportedFeatureProfiles"].split(",")
    async with running_agent(site) as cp:   # restarted: the reservation is still there
        mark = csms.mark()
        await csms.wait_for("StatusNotification", lambda f: f.payload["connectorId"] == 1
                            and f.payload["status"] == "Reserved", after=mark, timeout_s=10)
        [line] = [x for x in await cp.console("status") if x.startswith("connector 1")]
        assert line.startswith("connector 1: Reserved") and "reserved=42 for=" in line
        assert "0401D001" not in line                       # idTags are masked
        await cp.console("sim plug 1")
        await cp.console("sim tap 0403D003")
        await cp.console("sim tap 0401D001")
        start = await csms.wait_for("StartTransaction", after=mark, timeout_s=10)
        assert start.payload["idTag"] == "0401D001"
        assert start.payload["reservationId"] == 42
        assert not [f for f in csms.frames if f.seq >= mark and f.action == "StartTransaction"
                    and f.payload["idTag"] == "0403D003"]
    assert csms.violations == []


async def test_cancel_reservation_and_bad_requests(csms, tmp_path):
    async with running_agent(write_site(tmp_path, csms.url)):
        await csms.wait_for("StatusNotification", timeout_s=10)
        assert await csms.call(STATION, call.ReserveNow(
            connector_id=1, expiry_date=in_(600), id_tag="0401D001", reservation_id=5)) == {
            "status": "Accepted"}
        assert await csms.call(STATION, call.CancelReservation(reservation_id=6)) == {
            "status": "Rejected"}
        mark = csms.mark()
        assert await csms.call(STATION, call.CancelReservation(reservation_id=5)) == {
            "status": "Accepted"}
        await csms.wait_for("StatusNotification", lambda f: f.payload["status"] == "Available",
                            after=mark, timeout_s=5)
        assert await csms.call(STATION, call.ReserveNow(
            connector_id=1, expiry_date=in_(-60), id_tag="0401D001", reservation_id=7)) == {
            "status": "Rejected"}                                  # already expired
        assert await csms.call(STATION, call.ReserveNow(
            connector_id=9, expiry_date=in_(60), id_tag="0401D001", reservation_id=8)) == {
            "status": "Rejected"}                                  # no such connector
