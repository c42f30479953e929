"""Smart charging over the wire (OCPP 1.6 SmartCharging profile, issue #10): a profile
from an independent CSMS reaches the pilot, GetCompositeSchedule answers what applies,
ClearChargingProfile lifts it, and installed profiles survive a restart ([E16] 3.37)."""

from ocpp.v16 import call

from tests.integration.agent import running_agent, write_site
from tests.integration.test_csms_requests import STATION, charging

TX_DEFAULT_10A = {"chargingProfileId": 7, "stackLevel": 0,
                  "chargingProfilePurpose": "TxDefaultProfile",
                  "chargingProfileKind": "Relative",
                  "chargingSchedule": {"chargingRateUnit": "A", "chargingSchedulePeriod": [
                      {"startPeriod": 0, "limit": 10.0}]}}


async def test_a_tx_default_profile_is_applied_reported_cleared_and_kept(csms, tmp_path):
    site = write_site(tmp_path, csms.url)
    async with running_agent(site) as cp:
        await csms.wait_for("StatusNotification", timeout_s=10)
        await charging(csms, cp)
        sim = cp.agent.board.sim.connectors[1]
        reply = await csms.call(STATION, call.SetChargingProfile(
            connector_id=1, cs_charging_profiles=TX_DEFAULT_10A))
        assert reply == {"status": "Accepted"}
        await cp.until(lambda: sim.offer_a == 10.0)
        composite = await csms.call(STATION, call.GetCompositeSchedule(
            connector_id=1, duration=600, charging_rate_unit="A"))
        assert composite["status"] == "Accepted"
        assert composite["chargingSchedule"]["chargingSchedulePeriod"] == [
            {"startPeriod": 0, "limit": 10.0, "numberPhases": 3}]
        assert "startSchedule" not in composite["chargingSchedule"]        # [E16] 3.57
        bad = dict(TX_DEFAULT_10A, chargingSchedule={
            "chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 60,
                                                                 "limit": 6.0}]})
        assert await csms.call(STATION, call.SetChargingProfile(
            connector_id=1, cs_charging_profiles=bad)) == {"status": "Rejected"}  # [E16] 3.45
        assert await csms.call(STATION, call.SetChargingProfile(
            connector_id=1, cs_charging_profiles=dict(TX_DEFAULT_10A, chargingProfileId=8,
                                                      chargingProfilePurpose="TxProfile",
                                                      transactionId=424242))) == {
            "status": "Rejected"}
    mark = csms.mark()
    async with running_agent(site) as cp:                                # restart
        await csms.wait_for("StatusNotification", after=mark, timeout_s=10)
        assert [p.profile_id for p in cp.station.profiles] == [7]
        reply = await csms.call(STATION, call.ClearChargingProfile(id=7))
        assert reply == {"status": "Accepted"}
        assert await csms.call(STATION, call.ClearChargingProfile(id=7)) == {"status": "Unknown"}
        assert cp.station.profiles == []


async def test_console_status_shows_the_offer_and_the_limit_with_its_profile(csms, tmp_path):
    """Issue 10 item 2: the console's status names the active limit and which profile
    set it."""
    site = write_site(tmp_path, csms.url)
    async with running_agent(site) as cp:
        await csms.wait_for("StatusNotification", timeout_s=10)
        await charging(csms, cp)
        sim = cp.agent.board.sim.connectors[1]
        assert await csms.call(STATION, call.SetChargingProfile(
            connector_id=1, cs_charging_profiles=TX_DEFAULT_10A)) == {"status": "Accepted"}
        await cp.until(lambda: sim.offer_a == 10.0)
        [line] = [line for line in await cp.console("status") if line.startswith("connector 1")]
        assert "offer=10A" in line and "limit=10A(TxDefault#7)" in line, line


async def test_a_controller_that_refuses_offers_withholds_energy_and_recovers(csms, tmp_path):
    """Issue 10 item 2: a failed offer is an event, not a log line: the connector reports
    EVCommunicationError/OfferFailed, the contactor opens, and the offer is retried."""
    site = write_site(tmp_path, csms.url)
    async with running_agent(site) as cp:
        await csms.wait_for("StatusNotification", timeout_s=10)
        await charging(csms, cp)
        sim = cp.agent.board.sim.connectors[1]
        await cp.console("sim fault 1 pilot-refuses-offers")
        assert await csms.call(STATION, call.SetChargingProfile(
            connector_id=1, cs_charging_profiles=TX_DEFAULT_10A)) == {"status": "Accepted"}
        faulted = await csms.wait_for(
            "StatusNotification", timeout_s=10,
            predicate=lambda f: f.payload.get("vendorErrorCode") == "OfferFailed")
        assert faulted.payload["errorCode"] == "EVCommunicationError"
        await cp.until(lambda: not sim.coil_on)
        await cp.console("sim fault 1 clear")
        await cp.until(lambda: sim.offer_a == 10.0 and sim.coil_on, timeout_s=20)
